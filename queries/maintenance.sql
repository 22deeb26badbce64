-- Queries of the maintenance sweeps: lost agents, kernel reconciliation, hang tolerance and
-- usage recalculation (jobs/maintenance/sweep.go, internal/usage).

-- name: AgentMarkLost :many
-- AgentMarkLost marks LOST every ALIVE agent not seen since the cutoff and returns them.
UPDATE agents
SET status = 'LOST', status_changed = sqlc.arg(now)::timestamptz, lost_at = sqlc.arg(now)::timestamptz
WHERE status = 'ALIVE' AND COALESCE(last_seen, first_contact) < sqlc.arg(cutoff)::timestamptz
RETURNING id;

-- name: AgentLostCheckRun :one
-- AgentLostCheckRun records a run of the lost-agent check at now and returns since when the
-- check has run without a gap longer than max_gap_seconds (NULL: no gap since its first run).
-- A run after a longer gap starts the count again at now.
INSERT INTO maintenance_state AS m (name, last_run, listening_since)
VALUES ('agent-lost-check', sqlc.arg(now)::timestamptz, NULL)
ON CONFLICT (name) DO UPDATE SET
    listening_since = CASE
        WHEN m.last_run < sqlc.arg(now)::timestamptz - make_interval(secs => sqlc.arg(max_gap_seconds)::float8)
        THEN sqlc.arg(now)::timestamptz
        ELSE m.listening_since END,
    last_run = GREATEST(m.last_run, sqlc.arg(now)::timestamptz)
RETURNING listening_since;

-- name: KernelsLiveOnLostAgents :many
-- KernelsLiveOnLostAgents lists the kernels that have not ended on agents that are LOST or
-- TERMINATED, with their sessions.
SELECT k.id, k.session_id, k.agent::text AS agent
FROM kernels k
JOIN agents a ON a.id = k.agent
WHERE a.status IN ('LOST', 'TERMINATED')
  AND k.status NOT IN ('TERMINATED', 'CANCELLED', 'ERROR')
ORDER BY k.session_id, k.id
LIMIT sqlc.arg(max_rows)::int;

-- name: KernelsLiveOnAgent :many
-- KernelsLiveOnAgent lists the kernels of an agent that have not ended, with their status and
-- when it last changed.
SELECT id, session_id, status::text AS status, status_changed
FROM kernels
WHERE agent = sqlc.arg(agent_id) AND status NOT IN ('TERMINATED', 'CANCELLED', 'ERROR');

-- name: KernelsEndedAmong :many
-- KernelsEndedAmong returns which of the given kernel ids (text; not all may be UUIDs) of an
-- agent the manager does not count as live: ids it has never heard of (or placed on another
-- agent), and kernels that ended before the cutoff.
SELECT x.id::text AS id
FROM unnest(sqlc.arg(ids)::text[]) AS x(id)
LEFT JOIN kernels k ON k.id::text = x.id AND k.agent = sqlc.arg(agent_id)
WHERE k.id IS NULL
   OR (k.status IN ('TERMINATED', 'CANCELLED', 'ERROR') AND k.status_changed < sqlc.arg(cutoff)::timestamptz);

-- name: AgentGetAddr :one
-- AgentGetAddr returns an agent's status and RPC address.
SELECT status::text AS status, addr FROM agents WHERE id = sqlc.arg(id);

-- name: SessionsHung :many
-- SessionsHung lists the sessions whose status has not changed since the cutoff given for
-- that status (cutoffs: a JSON object of status → ISO 8601 time).
SELECT s.id, s.status::text AS status
FROM sessions s
JOIN jsonb_each_text(sqlc.arg(cutoffs)::jsonb) AS t(status, cutoff)
  ON s.status::text = t.status
WHERE s.status_changed < t.cutoff::timestamptz
ORDER BY s.status_changed
LIMIT sqlc.arg(max_rows)::int;

-- name: UsageLockAgentSlots :exec
-- UsageLockAgentSlots locks every agent slot row, in a fixed order, for a recalculation.
SELECT 1 FROM agent_slots ORDER BY agent_id, slot FOR UPDATE;

-- name: UsageDrift :many
-- UsageDrift compares each agent slot's occupied amount with the sum of the occupied slots of
-- the kernels reserved on it, and returns the rows that differ.
WITH expected AS (
    SELECT k.agent AS agent_id, e.key AS slot, sum(e.value::numeric) AS amount
    FROM kernels k, jsonb_each_text(k.occupied_slots) AS e(key, value)
    WHERE k.slots_reserved AND k.agent IS NOT NULL
    GROUP BY k.agent, e.key
)
SELECT s.agent_id, s.slot, s.occupied AS recorded, COALESCE(x.amount, 0)::numeric AS expected
FROM agent_slots s
LEFT JOIN expected x ON x.agent_id = s.agent_id AND x.slot = s.slot
WHERE s.occupied <> COALESCE(x.amount, 0)
ORDER BY s.agent_id, s.slot;

-- name: UsageMissingSlots :many
-- UsageMissingSlots lists kernel reservations on slots the agent does not have a row for.
SELECT k.agent::text AS agent_id, e.key::text AS slot, sum(e.value::numeric)::numeric AS amount
FROM kernels k, jsonb_each_text(k.occupied_slots) AS e(key, value)
WHERE k.slots_reserved AND k.agent IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM agent_slots s WHERE s.agent_id = k.agent AND s.slot = e.key)
GROUP BY k.agent, e.key;

-- name: UsageSetOccupied :exec
-- UsageSetOccupied sets an agent slot's occupied amount.
UPDATE agent_slots SET occupied = sqlc.arg(amount)::numeric
WHERE agent_id = sqlc.arg(agent_id) AND slot = sqlc.arg(slot);
