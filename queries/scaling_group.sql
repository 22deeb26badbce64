-- name: ScalingGroupGetByName :one
-- ScalingGroupGetByName loads one scaling group.
SELECT * FROM scaling_groups WHERE name = @name;

-- name: ScalingGroupList :many
-- ScalingGroupList pages through scaling groups by name.
SELECT * FROM scaling_groups ORDER BY name LIMIT @row_limit OFFSET @row_offset;

-- name: ScalingGroupCount :one
-- ScalingGroupCount counts scaling groups.
SELECT count(*) FROM scaling_groups;

-- name: ScalingGroupInsert :one
-- ScalingGroupInsert creates a scaling group.
INSERT INTO scaling_groups (
    name, description, is_active, is_public, wsproxy_addr, wsproxy_api_token, driver,
    driver_opts, scheduler, use_host_network, scheduler_opts
) VALUES (
    @name, sqlc.narg('description'), @is_active, @is_public, sqlc.narg('wsproxy_addr'),
    sqlc.narg('wsproxy_api_token'), @driver, @driver_opts, @scheduler, @use_host_network,
    @scheduler_opts
)
RETURNING *;

-- name: ScalingGroupUpdate :one
-- ScalingGroupUpdate changes the given fields of a scaling group; the nullable columns change
-- only when their set_ flag is true.
UPDATE scaling_groups SET
    description = CASE WHEN @set_description::boolean
        THEN sqlc.narg('description') ELSE description END,
    is_active = coalesce(sqlc.narg('is_active'), is_active),
    is_public = coalesce(sqlc.narg('is_public'), is_public),
    wsproxy_addr = CASE WHEN @set_wsproxy_addr::boolean
        THEN sqlc.narg('wsproxy_addr') ELSE wsproxy_addr END,
    wsproxy_api_token = CASE WHEN @set_wsproxy_api_token::boolean
        THEN sqlc.narg('wsproxy_api_token') ELSE wsproxy_api_token END,
    driver = coalesce(sqlc.narg('driver'), driver),
    driver_opts = coalesce(sqlc.narg('driver_opts'), driver_opts),
    scheduler = coalesce(sqlc.narg('scheduler'), scheduler),
    use_host_network = coalesce(sqlc.narg('use_host_network'), use_host_network),
    scheduler_opts = coalesce(sqlc.narg('scheduler_opts'), scheduler_opts)
WHERE name = @name
RETURNING *;

-- name: ScalingGroupCountAgents :one
-- ScalingGroupCountAgents counts the agents registered in a scaling group, whatever their
-- status.
SELECT count(*) FROM agents WHERE scaling_group = @name;

-- name: ScalingGroupDelete :execrows
-- ScalingGroupDelete removes a scaling group with its domain, project and keypair
-- associations; agents, sessions or kernels still referring to it make the delete fail.
DELETE FROM scaling_groups WHERE name = @name;
