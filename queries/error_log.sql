-- Error logs (/logs/error). The scope of a list or a clear is one of: every log (superadmin,
-- no filter), the logs of one domain's users (domain_name), or one user's logs that are not
-- cleared (user_id).

-- name: ErrorLogInsert :one
-- ErrorLogInsert files one error log at now.
INSERT INTO error_logs (created_at, severity, source, "user", message, context_lang, context_env,
                        request_url, request_status, traceback)
VALUES (@now, @severity, @source, @user_id, @message, @context_lang, @context_env,
        sqlc.narg('request_url'), sqlc.narg('request_status'), sqlc.narg('traceback'))
RETURNING id;

-- name: ErrorLogList :many
-- ErrorLogList returns a page of the logs in scope, newest first, with the count of all of them.
SELECT e.id, e.created_at, e.severity::text AS severity, e.source, e."user" AS user_id, e.is_read,
       e.is_cleared, e.message, e.context_lang, e.context_env, e.request_url, e.request_status,
       e.traceback
FROM error_logs e
LEFT JOIN users u ON u.uuid = e."user"
WHERE (sqlc.narg('domain_name')::text IS NULL OR u.domain_name = sqlc.narg('domain_name')::text)
  AND (sqlc.narg('user_id')::uuid IS NULL OR (e."user" = sqlc.narg('user_id')::uuid AND NOT e.is_cleared))
ORDER BY e.created_at DESC, e.id
LIMIT @page_size OFFSET @page_offset;

-- name: ErrorLogCount :one
-- ErrorLogCount counts the logs in scope (for a page past the end, which has no rows to carry it).
SELECT count(*)
FROM error_logs e
LEFT JOIN users u ON u.uuid = e."user"
WHERE (sqlc.narg('domain_name')::text IS NULL OR u.domain_name = sqlc.narg('domain_name')::text)
  AND (sqlc.narg('user_id')::uuid IS NULL OR (e."user" = sqlc.narg('user_id')::uuid AND NOT e.is_cleared));

-- name: ErrorLogMarkRead :exec
-- ErrorLogMarkRead marks the given logs read.
UPDATE error_logs SET is_read = true WHERE id = ANY(@ids::uuid[]);

-- name: ErrorLogClear :execrows
-- ErrorLogClear marks one log in scope cleared.
UPDATE error_logs e SET is_cleared = true
WHERE e.id = @id
  AND (sqlc.narg('domain_name')::text IS NULL
       OR EXISTS (SELECT 1 FROM users u WHERE u.uuid = e."user" AND u.domain_name = sqlc.narg('domain_name')::text))
  AND (sqlc.narg('user_id')::uuid IS NULL OR e."user" = sqlc.narg('user_id')::uuid);
