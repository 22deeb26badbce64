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

-- name: AgentLockForHeartbeat :one
-- AgentLockForHeartbeat locks an agent's row for the heartbeat being applied and returns its
-- status and last heartbeat.
SELECT status, last_heartbeat
FROM agents
WHERE id = @id
FOR UPDATE;

-- name: AgentUpsertFromHeartbeat :one
-- AgentUpsertFromHeartbeat inserts a new agent as ALIVE, or updates a known one from its
-- heartbeat and makes it ALIVE again (clearing lost_at and stamping status_changed when it was
-- not ALIVE). A heartbeat older than the last one applied changes nothing and returns no row.
INSERT INTO agents (id, status, status_changed, region, scaling_group, addr, first_contact,
                    last_heartbeat, last_seen, version, architecture)
VALUES (@id, 'ALIVE', @now, @region, @scaling_group, @addr, @now, @heartbeat, @now, @version, @architecture)
ON CONFLICT (id) DO UPDATE SET
    last_seen = EXCLUDED.last_seen,
    addr = EXCLUDED.addr,
    region = EXCLUDED.region,
    scaling_group = EXCLUDED.scaling_group,
    version = EXCLUDED.version,
    architecture = EXCLUDED.architecture,
    last_heartbeat = EXCLUDED.last_heartbeat,
    status = 'ALIVE',
    status_changed = CASE WHEN agents.status <> 'ALIVE' THEN EXCLUDED.status_changed ELSE agents.status_changed END,
    lost_at = CASE WHEN agents.status <> 'ALIVE' THEN NULL ELSE agents.lost_at END
WHERE agents.last_heartbeat IS NULL OR agents.last_heartbeat <= EXCLUDED.last_heartbeat
RETURNING id, status, first_contact, last_heartbeat;

-- name: AgentSlotUpsertCapacity :one
-- AgentSlotUpsertCapacity sets the capacity of one slot of an agent, inserting the slot with
-- nothing occupied when it is new. The capacity never drops below what is occupied, so the
-- returned capacity exceeds the reported one when the agent shrank under its kernels.
INSERT INTO agent_slots (agent_id, slot, slot_type, capacity)
VALUES (@agent_id, @slot, @slot_type, @capacity)
ON CONFLICT (agent_id, slot) DO UPDATE SET
    slot_type = EXCLUDED.slot_type,
    capacity = GREATEST(EXCLUDED.capacity, agent_slots.occupied)
RETURNING slot, capacity, occupied;

-- name: AgentSlotRetireUnreported :many
-- AgentSlotRetireUnreported shrinks the slots of an agent that its heartbeat no longer
-- reports to what is occupied (zero when unused) and returns the slots it changed.
UPDATE agent_slots
SET capacity = occupied
WHERE agent_id = @agent_id
  AND NOT (slot = ANY(@slots::text[]))
  AND capacity <> occupied
RETURNING slot, capacity, occupied;

-- name: AgentGet :one
-- AgentGet returns one agent's row.
SELECT *
FROM agents
WHERE id = @id;

-- name: AgentSlotListByAgent :many
-- AgentSlotListByAgent returns the slots of one agent ordered by name.
SELECT *
FROM agent_slots
WHERE agent_id = @agent_id
ORDER BY slot;
