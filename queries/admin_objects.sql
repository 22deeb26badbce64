-- Queries of the administration service (internal/adminsvc) for scaling group associations
-- and images that the REST lists do not need.

-- name: SgroupsForDomainsDeleteAll :execrows
-- SgroupsForDomainsDeleteAll removes every scaling group association of a domain.
DELETE FROM sgroups_for_domains WHERE domain = @domain;

-- name: SgroupsForGroupsDeleteAll :execrows
-- SgroupsForGroupsDeleteAll removes every scaling group association of a project.
DELETE FROM sgroups_for_groups WHERE "group" = @project_id;

-- name: SgroupsForDomainsInsertNew :execrows
-- SgroupsForDomainsInsertNew associates a domain with a scaling group; it returns 0 when
-- the association existed.
INSERT INTO sgroups_for_domains (scaling_group, domain) VALUES (@scaling_group, @domain)
ON CONFLICT (scaling_group, domain) DO NOTHING;

-- name: SgroupsForGroupsInsertNew :execrows
-- SgroupsForGroupsInsertNew associates a project with a scaling group; it returns 0 when the
-- association existed.
INSERT INTO sgroups_for_groups (scaling_group, "group") VALUES (@scaling_group, @project_id)
ON CONFLICT (scaling_group, "group") DO NOTHING;

-- name: SgroupsForKeypairsInsertNew :execrows
-- SgroupsForKeypairsInsertNew associates a keypair with a scaling group; it returns 0 when
-- the association existed.
INSERT INTO sgroups_for_keypairs (scaling_group, access_key) VALUES (@scaling_group, @access_key)
ON CONFLICT (scaling_group, access_key) DO NOTHING;

-- name: ImageGetByID :one
-- ImageGetByID loads one image row.
SELECT * FROM images WHERE id = @id;

-- name: ImageGetByReference :one
-- ImageGetByReference loads the image a reference names: its canonical name in the given
-- architecture, else the image an alias of that name points at.
SELECT i.* FROM images i
WHERE (i.name = @reference AND i.architecture = @architecture)
   OR i.id = (SELECT a.image FROM image_aliases a WHERE a.alias = @reference)
ORDER BY (i.name = @reference) DESC
LIMIT 1;

-- name: ImageDeleteByID :execrows
-- ImageDeleteByID deletes an image row and, through the foreign key, its aliases.
DELETE FROM images WHERE id = @id;

-- name: ImageDeleteByRegistry :execrows
-- ImageDeleteByRegistry deletes every image row of a registry and their aliases.
DELETE FROM images WHERE registry = @registry;

-- name: ImageUpdate :one
-- ImageUpdate changes the given fields of an image row; accelerators changes only when
-- set_accelerators is true.
UPDATE images SET
    name = coalesce(sqlc.narg('name'), name),
    image = coalesce(sqlc.narg('image'), image),
    tag = coalesce(sqlc.narg('tag'), tag),
    registry = coalesce(sqlc.narg('registry'), registry),
    architecture = coalesce(sqlc.narg('architecture'), architecture),
    is_local = coalesce(sqlc.narg('is_local'), is_local),
    size_bytes = coalesce(sqlc.narg('size_bytes'), size_bytes),
    type = coalesce(sqlc.narg('type')::image_type, type),
    config_digest = coalesce(sqlc.narg('config_digest'), config_digest),
    labels = coalesce(sqlc.narg('labels'), labels),
    accelerators = CASE WHEN @set_accelerators::boolean THEN sqlc.narg('accelerators') ELSE accelerators END,
    resources = coalesce(sqlc.narg('resources'), resources)
WHERE id = @id
RETURNING *;
