-- name: DomainGetByName :one
-- DomainGetByName loads one domain.
SELECT * FROM domains WHERE name = @name;

-- name: DomainLock :one
-- DomainLock loads a domain and locks it against changes and new references until the
-- transaction ends.
SELECT * FROM domains WHERE name = @name FOR UPDATE;

-- name: DomainList :many
-- DomainList pages through domains by name, optionally only active or inactive ones.
SELECT * FROM domains
WHERE (sqlc.narg('is_active')::boolean IS NULL OR is_active = sqlc.narg('is_active')::boolean)
ORDER BY name LIMIT @row_limit OFFSET @row_offset;

-- name: DomainCount :one
-- DomainCount counts the domains DomainList pages through.
SELECT count(*) FROM domains
WHERE (sqlc.narg('is_active')::boolean IS NULL OR is_active = sqlc.narg('is_active')::boolean);

-- name: DomainInsert :one
-- DomainInsert creates a domain.
INSERT INTO domains (
    name, description, is_active, total_resource_slots, allowed_vfolder_hosts,
    allowed_docker_registries, integration_id
) VALUES (
    @name, sqlc.narg('description'), @is_active, @total_resource_slots, @allowed_vfolder_hosts,
    @allowed_docker_registries::varchar[], sqlc.narg('integration_id')
)
RETURNING *;

-- name: DomainUpdate :one
-- DomainUpdate changes the given fields of a domain, renaming it when new_name is given
-- (projects, users and scaling group associations follow the new name).
UPDATE domains SET
    name = coalesce(sqlc.narg('new_name'), name),
    description = coalesce(sqlc.narg('description'), description),
    is_active = coalesce(sqlc.narg('is_active'), is_active),
    total_resource_slots = coalesce(sqlc.narg('total_resource_slots'), total_resource_slots),
    allowed_vfolder_hosts = coalesce(sqlc.narg('allowed_vfolder_hosts'), allowed_vfolder_hosts),
    allowed_docker_registries = coalesce(sqlc.narg('allowed_docker_registries')::varchar[], allowed_docker_registries),
    integration_id = coalesce(sqlc.narg('integration_id'), integration_id),
    modified_at = now()
WHERE name = @name
RETURNING *;

-- name: DomainUsage :one
-- DomainUsage counts the users and projects that still belong to a domain.
SELECT
    (SELECT count(*) FROM users u WHERE u.domain_name = @name)::bigint AS users,
    (SELECT count(*) FROM groups g WHERE g.domain_name = @name)::bigint AS projects;

-- name: DomainDelete :execrows
-- DomainDelete removes a domain with its scaling group associations.
DELETE FROM domains WHERE name = @name;
