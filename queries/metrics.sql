-- name: MetricsSessionCountByStatus :many
-- MetricsSessionCountByStatus counts sessions by status, for the hangar_sessions gauge.
SELECT status, count(*)::bigint AS count FROM sessions GROUP BY status;

-- name: MetricsAgentCountByStatus :many
-- MetricsAgentCountByStatus counts agents by status, for the hangar_agents gauge.
SELECT status, count(*)::bigint AS count FROM agents GROUP BY status;
