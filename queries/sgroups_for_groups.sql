-- name: SgroupsForGroupsList :many
-- SgroupsForGroupsList pages through the projects associated with a scaling group, with each
-- project's name and domain.
SELECT a.scaling_group, a."group" AS project_id, g.name AS project_name, g.domain_name
FROM sgroups_for_groups a
JOIN groups g ON g.id = a."group"
WHERE a.scaling_group = @scaling_group
ORDER BY g.domain_name, g.name, a."group" LIMIT @row_limit OFFSET @row_offset;

-- name: SgroupsForGroupsCount :one
-- SgroupsForGroupsCount counts the projects associated with a scaling group.
SELECT count(*) FROM sgroups_for_groups WHERE scaling_group = @scaling_group;

-- name: SgroupsForGroupsTarget :one
-- SgroupsForGroupsTarget loads the project to associate with a scaling group: its id, name and
-- domain.
SELECT id AS project_id, name AS project_name, domain_name FROM groups WHERE id = @project_id;

-- name: SgroupsForGroupsInsert :exec
-- SgroupsForGroupsInsert associates a project with a scaling group; an existing association
-- is left as it is.
INSERT INTO sgroups_for_groups (scaling_group, "group") VALUES (@scaling_group, @project_id)
ON CONFLICT (scaling_group, "group") DO NOTHING;

-- name: SgroupsForGroupsDelete :execrows
-- SgroupsForGroupsDelete removes the association of a project with a scaling group.
DELETE FROM sgroups_for_groups WHERE scaling_group = @scaling_group AND "group" = @project_id;
