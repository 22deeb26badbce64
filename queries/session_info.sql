-- name: SessionInfoMatch :many
-- SessionInfoMatch finds an owner's sessions as SessionMatch does (by id when the reference is
-- a UUID, else or also by exact name; dead ones only when allow_stale is set; the id match
-- first, then newest first) and returns, in the same round trip, what GET /session/{name}
-- answers: the session, its main kernel, and the idle checkers' facts (null when the session's
-- keypair or policy is gone).
SELECT s.id, s.name, s.domain_name, s.group_id, s.user_uuid, s.status::text AS status, s.status_info,
       s.status_data, s.created_at, s.terminated_at, s.num_queries, s.last_stat, s.occupying_slots,
       s.requested_slots, s.environ AS session_environ, s.access_key,
       s.session_type::text AS session_type, s.status_changed AS running_since, s.last_access_at,
       k.image, k.architecture, k.registry, k.tag, k.container_id, k.occupied_slots,
       k.resource_opts,
       u.created_at AS user_created_at, p.idle_timeout, p.max_session_lifetime
FROM sessions s
LEFT JOIN kernels k ON k.session_id = s.id AND k.cluster_role = 'main'
LEFT JOIN keypairs kp ON kp.access_key = s.access_key
LEFT JOIN keypair_resource_policies p ON p.name = kp.resource_policy
LEFT JOIN users u ON u.uuid = s.user_uuid
WHERE s.access_key = @access_key
  AND (s.id = sqlc.narg('id')::uuid OR s.name = sqlc.arg(name)::text)
  AND (sqlc.arg(allow_stale)::boolean OR s.status NOT IN ('TERMINATED', 'CANCELLED'))
ORDER BY (s.id = sqlc.narg('id')::uuid) DESC NULLS LAST, s.created_at DESC
LIMIT 10;
