-- name: SessionRestartOutcome :one
-- SessionRestartOutcome returns a session's status, status_info and the message of the error
-- its last restart recorded in status_data (empty when none).
SELECT status::text AS status, COALESCE(status_info, '')::text AS status_info,
       COALESCE(status_data #>> '{error,repr}', '')::text AS error
FROM sessions WHERE id = @id;
