-- name: UserResourcePolicyGetByName :one
-- UserResourcePolicyGetByName loads one user resource policy.
SELECT * FROM user_resource_policies WHERE name = @name;

-- name: UserResourcePolicyList :many
-- UserResourcePolicyList pages through user resource policies by name.
SELECT * FROM user_resource_policies ORDER BY name LIMIT @row_limit OFFSET @row_offset;

-- name: UserResourcePolicyCount :one
-- UserResourcePolicyCount counts user resource policies.
SELECT count(*) FROM user_resource_policies;

-- name: UserResourcePolicyInsert :one
-- UserResourcePolicyInsert creates a user resource policy.
INSERT INTO user_resource_policies (
    name, max_vfolder_count, max_quota_scope_size, max_session_count_per_model_session,
    max_customized_image_count
) VALUES (
    @name, @max_vfolder_count, @max_quota_scope_size, @max_session_count_per_model_session,
    @max_customized_image_count
)
RETURNING *;

-- name: UserResourcePolicyUpdate :one
-- UserResourcePolicyUpdate changes the given fields of a user resource policy.
UPDATE user_resource_policies SET
    max_vfolder_count = coalesce(sqlc.narg('max_vfolder_count'), max_vfolder_count),
    max_quota_scope_size = coalesce(sqlc.narg('max_quota_scope_size'), max_quota_scope_size),
    max_session_count_per_model_session = coalesce(sqlc.narg('max_session_count_per_model_session'), max_session_count_per_model_session),
    max_customized_image_count = coalesce(sqlc.narg('max_customized_image_count'), max_customized_image_count)
WHERE name = @name
RETURNING *;

-- name: UserResourcePolicyDelete :execrows
-- UserResourcePolicyDelete removes a user resource policy; users still using it make the
-- delete fail on their foreign key.
DELETE FROM user_resource_policies WHERE name = @name;
