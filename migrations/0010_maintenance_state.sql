-- Maintenance state shared by the workers. The lost-agent check records each of its runs: when
-- the previous run is too long ago (the manager could not run it: PostgreSQL or Redis was away,
-- or every worker was down), heartbeats were not being received either, so the check gives the
-- agents one heartbeat timeout from then before it takes any of them for lost.

-- +goose Up
CREATE TABLE maintenance_state (
    name            text PRIMARY KEY,
    last_run        timestamptz NOT NULL,
    -- since when the check has run without a gap; NULL: since before the first recorded run
    listening_since timestamptz
);

-- +goose Down
DROP TABLE maintenance_state;
