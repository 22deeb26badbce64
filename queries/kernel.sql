-- name: KernelCountActiveMain :one
-- KernelCountActiveMain counts the main kernels in statuses that occupy agent resources (every
-- status but PENDING, TERMINATED and CANCELLED): the sessions /manager/status reports as active.
SELECT count(*)::bigint
FROM kernels
WHERE cluster_role = 'main'
  AND status NOT IN ('PENDING', 'TERMINATED', 'CANCELLED');
