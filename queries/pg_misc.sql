-- name: PGAdvisoryXactLock :exec
-- PGAdvisoryXactLock takes a transaction-scoped advisory lock on the given key.
SELECT pg_advisory_xact_lock(@key::bigint);

-- name: PGTryAdvisoryXactLock :one
-- PGTryAdvisoryXactLock tries to take a transaction-scoped advisory lock without waiting.
SELECT pg_try_advisory_xact_lock(@key::bigint);
