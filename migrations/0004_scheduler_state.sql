-- Scheduler state kept between passes: where the round-robin agent search of a scaling group
-- resumes. It is read and written inside the pass's transaction, under the scaling group's
-- advisory lock, so concurrent workers never skip or repeat a position.

-- +goose Up
ALTER TABLE scaling_groups ADD COLUMN roundrobin_index integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE scaling_groups DROP COLUMN roundrobin_index;
