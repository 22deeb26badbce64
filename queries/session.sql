-- name: SessionImageCandidates :many
-- SessionImageCandidates lists the images a create request's image reference may mean: rows whose
-- canonical name is one of the names given, and the image the reference names as an alias.
SELECT i.id, i.name, i.architecture, i.registry, i.tag, i.resources, i.labels, (a.alias IS NOT NULL)::boolean AS via_alias
FROM images i
LEFT JOIN image_aliases a ON a.image = i.id AND a.alias = sqlc.arg(alias)::text
WHERE i.name = ANY(sqlc.arg(names)::text[]) OR a.alias IS NOT NULL
ORDER BY via_alias, i.name, i.architecture;

-- name: SessionProjectResolve :one
-- SessionProjectResolve finds an active project of a domain by id or name, and whether a user is
-- one of its members.
SELECT g.id, g.name,
       EXISTS (SELECT 1 FROM association_groups_users agu WHERE agu.group_id = g.id AND agu.user_id = @user_uuid)::boolean AS is_member
FROM groups g
WHERE g.domain_name = @domain_name AND g.is_active
  AND (g.id = sqlc.narg('id')::uuid OR g.name = sqlc.narg('name')::text)
LIMIT 1;

-- name: SessionScalingGroupCandidates :many
-- SessionScalingGroupCandidates lists the active scaling groups associated with a domain, a
-- project or an access key, ordered by name, with their session type options.
SELECT sg.name, sg.is_public, sg.scheduler_opts
FROM scaling_groups sg
WHERE sg.is_active
  AND (
    sg.name IN (SELECT d.scaling_group FROM sgroups_for_domains d WHERE d.domain = @domain_name)
    OR sg.name IN (SELECT g.scaling_group FROM sgroups_for_groups g WHERE g."group" = sqlc.arg(group_id)::uuid)
    OR sg.name IN (SELECT k.scaling_group FROM sgroups_for_keypairs k WHERE k.access_key = @access_key)
  )
ORDER BY sg.name;

-- name: SessionScalingGroupExists :one
-- SessionScalingGroupExists reports whether a scaling group of that name exists.
SELECT EXISTS (SELECT 1 FROM scaling_groups WHERE name = @name)::boolean;

-- name: SessionInsert :exec
-- SessionInsert creates a PENDING session.
INSERT INTO sessions (id, creation_id, name, session_type, cluster_mode, cluster_size, scaling_group_name,
    target_sgroup_names, domain_name, group_id, user_uuid, access_key, images, tag, requested_slots,
    environ, bootstrap_script, timeout, created_at, starts_at, status, status_history, status_changed,
    callback_url, startup_command)
VALUES (@id, @creation_id, @name, sqlc.arg(session_type)::text::session_type, @cluster_mode, @cluster_size,
    @scaling_group_name, sqlc.arg(target_sgroup_names)::text[], @domain_name, @group_id, @user_uuid, @access_key,
    sqlc.arg(images)::text[], sqlc.narg('tag'), sqlc.arg(requested_slots)::jsonb, sqlc.arg(environ)::jsonb, sqlc.narg('bootstrap_script'),
    sqlc.narg('timeout'), sqlc.arg(now)::timestamptz, sqlc.narg('starts_at'), 'PENDING', sqlc.arg(status_history)::jsonb,
    sqlc.arg(now)::timestamptz, sqlc.narg('callback_url'), sqlc.narg('startup_command'));

-- name: SessionKernelInsert :exec
-- SessionKernelInsert creates one PENDING kernel of a session.
INSERT INTO kernels (id, session_id, session_creation_id, session_name, session_type, cluster_mode,
    cluster_size, cluster_role, cluster_idx, local_rank, cluster_hostname, scaling_group, domain_name,
    group_id, user_uuid, access_key, image, architecture, registry, tag, requested_slots, environ,
    resource_opts, bootstrap_script, preopen_ports, created_at, starts_at, status, status_history,
    status_changed, callback_url, startup_command, agent)
