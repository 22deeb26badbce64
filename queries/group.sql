-- name: GroupGetByID :one
-- GroupGetByID loads one project (group).
SELECT * FROM groups WHERE id = @id;

-- name: GroupList :many
-- GroupList pages through projects by domain and name, optionally filtered by domain and
-- activity.
SELECT * FROM groups
WHERE (sqlc.narg('domain_name')::text IS NULL OR domain_name = sqlc.narg('domain_name')::text)
  AND (sqlc.narg('is_active')::boolean IS NULL OR is_active = sqlc.narg('is_active')::boolean)
ORDER BY domain_name, name, id LIMIT @row_limit OFFSET @row_offset;

-- name: GroupCount :one
-- GroupCount counts the projects GroupList pages through.
SELECT count(*) FROM groups
WHERE (sqlc.narg('domain_name')::text IS NULL OR domain_name = sqlc.narg('domain_name')::text)
  AND (sqlc.narg('is_active')::boolean IS NULL OR is_active = sqlc.narg('is_active')::boolean);

-- name: GroupInsert :one
-- GroupInsert creates a project.
INSERT INTO groups (
    name, description, is_active, integration_id, domain_name, total_resource_slots,
    allowed_vfolder_hosts, resource_policy, type
) VALUES (
    @name, sqlc.narg('description'), @is_active, sqlc.narg('integration_id'), @domain_name,
    @total_resource_slots, @allowed_vfolder_hosts, @resource_policy, @type
)
RETURNING *;

-- name: GroupUpdate :one
-- GroupUpdate changes the given fields of a project.
UPDATE groups SET
    name = coalesce(sqlc.narg('name'), name),
    description = coalesce(sqlc.narg('description'), description),
    is_active = coalesce(sqlc.narg('is_active'), is_active),
    integration_id = coalesce(sqlc.narg('integration_id'), integration_id),
    total_resource_slots = coalesce(sqlc.narg('total_resource_slots'), total_resource_slots),
    allowed_vfolder_hosts = coalesce(sqlc.narg('allowed_vfolder_hosts'), allowed_vfolder_hosts),
    resource_policy = coalesce(sqlc.narg('resource_policy'), resource_policy),
    modified_at = now()
WHERE id = @id
RETURNING *;

-- name: GroupDelete :execrows
-- GroupDelete removes a project with its memberships and scaling group associations.
DELETE FROM groups WHERE id = @id;

-- name: GroupIDsInDomain :many
-- GroupIDsInDomain returns which of the given project ids exist in a domain.
SELECT id FROM groups WHERE domain_name = @domain_name AND id = ANY(@ids::uuid[]);

-- name: GroupLock :one
-- GroupLock loads a project and locks it against changes and new references until the
-- transaction ends.
SELECT * FROM groups WHERE id = @id FOR UPDATE;

-- name: GroupIDsByName :many
-- GroupIDsByName returns the ids of the projects with a name, in one domain or in all when
-- domain_name is null.
SELECT id FROM groups
WHERE name = @name
  AND (sqlc.narg('domain_name')::text IS NULL OR domain_name = sqlc.narg('domain_name')::text)
ORDER BY domain_name, id;
