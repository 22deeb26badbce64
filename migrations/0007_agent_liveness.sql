-- Agent liveness: last_seen is when the manager last applied a heartbeat of the agent, on the
-- manager's clock (last_heartbeat is the agent's own clock, which may drift). The lost-agent
-- check compares last_seen with manager.heartbeat-timeout.

-- +goose Up
ALTER TABLE agents ADD COLUMN last_seen timestamptz;
UPDATE agents SET last_seen = COALESCE(last_heartbeat, first_contact);
CREATE INDEX agents_alive_last_seen_idx ON agents (last_seen) WHERE status = 'ALIVE';
CREATE INDEX kernels_live_agent_idx ON kernels (agent)
    WHERE status NOT IN ('TERMINATED', 'CANCELLED', 'ERROR');

-- +goose Down
DROP INDEX kernels_live_agent_idx;
DROP INDEX agents_alive_last_seen_idx;
ALTER TABLE agents DROP COLUMN last_seen;
