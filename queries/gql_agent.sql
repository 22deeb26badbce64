-- Batch lookups of the GraphQL endpoint's agent fields: one query per batch of agents.

-- name: GqlKernelsByAgents :many
-- GqlKernelsByAgents lists the kernels placed on the given agents whose status is one of
-- statuses, by agent and creation time.
SELECT * FROM kernels
WHERE agent = ANY(sqlc.arg(agent_ids)::text[])
  AND status::text = ANY(sqlc.arg(statuses)::text[])
ORDER BY agent, created_at, id;
