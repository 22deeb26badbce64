-- name: UserGetByMainAccessKey :one
-- UserGetByMainAccessKey finds the user whose main access key is the given key; a request is
-- authenticated only when this row exists.
SELECT sqlc.embed(u), sqlc.embed(p)
FROM users u
JOIN user_resource_policies p ON p.name = u.resource_policy
WHERE u.main_access_key = @access_key::text;
