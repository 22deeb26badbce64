-- name: ProjectResourcePolicyGetByName :one
-- ProjectResourcePolicyGetByName loads one project resource policy.
SELECT * FROM project_resource_policies WHERE name = @name;

-- name: ProjectResourcePolicyList :many
-- ProjectResourcePolicyList pages through project resource policies by name.
SELECT * FROM project_resource_policies ORDER BY name LIMIT @row_limit OFFSET @row_offset;

-- name: ProjectResourcePolicyCount :one
-- ProjectResourcePolicyCount counts project resource policies.
SELECT count(*) FROM project_resource_policies;

-- name: ProjectResourcePolicyInsert :one
-- ProjectResourcePolicyInsert creates a project resource policy.
INSERT INTO project_resource_policies (name, max_vfolder_count, max_quota_scope_size)
VALUES (@name, @max_vfolder_count, @max_quota_scope_size)
RETURNING *;

-- name: ProjectResourcePolicyUpdate :one
-- ProjectResourcePolicyUpdate changes the given fields of a project resource policy.
UPDATE project_resource_policies SET
    max_vfolder_count = coalesce(sqlc.narg('max_vfolder_count'), max_vfolder_count),
    max_quota_scope_size = coalesce(sqlc.narg('max_quota_scope_size'), max_quota_scope_size)
WHERE name = @name
RETURNING *;

-- name: ProjectResourcePolicyDelete :execrows
-- ProjectResourcePolicyDelete removes a project resource policy; projects still using it make
-- the delete fail on their foreign key.
DELETE FROM project_resource_policies WHERE name = @name;
