-- name: UserGetByUUID :one
-- UserGetByUUID loads one user by id.
SELECT * FROM users WHERE uuid = @uuid;

-- name: UserGetByEmail :one
-- UserGetByEmail loads one user by e-mail address.
SELECT * FROM users WHERE email = @email;

-- name: UserList :many
-- UserList pages through users by e-mail, optionally filtered by domain, status, role and
-- project membership.
SELECT * FROM users u
WHERE (sqlc.narg('domain_name')::text IS NULL OR u.domain_name = sqlc.narg('domain_name')::text)
  AND (sqlc.narg('status')::user_status IS NULL OR u.status = sqlc.narg('status')::user_status)
  AND (sqlc.narg('role')::user_role IS NULL OR u.role = sqlc.narg('role')::user_role)
  AND (sqlc.narg('group_id')::uuid IS NULL OR EXISTS (
      SELECT 1 FROM association_groups_users a
      WHERE a.user_id = u.uuid AND a.group_id = sqlc.narg('group_id')::uuid))
ORDER BY u.email LIMIT @row_limit OFFSET @row_offset;

-- name: UserCount :one
-- UserCount counts the users UserList pages through.
SELECT count(*) FROM users u
WHERE (sqlc.narg('domain_name')::text IS NULL OR u.domain_name = sqlc.narg('domain_name')::text)
  AND (sqlc.narg('status')::user_status IS NULL OR u.status = sqlc.narg('status')::user_status)
  AND (sqlc.narg('role')::user_role IS NULL OR u.role = sqlc.narg('role')::user_role)
  AND (sqlc.narg('group_id')::uuid IS NULL OR EXISTS (
      SELECT 1 FROM association_groups_users a
      WHERE a.user_id = u.uuid AND a.group_id = sqlc.narg('group_id')::uuid));

-- name: UserFindMany :many
-- UserFindMany loads the users with the given ids or e-mail addresses.
SELECT * FROM users WHERE uuid = ANY(@uuids::uuid[]) OR email = ANY(@emails::text[]);

-- name: UserInsert :one
-- UserInsert creates a user; the password must already be hashed.
INSERT INTO users (
    username, email, password, need_password_change, password_changed_at, full_name,
    description, status, status_info, domain_name, role, allowed_client_ip, resource_policy
) VALUES (
    @username, @email, @password, @need_password_change, @password_changed_at,
    sqlc.narg('full_name'), sqlc.narg('description'), @status, sqlc.narg('status_info'),
    @domain_name, @role, sqlc.narg('allowed_client_ip'), @resource_policy
)
RETURNING *;

-- name: UserUpdate :one
-- UserUpdate changes the given fields of a user; the password must already be hashed, and
-- allowed_client_ip changes only when set_allowed_client_ip is true.
UPDATE users SET
    username = coalesce(sqlc.narg('username'), username),
    password = coalesce(sqlc.narg('password'), password),
    password_changed_at = coalesce(sqlc.narg('password_changed_at'), password_changed_at),
    need_password_change = coalesce(sqlc.narg('need_password_change'), need_password_change),
    full_name = coalesce(sqlc.narg('full_name'), full_name),
    description = coalesce(sqlc.narg('description'), description),
    status = coalesce(sqlc.narg('status'), status),
    status_info = coalesce(sqlc.narg('status_info'), status_info),
    domain_name = coalesce(sqlc.narg('domain_name'), domain_name),
    role = coalesce(sqlc.narg('role'), role),
    resource_policy = coalesce(sqlc.narg('resource_policy'), resource_policy),
    allowed_client_ip = CASE WHEN @set_allowed_client_ip::boolean
        THEN sqlc.narg('allowed_client_ip') ELSE allowed_client_ip END,
    modified_at = now()
WHERE uuid = @uuid
RETURNING *;

-- name: UserSetMainAccessKey :one
-- UserSetMainAccessKey makes a keypair the key a user authenticates with.
UPDATE users SET main_access_key = @main_access_key, modified_at = now()
WHERE uuid = @uuid
RETURNING *;

-- name: UserClearMainAccessKey :exec
-- UserClearMainAccessKey unsets a user's main access key (before the user is purged).
UPDATE users SET main_access_key = NULL WHERE uuid = @uuid;

-- name: UserDelete :execrows
-- UserDelete removes a user with their keypairs and project memberships.
DELETE FROM users WHERE uuid = @uuid;
