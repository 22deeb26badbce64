-- name: KeypairResourcePolicyGetByName :one
-- KeypairResourcePolicyGetByName loads one keypair resource policy.
SELECT * FROM keypair_resource_policies WHERE name = @name;

-- name: KeypairResourcePolicyList :many
-- KeypairResourcePolicyList pages through keypair resource policies by name.
SELECT * FROM keypair_resource_policies ORDER BY name LIMIT @row_limit OFFSET @row_offset;

-- name: KeypairResourcePolicyCount :one
-- KeypairResourcePolicyCount counts keypair resource policies.
SELECT count(*) FROM keypair_resource_policies;

-- name: KeypairResourcePolicyInsert :one
-- KeypairResourcePolicyInsert creates a keypair resource policy.
INSERT INTO keypair_resource_policies (
    name, default_for_unspecified, total_resource_slots, max_session_lifetime,
    max_concurrent_sessions, max_pending_session_count, max_pending_session_resource_slots,
    max_concurrent_sftp_sessions, max_containers_per_session, idle_timeout, allowed_vfolder_hosts
) VALUES (
    @name, @default_for_unspecified, @total_resource_slots, @max_session_lifetime,
    @max_concurrent_sessions, sqlc.narg('max_pending_session_count'),
    sqlc.narg('max_pending_session_resource_slots'), @max_concurrent_sftp_sessions,
    @max_containers_per_session, @idle_timeout, @allowed_vfolder_hosts
)
RETURNING *;

-- name: KeypairResourcePolicyUpdate :one
-- KeypairResourcePolicyUpdate changes the given fields of a keypair resource policy; the
-- nullable columns change only when their set_ flag is true.
UPDATE keypair_resource_policies SET
    default_for_unspecified = coalesce(sqlc.narg('default_for_unspecified'), default_for_unspecified),
    total_resource_slots = coalesce(sqlc.narg('total_resource_slots'), total_resource_slots),
    max_session_lifetime = coalesce(sqlc.narg('max_session_lifetime'), max_session_lifetime),
    max_concurrent_sessions = coalesce(sqlc.narg('max_concurrent_sessions'), max_concurrent_sessions),
    max_pending_session_count = CASE WHEN @set_max_pending_session_count::boolean
        THEN sqlc.narg('max_pending_session_count') ELSE max_pending_session_count END,
    max_pending_session_resource_slots = CASE WHEN @set_max_pending_session_resource_slots::boolean
        THEN sqlc.narg('max_pending_session_resource_slots') ELSE max_pending_session_resource_slots END,
    max_concurrent_sftp_sessions = coalesce(sqlc.narg('max_concurrent_sftp_sessions'), max_concurrent_sftp_sessions),
    max_containers_per_session = coalesce(sqlc.narg('max_containers_per_session'), max_containers_per_session),
    idle_timeout = coalesce(sqlc.narg('idle_timeout'), idle_timeout),
    allowed_vfolder_hosts = coalesce(sqlc.narg('allowed_vfolder_hosts'), allowed_vfolder_hosts)
WHERE name = @name
RETURNING *;

-- name: KeypairResourcePolicyDelete :execrows
-- KeypairResourcePolicyDelete removes a keypair resource policy; keypairs still using it make
-- the delete fail on their foreign key.
DELETE FROM keypair_resource_policies WHERE name = @name;
