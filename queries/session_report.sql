-- Reports on one session: its status history and the sessions it depends on.

-- name: SessionStatusHistoryGet :one
-- SessionStatusHistoryGet returns a session's status history ({STATUS: timestamp}).
SELECT status_history FROM sessions WHERE id = @id;

-- name: SessionDependencyClosure :many
-- SessionDependencyClosure lists a session and every session it depends on, directly or not
-- (at most 1000), each with the status of its main kernel (the session's when it has no
-- kernel) and the sessions it depends on directly.
WITH RECURSIVE reach (id) AS (
    SELECT @root::uuid
    UNION
    SELECT d.depends_on FROM session_dependencies d JOIN reach r ON d.session_id = r.id
)
SELECT s.id, s.name,
       COALESCE(k.status::text, s.status::text)::text AS status,
       COALESCE(k.status_changed, s.status_changed) AS status_changed,
       COALESCE((SELECT array_agg(d.depends_on ORDER BY d.depends_on)
                 FROM session_dependencies d WHERE d.session_id = s.id), '{}')::uuid[] AS depends_on
FROM reach r
JOIN sessions s ON s.id = r.id
LEFT JOIN LATERAL (
    SELECT kk.status, kk.status_changed FROM kernels kk
    WHERE kk.session_id = s.id
    ORDER BY (kk.cluster_role = 'main') DESC, kk.cluster_idx
    LIMIT 1
) k ON true
LIMIT 1000;

-- name: SessionMainKernelLastSample :one
-- SessionMainKernelLastSample returns the latest utilization sample of a session's main kernel
-- (percentages by metric) with the kernel's occupied slots; no row when there is none.
SELECT k.id, k.occupied_slots, ku.metrics, ku.at
FROM kernels k
JOIN LATERAL (
    SELECT u.metrics, u.at FROM kernel_utilization u WHERE u.kernel_id = k.id ORDER BY u.at DESC LIMIT 1
) ku ON true
WHERE k.session_id = @session_id AND k.cluster_role = 'main'
ORDER BY k.cluster_idx
LIMIT 1;
