-- name: AgentSlotNamesAlive :many
-- AgentSlotNamesAlive lists the slot names reported by ALIVE, schedulable agents of a scaling
-- group.
SELECT DISTINCT s.slot
FROM agent_slots s
JOIN agents a ON a.id = s.agent_id
WHERE a.status = 'ALIVE' AND a.schedulable AND a.scaling_group = @scaling_group
ORDER BY s.slot;

-- name: AgentSlotListAliveInScalingGroups :many
-- AgentSlotListAliveInScalingGroups returns the capacity and occupancy of every slot of the
-- ALIVE, schedulable agents in the given scaling groups, ordered by agent.
SELECT a.id AS agent_id, a.scaling_group, s.slot, s.capacity, s.occupied
FROM agents a
JOIN agent_slots s ON s.agent_id = a.id
WHERE a.status = 'ALIVE' AND a.schedulable AND a.scaling_group = ANY(@scaling_groups::text[])
ORDER BY a.id, s.slot;
