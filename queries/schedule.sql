-- name: ScheduleLock :exec
-- ScheduleLock serializes schedule passes over one scaling group until the transaction ends.
SELECT pg_advisory_xact_lock(hashtext('schedule:' || sqlc.arg(scaling_group)::text));

-- name: ScheduleTryLock :one
-- ScheduleTryLock takes the lock ScheduleLock takes, without waiting: it reports false when
-- another transaction holds it.
SELECT pg_try_advisory_xact_lock(hashtext('schedule:' || sqlc.arg(scaling_group)::text))::boolean AS locked;

-- name: ScheduleScalingGroup :one
-- ScheduleScalingGroup returns a scaling group's queueing algorithm and scheduler options.
SELECT name, scheduler, scheduler_opts, roundrobin_index FROM scaling_groups WHERE name = $1;

-- name: ScheduleSetRoundRobinIndex :exec
-- ScheduleSetRoundRobinIndex records where the next pass's round-robin search starts.
UPDATE scaling_groups SET roundrobin_index = $2 WHERE name = $1 AND roundrobin_index <> $2;

-- name: ScheduleAgents :many
-- ScheduleAgents lists the ALIVE agents of a scaling group with the number of kernels they host.
SELECT a.id, a.architecture, a.schedulable, a.addr,
       (SELECT count(*) FROM kernels k WHERE k.agent = a.id AND k.slots_reserved)::bigint AS container_count
FROM agents a
WHERE a.scaling_group = $1 AND a.status = 'ALIVE'
ORDER BY a.id;

-- name: ScheduleAgentSlots :many
-- ScheduleAgentSlots lists the slots of the ALIVE agents of a scaling group.
SELECT s.agent_id, s.slot, s.slot_type, s.capacity::text AS capacity, s.occupied::text AS occupied
FROM agent_slots s JOIN agents a ON a.id = s.agent_id
WHERE a.scaling_group = $1 AND a.status = 'ALIVE'
ORDER BY s.agent_id, s.slot;

-- name: SchedulePendingSessions :many
-- SchedulePendingSessions lists the PENDING sessions of a scaling group.
SELECT id, name, access_key, user_uuid, group_id, domain_name, session_type, cluster_mode,
       starts_at, created_at, status_data, requested_slots
FROM sessions
WHERE status = 'PENDING' AND scaling_group_name = $1
ORDER BY created_at, id;

-- name: SchedulePendingCount :one
-- SchedulePendingCount counts the PENDING sessions of a scaling group.
SELECT count(*)::bigint FROM sessions WHERE status = 'PENDING' AND scaling_group_name = $1;

-- name: SchedulePendingKernels :many
-- SchedulePendingKernels lists the kernels of the PENDING sessions of a scaling group, main
-- kernels first within each session.
SELECT k.id, k.session_id, k.requested_slots, k.architecture, k.agent, k.role::text AS role
FROM kernels k JOIN sessions s ON s.id = k.session_id
WHERE s.status = 'PENDING' AND s.scaling_group_name = $1
ORDER BY k.session_id, (k.cluster_role = 'main') DESC, k.cluster_idx, k.local_rank;

-- name: ScheduleDependencies :many
-- ScheduleDependencies lists the dependencies of the PENDING sessions of a scaling group.
SELECT d.session_id, dep.id AS depends_on, dep.name, dep.status::text AS status, dep.result::text AS result
FROM session_dependencies d
JOIN sessions p ON p.id = d.session_id
JOIN sessions dep ON dep.id = d.depends_on
WHERE p.status = 'PENDING' AND p.scaling_group_name = $1;

-- name: ScheduleKeypairPolicies :many
-- ScheduleKeypairPolicies returns the resource policy of each given access key.
SELECT k.access_key, p.default_for_unspecified::text AS default_for_unspecified, p.total_resource_slots,
       p.max_concurrent_sessions, p.max_concurrent_sftp_sessions, p.max_pending_session_count,
       p.max_pending_session_resource_slots
FROM keypairs k JOIN keypair_resource_policies p ON p.name = k.resource_policy
WHERE k.access_key = ANY(sqlc.arg(access_keys)::text[]);

-- name: ScheduleKeypairOccupancy :many
-- ScheduleKeypairOccupancy lists the reserved kernels of the given access keys.
SELECT access_key, scaling_group, occupied_slots
FROM kernels
WHERE slots_reserved AND role <> 'SYSTEM' AND access_key = ANY(sqlc.arg(access_keys)::text[]);

-- name: ScheduleUserPolicies :many
-- ScheduleUserPolicies returns, for each given user that has a main access key, the resource
-- policy of that key (the user_resource_limit predicate checks against it).
SELECT u.uuid AS user_uuid, p.default_for_unspecified::text AS default_for_unspecified, p.total_resource_slots
FROM users u
JOIN keypairs k ON k.access_key = u.main_access_key
JOIN keypair_resource_policies p ON p.name = k.resource_policy
WHERE u.uuid = ANY(sqlc.arg(user_uuids)::uuid[]);

-- name: ScheduleProjectLimits :many
-- ScheduleProjectLimits returns total_resource_slots of the given projects.
SELECT id, total_resource_slots FROM groups WHERE id = ANY(sqlc.arg(ids)::uuid[]);

-- name: ScheduleDomainLimits :many
-- ScheduleDomainLimits returns total_resource_slots of the given domains.
SELECT name, total_resource_slots FROM domains WHERE name = ANY(sqlc.arg(names)::text[]);

