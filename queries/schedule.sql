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

-- name: ScheduleLockAgentSlots :many
-- ScheduleLockAgentSlots locks, in key order, the slots of the given agents for the rest of
-- the transaction and returns their capacity and occupied amounts.
SELECT agent_id, slot, capacity::text AS capacity, occupied::text AS occupied
FROM agent_slots
WHERE agent_id = ANY(sqlc.arg(agent_ids)::text[])
ORDER BY agent_id, slot
FOR UPDATE;

-- name: ScheduleReserveAgentSlots :execrows
-- ScheduleReserveAgentSlots adds each delta (a decimal string) to its agent slot's occupied
-- amount where that stays within the capacity; the rows that would exceed it are left as
-- they are. The (agent, slot) pairs must be distinct.
UPDATE agent_slots s
SET occupied = s.occupied + u.delta::numeric
FROM (SELECT unnest(sqlc.arg(agent_ids)::text[]) AS agent_id,
             unnest(sqlc.arg(slots)::text[]) AS slot,
             unnest(sqlc.arg(deltas)::text[]) AS delta) AS u
WHERE s.agent_id = u.agent_id AND s.slot = u.slot
  AND s.agent_id = ANY(sqlc.arg(agent_ids)::text[])
  AND s.occupied + u.delta::numeric <= s.capacity;

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

-- name: ScheduleLockKernels :many
-- ScheduleLockKernels locks, in id order, the PENDING kernels of ids for the rest of the
-- transaction and returns their ids.
SELECT id FROM kernels
WHERE id = ANY(sqlc.arg(ids)::uuid[]) AND status = 'PENDING'
ORDER BY id
FOR UPDATE;

-- name: ScheduleMarkKernels :execrows
-- ScheduleMarkKernels places PENDING kernels on their agents and marks their slots reserved:
-- kernel ids[i] on agents[i] with occupied_slots[i] (a JSON object).
UPDATE kernels k
SET agent = u.agent,
    agent_addr = (SELECT ag.addr FROM agents ag WHERE ag.id = u.agent),
    scaling_group = COALESCE(k.scaling_group, (SELECT ag.scaling_group FROM agents ag WHERE ag.id = u.agent)),
    status = 'SCHEDULED',
    slots_reserved = true,
    occupied_slots = u.occupied_slots::jsonb,
    status_changed = sqlc.arg(now)::timestamptz,
    status_history = k.status_history || jsonb_build_object('SCHEDULED', sqlc.arg(iso)::text)
FROM (SELECT unnest(sqlc.arg(ids)::uuid[]) AS id,
             unnest(sqlc.arg(agents)::text[]) AS agent,
             unnest(sqlc.arg(occupied_slots)::text[]) AS occupied_slots) AS u
WHERE k.id = u.id AND k.status = 'PENDING';

-- name: ScheduleMarkSessions :execrows
-- ScheduleMarkSessions marks PENDING sessions SCHEDULED: session ids[i] on the agents of
-- agent_ids[i] (a JSON array) with occupying_slots[i] (a JSON object).
UPDATE sessions s
SET status = 'SCHEDULED',
    agent_ids = ARRAY(SELECT x.agent FROM jsonb_array_elements_text(u.agent_ids::jsonb) WITH ORDINALITY AS x (agent, n) ORDER BY x.n),
    occupying_slots = u.occupying_slots::jsonb,
    status_info = 'scheduled',
    status_data = '{}',
    status_changed = sqlc.arg(now)::timestamptz,
    status_history = s.status_history || jsonb_build_object('SCHEDULED', sqlc.arg(iso)::text)
FROM (SELECT unnest(sqlc.arg(ids)::uuid[]) AS id,
             unnest(sqlc.arg(agent_ids)::text[]) AS agent_ids,
             unnest(sqlc.arg(occupying_slots)::text[]) AS occupying_slots) AS u
WHERE s.id = u.id AND s.status = 'PENDING';

-- name: ScheduleSetPendingInfo :exec
-- ScheduleSetPendingInfo records why PENDING sessions stay pending: session ids[i] gets
-- status_info infos[i] and status_data data[i] (a JSON object).
UPDATE sessions s
SET status_info = u.info, status_data = u.data::jsonb
FROM (SELECT unnest(sqlc.arg(ids)::uuid[]) AS id,
             unnest(sqlc.arg(infos)::text[]) AS info,
             unnest(sqlc.arg(data)::text[]) AS data) AS u
WHERE s.id = u.id AND s.status = 'PENDING';

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