VALUES (@id, @session_id, @session_creation_id, @session_name, sqlc.arg(session_type)::text::session_type,
    @cluster_mode, @cluster_size, @cluster_role, @cluster_idx, @local_rank, @cluster_hostname,
    @scaling_group, @domain_name, @group_id, @user_uuid, @access_key, @image, @architecture, @registry,
    sqlc.narg('tag'), sqlc.arg(requested_slots)::jsonb, sqlc.arg(environ)::text[], sqlc.arg(resource_opts)::jsonb,
    sqlc.narg('bootstrap_script'), sqlc.arg(preopen_ports)::int[], sqlc.arg(now)::timestamptz, sqlc.narg('starts_at'),
    'PENDING', sqlc.arg(status_history)::jsonb, sqlc.arg(now)::timestamptz, sqlc.narg('callback_url'),
    sqlc.narg('startup_command'), sqlc.narg('agent'));

-- name: SessionDependencyInsert :exec
-- SessionDependencyInsert records that a session waits for another one.
INSERT INTO session_dependencies (session_id, depends_on) VALUES (@session_id, @depends_on)
ON CONFLICT DO NOTHING;

-- name: SessionMatch :many
-- SessionMatch finds an owner's sessions by id (when the reference is a UUID) or exact name,
-- dead ones (TERMINATED, CANCELLED) only when allow_stale is set; newest first.
SELECT s.id, s.name, s.status::text AS status, s.created_at, s.images, s.access_key,
       s.domain_name, s.scaling_group_name
FROM sessions s
WHERE s.access_key = @access_key
  AND (s.id = sqlc.narg('id')::uuid OR s.name = sqlc.arg(name)::text)
  AND (sqlc.arg(allow_stale)::boolean OR s.status NOT IN ('TERMINATED', 'CANCELLED'))
ORDER BY (s.id = sqlc.narg('id')::uuid) DESC NULLS LAST, s.created_at DESC
LIMIT 10;

-- name: SessionGetInfo :one
-- SessionGetInfo returns a session with its main kernel, for GET /session/{name}.
SELECT s.id, s.name, s.domain_name, s.group_id, s.user_uuid, s.status::text AS status, s.status_info,
       s.status_data, s.created_at, s.terminated_at, s.num_queries, s.last_stat, s.occupying_slots,
       s.requested_slots, s.environ AS session_environ, s.access_key,
       k.image, k.architecture, k.registry, k.tag, k.container_id, k.occupied_slots,
       k.resource_opts, k.environ AS kernel_environ, k.service_ports, COALESCE(k.status::text, '')::text AS kernel_status
FROM sessions s
LEFT JOIN kernels k ON k.session_id = s.id AND k.cluster_role = 'main'
WHERE s.id = @id;

-- name: SessionStatusGet :one
-- SessionStatusGet returns a session's status and its main kernel's service ports.
SELECT s.status::text AS status, COALESCE(s.status_info, '')::text AS status_info,
       (SELECT k.service_ports FROM kernels k WHERE k.session_id = s.id AND k.cluster_role = 'main'
        ORDER BY k.cluster_idx LIMIT 1) AS service_ports
FROM sessions s WHERE s.id = @id;

-- name: SessionRename :execrows
-- SessionRename renames a RUNNING session and its kernels.
WITH s AS (
    UPDATE sessions SET name = @new_name WHERE sessions.id = @id AND sessions.status = 'RUNNING'
    RETURNING sessions.id
)
UPDATE kernels SET session_name = @new_name FROM s WHERE kernels.session_id = s.id;

-- name: SessionDependents :many
-- SessionDependents lists the sessions that depend on a session.
SELECT session_id FROM session_dependencies WHERE depends_on = @id;

-- name: SessionQueryCountIncrement :exec
-- SessionQueryCountIncrement counts one executed query in a session and its main kernel.
WITH k AS (
    UPDATE kernels SET num_queries = kernels.num_queries + 1 WHERE kernels.id = @kernel_id
)
UPDATE sessions SET num_queries = sessions.num_queries + 1 WHERE sessions.id = @session_id;
