-- Usage history for /resource/usage/month, /resource/usage/period and /resource/stats/*/month,
-- read from the kernel rows (Backend.AI keeps no separate accounting table either).

-- name: UsageKernelsForPeriod :many
-- UsageKernelsForPeriod lists the kernels whose life overlaps [start_at, end_at): TERMINATED or
-- RUNNING kernels that ended at or after start_at and were created before end_at, and RUNNING
-- kernels created before end_at (Backend.AI's RESOURCE_USAGE_KERNEL_STATUSES and LIVE_STATUS).
-- Only kernels of the projects in group_ids when it is not null. With their session's owner
-- and project, ended kernels first in the order they ended.
SELECT k.id, k.session_id, k.container_id, k.session_name, k.access_key, k.agent, k.domain_name,
       k.group_id, g.name AS group_name, u.email, u.full_name, k.image, k.cluster_mode,
       k.attached_devices, k.occupied_slots, k.resource_opts, k.vfolder_mounts, k.last_stat,
       k.created_at, k.terminated_at, k.status::text AS status, k.status_info, k.status_changed,
       k.status_history,
       s.name AS s_name, s.user_uuid AS s_user_uuid, s.access_key AS s_access_key,
       s.domain_name AS s_domain_name, su.email AS s_email, su.full_name AS s_full_name
FROM kernels k
JOIN groups g ON g.id = k.group_id
JOIN users u ON u.uuid = k.user_uuid
JOIN sessions s ON s.id = k.session_id
JOIN users su ON su.uuid = s.user_uuid
WHERE ((k.terminated_at >= @start_at AND k.created_at < @end_at AND k.status IN ('TERMINATED', 'RUNNING'))
       OR (k.created_at < @end_at AND k.status = 'RUNNING'))
  AND (sqlc.narg('group_ids')::uuid[] IS NULL OR k.group_id = ANY (sqlc.narg('group_ids')::uuid[]))
ORDER BY k.terminated_at ASC NULLS LAST, k.created_at, k.id;

-- name: UsageKernelsEndedSince :many
-- UsageKernelsEndedSince lists the TERMINATED or RUNNING kernels that ended at or after since
-- (so RUNNING ones, which have not ended, never), of one user when user_uuid is not null, in
-- the order they were created.
SELECT k.id, k.created_at, k.terminated_at, k.occupied_slots, k.last_stat
FROM kernels k
WHERE k.terminated_at >= @since
  AND k.status IN ('TERMINATED', 'RUNNING')
  AND (sqlc.narg('user_uuid')::uuid IS NULL OR k.user_uuid = sqlc.narg('user_uuid')::uuid)
ORDER BY k.created_at, k.id;

-- name: KernelLatestSamples :many
-- KernelLatestSamples returns, for each kernel of ids that has utilization samples, the latest
-- one (percentages by metric) with the kernel's occupied slots.
SELECT k.id, k.occupied_slots, ku.metrics
FROM kernels k
JOIN LATERAL (
    SELECT u.metrics FROM kernel_utilization u WHERE u.kernel_id = k.id ORDER BY u.at DESC LIMIT 1
) ku ON true
WHERE k.id = ANY (@ids::uuid[]);

-- name: KernelSetLastStats :exec
-- KernelSetLastStats stores the last statistics of kernels: stats is a JSON object kernel id →
-- statistics; kernels it does not name are left alone.
UPDATE kernels
SET last_stat = @stats::jsonb -> id::text
WHERE id IN (SELECT jsonb_object_keys(@stats::jsonb)::uuid);
