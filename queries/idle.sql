-- name: IdleCandidates :many
-- IdleCandidates lists the RUNNING sessions the idle checkers look at (every type but
-- INFERENCE) with what the checkers need: when the session was created, became RUNNING and
-- was last accessed, its type and slots, its owner's creation time and its keypair policy.
SELECT s.id, s.name, s.session_type::text AS session_type, s.created_at, s.status_changed AS running_since,
       s.last_access_at, s.occupying_slots, u.created_at AS user_created_at,
       p.idle_timeout, p.max_session_lifetime
FROM sessions s
JOIN keypairs kp ON kp.access_key = s.access_key
JOIN keypair_resource_policies p ON p.name = kp.resource_policy
JOIN users u ON u.uuid = s.user_uuid
WHERE s.status = 'RUNNING' AND s.session_type <> 'INFERENCE'
ORDER BY s.id;

-- name: IdleUtilizationAverages :many
-- IdleUtilizationAverages returns, for each given session and its window start (since[i] is
-- the window start of session_ids[i]), the average
-- of each metric over the samples its RUNNING kernels reported after the window start and
-- up to now.
SELECT w.session_id::uuid AS session_id, m.key::text AS metric,
       avg(m.value::float8)::float8 AS average, count(*)::bigint AS samples
FROM unnest(@session_ids::uuid[]) WITH ORDINALITY AS w(session_id, ord)
JOIN kernels k ON k.session_id = w.session_id AND k.status = 'RUNNING'
JOIN kernel_utilization ku ON ku.kernel_id = k.id
    AND ku.at > (@since::timestamptz[])[w.ord] AND ku.at <= @now::timestamptz
CROSS JOIN LATERAL jsonb_each_text(ku.metrics) AS m(key, value)
WHERE m.value ~ '^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$'
GROUP BY w.session_id, m.key
ORDER BY w.session_id, m.key;

-- name: IdleUtilizationPrune :execrows
-- IdleUtilizationPrune deletes the utilization samples taken before a cutoff.
DELETE FROM kernel_utilization WHERE at < @before;

-- name: KernelUtilizationInsert :execrows
-- KernelUtilizationInsert stores one heartbeat's utilization samples: samples maps kernel
-- ids (valid UUIDs; the caller drops others) to metric objects; only the agent's RUNNING
-- kernels are kept, and a sample already
-- stored for the same kernel and time (a redelivered heartbeat) is skipped.
INSERT INTO kernel_utilization (kernel_id, at, metrics)
SELECT k.id, @at::timestamptz, u.value
FROM jsonb_each(@samples::jsonb) AS u
JOIN kernels k ON k.id = u.key::uuid
WHERE k.agent = @agent_id::text AND k.status = 'RUNNING' AND jsonb_typeof(u.value) = 'object'
ON CONFLICT (kernel_id, at) DO NOTHING;

-- name: SessionTouch :execrows
-- SessionTouch records an access to a RUNNING session at now, unless one was recorded after
-- throttle_before (now minus a second: bursts of calls write once).
UPDATE sessions SET last_access_at = @now
WHERE id = @id AND status = 'RUNNING'
  AND (last_access_at IS NULL OR last_access_at < @throttle_before);
