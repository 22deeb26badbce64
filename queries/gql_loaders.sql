-- Batch lookups of the GraphQL endpoint's per-request loaders: one query per batch of keys.

-- name: GqlKernelsBySessions :many
SELECT * FROM kernels
WHERE session_id = ANY(sqlc.arg(session_ids)::uuid[])
ORDER BY session_id, cluster_idx, cluster_role, id;

-- name: GqlUsersByUUIDs :many
SELECT * FROM users WHERE uuid = ANY(sqlc.arg(uuids)::uuid[]);

-- name: GqlGroupsByIDs :many
SELECT * FROM groups WHERE id = ANY(sqlc.arg(ids)::uuid[]);

-- name: GqlGroupsOfUsers :many
SELECT agu.user_id, g.id, g.name
FROM association_groups_users agu JOIN groups g ON g.id = agu.group_id
WHERE agu.user_id = ANY(sqlc.arg(user_ids)::uuid[])
ORDER BY agu.user_id, g.name;

-- name: GqlSessionDependencies :many
SELECT d.session_id AS dependent_id, sqlc.embed(s)
FROM session_dependencies d JOIN sessions s ON s.id = d.depends_on
WHERE d.session_id = ANY(sqlc.arg(session_ids)::uuid[])
ORDER BY d.session_id, s.created_at;

-- name: GqlAliasesOfImages :many
SELECT image, alias FROM image_aliases
WHERE image = ANY(sqlc.arg(image_ids)::uuid[])
ORDER BY image, alias;

-- name: GqlLiveSessionCountsByAccessKeys :many
SELECT access_key, count(*)::int AS used
FROM sessions
WHERE access_key = ANY(sqlc.arg(access_keys)::varchar[])
  AND status NOT IN ('TERMINATED', 'CANCELLED', 'ERROR')
GROUP BY access_key;
