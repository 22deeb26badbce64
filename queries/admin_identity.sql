-- Queries of the administration service's domain, project, user and keypair mutations.

-- name: DomainActiveKernels :one
-- DomainActiveKernels counts the kernels of a domain that have not ended.
SELECT count(*)::bigint FROM kernels
WHERE domain_name = @name AND status NOT IN ('TERMINATED', 'CANCELLED', 'ERROR');

-- name: GroupActiveKernels :one
-- GroupActiveKernels counts the kernels of a project that have not ended.
SELECT count(*)::bigint FROM kernels
WHERE group_id = @id AND status NOT IN ('TERMINATED', 'CANCELLED', 'ERROR');

-- name: UserActiveKernels :one
-- UserActiveKernels counts the kernels of a user that have not ended.
SELECT count(*)::bigint FROM kernels
WHERE user_uuid = @uuid AND status NOT IN ('TERMINATED', 'CANCELLED', 'ERROR');

-- name: GroupDeleteSessions :execrows
-- GroupDeleteSessions removes the ended sessions of a project (their kernels and
-- dependencies follow), before the project is purged.
DELETE FROM sessions WHERE group_id = @id;

-- name: UserDeleteSessions :execrows
-- UserDeleteSessions removes the ended sessions of a user (their kernels and dependencies
-- follow), before the user is purged.
DELETE FROM sessions WHERE user_uuid = @uuid;

-- name: GroupSetContainerRegistry :exec
-- GroupSetContainerRegistry sets a project's container registry (null clears it).
UPDATE groups SET container_registry = sqlc.narg('container_registry'), modified_at = now()
WHERE id = @id;

-- name: GroupDeactivate :one
-- GroupDeactivate marks a project inactive and drops its integration id.
UPDATE groups SET is_active = false, integration_id = NULL, modified_at = now()
WHERE id = @id
RETURNING *;

-- name: GroupIDsOfTypeInDomain :many
-- GroupIDsOfTypeInDomain returns the projects of one type in a domain.
SELECT id FROM groups WHERE domain_name = @domain_name AND type = @type ORDER BY id;

-- name: UserSetFlags :exec
-- UserSetFlags changes the given second-factor and sudo flags of a user.
UPDATE users SET
    totp_activated = coalesce(sqlc.narg('totp_activated'), totp_activated),
    sudo_session_enabled = coalesce(sqlc.narg('sudo_session_enabled'), sudo_session_enabled),
    modified_at = now()
WHERE uuid = @uuid;