-- name: ScheduleOwnerOccupancy :many
-- ScheduleOwnerOccupancy lists the reserved non-SYSTEM kernels of the given users, projects or
-- domains, in every scaling group, for the user, project and domain resource limits.
SELECT user_uuid, group_id, domain_name, occupied_slots
FROM kernels
WHERE slots_reserved AND role <> 'SYSTEM'
  AND (user_uuid = ANY(sqlc.arg(user_uuids)::uuid[])
       OR group_id = ANY(sqlc.arg(project_ids)::uuid[])
       OR domain_name = ANY(sqlc.arg(domains)::text[]));

-- name: ScheduleKeypairSessions :many
-- ScheduleKeypairSessions lists the live sessions of the given access keys (PENDING ones with
-- their requests, the others for the concurrency count).
SELECT access_key, status::text AS status, requested_slots
FROM sessions
WHERE access_key = ANY(sqlc.arg(access_keys)::text[])
  AND status NOT IN ('TERMINATED', 'CANCELLED', 'ERROR');

-- name: AgentSlotReserve :execrows
-- AgentSlotReserve adds delta to an agent slot's occupied amount unless that exceeds the
-- capacity; no row is updated then.
UPDATE agent_slots
SET occupied = occupied + sqlc.arg(delta)::numeric
WHERE agent_id = sqlc.arg(agent_id) AND slot = sqlc.arg(slot)
  AND occupied + sqlc.arg(delta)::numeric <= capacity;

-- name: AgentSlotRelease :exec
-- AgentSlotRelease subtracts amount from an agent slot's occupied amount (never below zero).
UPDATE agent_slots
SET occupied = GREATEST(occupied - sqlc.arg(amount)::numeric, 0)
WHERE agent_id = sqlc.arg(agent_id) AND slot = sqlc.arg(slot);

-- name: ScheduleTickScalingGroups :many
-- ScheduleTickScalingGroups lists the scaling groups with PENDING sessions.
SELECT DISTINCT scaling_group_name::text AS scaling_group
FROM sessions
WHERE status = 'PENDING' AND scaling_group_name IS NOT NULL;

-- name: ScheduleTickStale :many
-- ScheduleTickStale lists the sessions SCHEDULED, PREPARING or TERMINATING since before the
-- cutoff.
SELECT id, status::text AS status, COALESCE(status_info, '')::text AS status_info, status_changed
FROM sessions
WHERE status IN ('SCHEDULED', 'PREPARING', 'TERMINATING') AND status_changed < sqlc.arg(cutoff)::timestamptz;

-- name: SessionMarkScheduled :execrows
-- SessionMarkScheduled marks a PENDING session SCHEDULED on its agents.
UPDATE sessions
SET status = 'SCHEDULED',
    agent_ids = sqlc.arg(agent_ids)::text[],
    occupying_slots = sqlc.arg(occupying_slots)::jsonb,
    status_info = 'scheduled',
    status_data = '{}',
    status_changed = sqlc.arg(now)::timestamptz,
    status_history = status_history || jsonb_build_object('SCHEDULED', sqlc.arg(iso)::text)
WHERE id = sqlc.arg(id) AND status = 'PENDING';

-- name: SessionSetPendingInfo :exec
-- SessionSetPendingInfo records why a PENDING session stays pending.
UPDATE sessions
SET status_info = sqlc.arg(status_info)::text, status_data = sqlc.arg(status_data)::jsonb
WHERE id = sqlc.arg(id) AND status = 'PENDING';

-- name: SessionTransition :one
-- SessionTransition moves a session whose status is one of from_statuses to to_status,
-- recording the status history; no row when the session is in another status.
UPDATE sessions
SET status = sqlc.arg(to_status)::text::session_status,
    status_changed = sqlc.arg(now)::timestamptz,
    status_info = COALESCE(sqlc.narg(status_info)::text, status_info),
    status_data = COALESCE(sqlc.narg(status_data)::jsonb, status_data),
    status_history = status_history || jsonb_build_object(sqlc.arg(to_status)::text, sqlc.arg(iso)::text),
    terminated_at = CASE WHEN sqlc.arg(to_status)::text IN ('TERMINATED', 'CANCELLED', 'ERROR')
                         THEN sqlc.arg(now)::timestamptz ELSE terminated_at END,
    result = COALESCE(sqlc.narg(result)::text::session_result, result)
WHERE id = sqlc.arg(id) AND status::text = ANY(sqlc.arg(from_statuses)::text[])
RETURNING id, name, access_key, domain_name, group_id, status::text AS status, status_info;

-- name: SessionGetForLifecycle :one
-- SessionGetForLifecycle returns what the lifecycle handlers need of a session.
SELECT s.id, s.name, s.access_key, s.domain_name, s.group_id, s.status::text AS status,
       s.session_type::text AS session_type, s.cluster_mode, s.cluster_size, s.environ,
       s.bootstrap_script, s.startup_command, s.scaling_group_name, s.status_changed,
       COALESCE(s.status_info, '')::text AS status_info
FROM sessions s WHERE s.id = $1;

-- name: SessionLockForLifecycle :one
-- SessionLockForLifecycle locks a session row and returns its status.
SELECT status::text AS status FROM sessions WHERE id = $1 FOR UPDATE;

-- name: ImageGetForKernel :one
-- ImageGetForKernel returns what an agent needs of an image.
SELECT name, architecture, config_digest, is_local, labels, registry
FROM images WHERE name = $1 AND architecture = $2;
