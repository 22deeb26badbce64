-- Idle checking. sessions.last_access_at is the last time the session was used through the
-- API (execute, stream execute, upload, download, file listing, logs, ...), on the manager's
-- clock; it is stamped at most once a second per session. A session that was never accessed
-- counts from the time it became RUNNING (its status_changed). kernel_utilization keeps the
-- utilization samples agents report in their heartbeats (percentages by metric name:
-- cpu_util, mem, cuda_util, cuda_mem), one row per kernel and heartbeat; the idle check
-- prunes rows older than the longest utilization window.

-- +goose Up
ALTER TABLE sessions ADD COLUMN last_access_at timestamptz;
CREATE TABLE kernel_utilization (
    kernel_id uuid NOT NULL REFERENCES kernels (id) ON DELETE CASCADE,
    at timestamptz NOT NULL,
    metrics jsonb NOT NULL,
    PRIMARY KEY (kernel_id, at)
);
CREATE INDEX kernel_utilization_at_idx ON kernel_utilization (at);
CREATE INDEX sessions_running_idx ON sessions (id) WHERE status = 'RUNNING';

-- +goose Down
DROP INDEX sessions_running_idx;
DROP TABLE kernel_utilization;
ALTER TABLE sessions DROP COLUMN last_access_at;
