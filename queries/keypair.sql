-- name: KeypairGetForAuth :one
-- KeypairGetForAuth loads an active keypair with its resource policy, as request
-- authentication needs it.
SELECT sqlc.embed(k), sqlc.embed(p)
FROM keypairs k
JOIN keypair_resource_policies p ON p.name = k.resource_policy
WHERE k.access_key = @access_key AND k.is_active;

-- name: KeypairGetByAccessKey :one
-- KeypairGetByAccessKey loads one keypair with what privilege checks need of its owner.
SELECT sqlc.embed(k), u.domain_name, u.role, (u.main_access_key IS NOT DISTINCT FROM k.access_key)::boolean AS is_main
FROM keypairs k
JOIN users u ON u.uuid = k."user"
WHERE k.access_key = @access_key;

-- name: KeypairList :many
-- KeypairList pages through keypairs by owner e-mail and access key, optionally filtered by
-- owner, owner's domain and activity.
SELECT sqlc.embed(k), u.domain_name, u.role, (u.main_access_key IS NOT DISTINCT FROM k.access_key)::boolean AS is_main
FROM keypairs k
JOIN users u ON u.uuid = k."user"
WHERE (sqlc.narg('user_uuid')::uuid IS NULL OR k."user" = sqlc.narg('user_uuid')::uuid)
  AND (sqlc.narg('domain_name')::text IS NULL OR u.domain_name = sqlc.narg('domain_name')::text)
  AND (sqlc.narg('is_active')::boolean IS NULL OR k.is_active = sqlc.narg('is_active')::boolean)
ORDER BY k.user_id, k.access_key LIMIT @row_limit OFFSET @row_offset;

-- name: KeypairCount :one
-- KeypairCount counts the keypairs KeypairList pages through.
SELECT count(*)
FROM keypairs k
JOIN users u ON u.uuid = k."user"
WHERE (sqlc.narg('user_uuid')::uuid IS NULL OR k."user" = sqlc.narg('user_uuid')::uuid)
  AND (sqlc.narg('domain_name')::text IS NULL OR u.domain_name = sqlc.narg('domain_name')::text)
  AND (sqlc.narg('is_active')::boolean IS NULL OR k.is_active = sqlc.narg('is_active')::boolean);

-- name: KeypairInsert :one
-- KeypairInsert creates a keypair for a user.
INSERT INTO keypairs (
    access_key, secret_key, user_id, "user", is_active, is_admin, rate_limit, resource_policy
) VALUES (
    @access_key, @secret_key, @user_id, @user_uuid, @is_active, @is_admin, @rate_limit, @resource_policy
)
RETURNING *;

-- name: KeypairUpdate :one
-- KeypairUpdate changes the given fields of a keypair.
UPDATE keypairs SET
    is_active = coalesce(sqlc.narg('is_active'), is_active),
    is_admin = coalesce(sqlc.narg('is_admin'), is_admin),
    resource_policy = coalesce(sqlc.narg('resource_policy'), resource_policy),
    rate_limit = coalesce(sqlc.narg('rate_limit'), rate_limit),
    modified_at = now()
WHERE access_key = @access_key
RETURNING *;

-- name: KeypairSetActiveByUser :exec
-- KeypairSetActiveByUser activates or deactivates every keypair of a user.
UPDATE keypairs SET is_active = @is_active, modified_at = now()
WHERE "user" = @user_uuid AND is_active <> @is_active;

-- name: KeypairSetAdminByUser :exec
-- KeypairSetAdminByUser sets the admin flag of every keypair of a user.
UPDATE keypairs SET is_admin = @is_admin, modified_at = now()
WHERE "user" = @user_uuid AND is_admin <> @is_admin;

-- name: KeypairDelete :execrows
-- KeypairDelete removes a keypair unless it is a user's main access key.
DELETE FROM keypairs k
WHERE k.access_key = @access_key
  AND NOT EXISTS (SELECT 1 FROM users u WHERE u.main_access_key = k.access_key);

-- name: KeypairGetForAuthWithMainUser :one
-- KeypairGetForAuthWithMainUser loads, in one round trip, an active keypair with its policy and
-- the user whose main access key it is (no row when either is missing).
SELECT sqlc.embed(k), sqlc.embed(p), sqlc.embed(u), sqlc.embed(up)
FROM keypairs k
JOIN keypair_resource_policies p ON p.name = k.resource_policy
JOIN users u ON u.main_access_key = k.access_key
JOIN user_resource_policies up ON up.name = u.resource_policy
WHERE k.access_key = @access_key AND k.is_active;
