-- name: SessionAdmissionAgentSlots :many
-- SessionAdmissionAgentSlots lists the slot capacities of the ALIVE, schedulable agents of a
-- scaling group with their architecture, ordered by agent, for the create-time check that
-- some agent could ever host a request.
SELECT a.id AS agent_id, a.architecture, s.slot, s.slot_type, s.capacity::text AS capacity
FROM agents a
JOIN agent_slots s ON s.agent_id = a.id
WHERE a.status = 'ALIVE' AND a.schedulable AND a.scaling_group = @scaling_group
ORDER BY a.id, s.slot;

-- name: SessionAdmissionPendingCount :one
-- SessionAdmissionPendingCount counts the PENDING sessions of an access key.
SELECT count(*)::bigint FROM sessions WHERE access_key = @access_key AND status = 'PENDING';

-- name: SessionAdmissionLock :exec
-- SessionAdmissionLock serializes the creates of one access key until the transaction ends,
-- so that its pending-session cap holds under concurrent creates.
SELECT pg_advisory_xact_lock(hashtext('session-admission:' || @access_key::text));
