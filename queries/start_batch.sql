-- Queries of the batched session start: one statement moves many sessions or kernels.

-- name: SessionClaimStart :many
-- SessionClaimStart moves to PREPARING, in one statement, the sessions of ids that are
-- SCHEDULED, or PREPARING since before preparing_before (their starter may have died), and
-- returns what starting them needs. Rows another transaction holds are skipped: that
-- transaction is starting or ending them. Rows are locked in id order.
WITH claimed AS (
    SELECT c.id FROM sessions c
    WHERE c.id = ANY(sqlc.arg(ids)::uuid[])
      AND (c.status = 'SCHEDULED'
           OR (c.status = 'PREPARING' AND c.status_changed < sqlc.arg(preparing_before)::timestamptz))
    ORDER BY c.id
    FOR UPDATE SKIP LOCKED
)
UPDATE sessions s
SET status = 'PREPARING',
    status_changed = sqlc.arg(now)::timestamptz,
    status_history = s.status_history || jsonb_build_object('PREPARING', sqlc.arg(iso)::text)
FROM claimed
WHERE s.id = claimed.id
RETURNING s.id, s.name, s.access_key, s.domain_name, s.group_id, s.session_type::text AS session_type,
          s.cluster_mode, s.environ, s.bootstrap_script, s.startup_command;

-- name: SessionLockMany :many
-- SessionLockMany locks, in id order, the sessions of ids whose status is one of statuses
-- and returns their ids.
SELECT id FROM sessions
WHERE id = ANY(sqlc.arg(ids)::uuid[]) AND status::text = ANY(sqlc.arg(statuses)::text[])
ORDER BY id
FOR UPDATE;

-- name: SessionTransitionMany :many
-- SessionTransitionMany is SessionTransition over the sessions of ids.
UPDATE sessions
SET status = sqlc.arg(to_status)::text::session_status,
    status_changed = sqlc.arg(now)::timestamptz,
    status_info = COALESCE(sqlc.narg(status_info)::text, status_info),
    status_data = COALESCE(sqlc.narg(status_data)::jsonb, status_data),
    status_history = status_history || jsonb_build_object(sqlc.arg(to_status)::text, sqlc.arg(iso)::text),
    terminated_at = CASE WHEN sqlc.arg(to_status)::text IN ('TERMINATED', 'CANCELLED', 'ERROR')
                         THEN sqlc.arg(now)::timestamptz ELSE terminated_at END,
    result = COALESCE(sqlc.narg(result)::text::session_result, result)
WHERE id = ANY(sqlc.arg(ids)::uuid[]) AND status::text = ANY(sqlc.arg(from_statuses)::text[])
RETURNING id, name, access_key, domain_name, group_id, status::text AS status, status_info;

-- name: KernelTransitionMany :many
-- KernelTransitionMany is KernelTransition over the kernels of the sessions of session_ids.
UPDATE kernels
SET status = sqlc.arg(to_status)::text::kernel_status,
    status_changed = sqlc.arg(now)::timestamptz,
    status_info = COALESCE(sqlc.narg(status_info)::text, status_info),
    status_data = COALESCE(sqlc.narg(status_data)::jsonb, status_data),
    status_history = status_history || jsonb_build_object(sqlc.arg(to_status)::text, sqlc.arg(iso)::text),
    terminated_at = CASE WHEN sqlc.arg(to_status)::text IN ('TERMINATED', 'CANCELLED', 'ERROR')
                         THEN sqlc.arg(now)::timestamptz ELSE terminated_at END,
    result = COALESCE(sqlc.narg(result)::text::session_result, result)
WHERE session_id = ANY(sqlc.arg(session_ids)::uuid[])
  AND status::text = ANY(sqlc.arg(from_statuses)::text[])
RETURNING id, session_id, cluster_role, cluster_idx;

-- name: KernelListBySessions :many
-- KernelListBySessions lists the kernels of the sessions of session_ids, by session, each
-- session's main kernel first.
SELECT id, session_id, status::text AS status, cluster_role, cluster_idx, local_rank, cluster_hostname,
       agent, agent_addr, image, architecture, registry, requested_slots, occupied_slots,
       resource_opts, environ, bootstrap_script, startup_command, preopen_ports, scaling_group,
       internal_data
FROM kernels
WHERE session_id = ANY(sqlc.arg(session_ids)::uuid[])
ORDER BY session_id, (cluster_role = 'main') DESC, cluster_idx, local_rank;

-- name: KernelSetStartedMany :exec
-- KernelSetStartedMany is KernelSetStarted over many kernels, the i-th of every array
-- describing the i-th kernel.
UPDATE kernels k
SET container_id = u.container_id, kernel_host = u.kernel_host,
    repl_in_port = u.repl_in_port, repl_out_port = u.repl_out_port,
    stdin_port = u.stdin_port, stdout_port = u.stdout_port,
    service_ports = u.service_ports::jsonb
FROM (SELECT unnest(sqlc.arg(ids)::uuid[]) AS id,
             unnest(sqlc.arg(container_ids)::text[]) AS container_id,
             unnest(sqlc.arg(kernel_hosts)::text[]) AS kernel_host,
             unnest(sqlc.arg(repl_in_ports)::int[]) AS repl_in_port,
             unnest(sqlc.arg(repl_out_ports)::int[]) AS repl_out_port,
             unnest(sqlc.arg(stdin_ports)::int[]) AS stdin_port,
             unnest(sqlc.arg(stdout_ports)::int[]) AS stdout_port,
             unnest(sqlc.arg(service_ports)::text[]) AS service_ports) AS u
WHERE k.id = u.id;

-- name: ScheduleTickStaleScheduled :many
-- ScheduleTickStaleScheduled lists the sessions SCHEDULED since before the cutoff with their
-- scaling group and the time they were placed.
SELECT id, COALESCE(scaling_group_name, '')::text AS scaling_group, status_changed
FROM sessions
WHERE status = 'SCHEDULED' AND status_changed < sqlc.arg(cutoff)::timestamptz;
