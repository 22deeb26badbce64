-- The create path's pending-session cap counts the PENDING sessions of one access key; a
-- partial index keeps that count proportional to the key's pending sessions, not to every
-- session the key ever had.

-- +goose Up
CREATE INDEX sessions_pending_access_key_idx ON sessions (access_key) WHERE status = 'PENDING';

-- +goose Down
DROP INDEX sessions_pending_access_key_idx;
