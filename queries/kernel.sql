-- name: KernelCountActiveMain :one
-- KernelCountActiveMain counts the main kernels in statuses that occupy agent resources (every
-- status but PENDING, TERMINATED and CANCELLED): the sessions /manager/status reports as active.
SELECT count(*)::bigint
FROM kernels
WHERE cluster_role = 'main'
  AND status NOT IN ('PENDING', 'TERMINATED', 'CANCELLED');

-- name: KernelTransition :many
-- KernelTransition moves the kernels of a session (or one kernel, when kernel_id is set) whose
-- status is one of from_statuses to to_status, recording the status history.
UPDATE kernels
SET status = sqlc.arg(to_status)::text::kernel_status,
    status_changed = sqlc.arg(now)::timestamptz,
    status_info = COALESCE(sqlc.narg(status_info)::text, status_info),
    status_data = COALESCE(sqlc.narg(status_data)::jsonb, status_data),
    status_history = status_history || jsonb_build_object(sqlc.arg(to_status)::text, sqlc.arg(iso)::text),
    terminated_at = CASE WHEN sqlc.arg(to_status)::text IN ('TERMINATED', 'CANCELLED', 'ERROR')
                         THEN sqlc.arg(now)::timestamptz ELSE terminated_at END,
    result = COALESCE(sqlc.narg(result)::text::session_result, result)
WHERE session_id = sqlc.arg(session_id)
  AND (sqlc.narg(kernel_id)::uuid IS NULL OR id = sqlc.narg(kernel_id)::uuid)
  AND status::text = ANY(sqlc.arg(from_statuses)::text[])
RETURNING id, cluster_role, cluster_idx;

-- name: KernelSetStarted :exec
-- KernelSetStarted records what the agent reported about a kernel it created.
UPDATE kernels
SET container_id = sqlc.arg(container_id), kernel_host = sqlc.arg(kernel_host),
    repl_in_port = sqlc.arg(repl_in_port), repl_out_port = sqlc.arg(repl_out_port),
    stdin_port = sqlc.arg(stdin_port), stdout_port = sqlc.arg(stdout_port),
    service_ports = sqlc.arg(service_ports)::jsonb
WHERE id = sqlc.arg(id);

-- name: KernelReleaseSlots :one
-- KernelReleaseSlots clears a kernel's reservation flag and returns what it held, exactly
-- once: a kernel already released returns no row.
UPDATE kernels
SET slots_reserved = false
WHERE id = $1 AND slots_reserved
RETURNING agent, occupied_slots;

-- name: KernelListBySession :many
-- KernelListBySession lists a session's kernels, main kernel first.
SELECT id, session_id, status::text AS status, cluster_role, cluster_idx, local_rank, cluster_hostname,
       agent, agent_addr, image, architecture, registry, requested_slots, occupied_slots,
       resource_opts, environ, bootstrap_script, startup_command, preopen_ports, scaling_group
FROM kernels
WHERE session_id = $1
ORDER BY (cluster_role = 'main') DESC, cluster_idx, local_rank;

-- name: KernelCountUnfinished :one
-- KernelCountUnfinished counts a session's kernels that have not ended.
SELECT count(*)::bigint FROM kernels
WHERE session_id = $1 AND status NOT IN ('TERMINATED', 'CANCELLED', 'ERROR');

-- name: KernelResultSummary :one
-- KernelResultSummary returns whether any kernel of a session failed.
SELECT COALESCE(bool_or(result = 'FAILURE'), false)::boolean AS failed FROM kernels WHERE session_id = $1;

-- name: KernelMainGet :one
-- KernelMainGet returns a session's main kernel with where it runs, for the operations an
-- agent answers directly (execute, logs, files, interrupt, restart).
SELECT id, session_id, status::text AS status, agent, agent_addr, container_log
FROM kernels
WHERE session_id = $1 AND cluster_role = 'main'
ORDER BY cluster_idx
LIMIT 1;

-- name: KernelContainerLogSet :exec
-- KernelContainerLogSet stores a kernel's container log, read back once the kernel is gone.
UPDATE kernels SET container_log = @container_log WHERE id = @id;

-- name: KernelAgentAddrGet :one
-- KernelAgentAddrGet returns the RPC address of the agent a kernel was placed on (NULL when none).
SELECT agent_addr FROM kernels WHERE id = $1;

-- name: KernelContainerIDSet :exec
-- KernelContainerIDSet records the container a restarted kernel runs in now.
UPDATE kernels SET container_id = @container_id WHERE id = @id;
