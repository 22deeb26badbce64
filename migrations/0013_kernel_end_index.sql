-- The usage reports read the kernels that ended since a time: every user's for
-- /resource/stats/admin/month and /resource/usage/*, one user's for /resource/stats/user/month.
-- Without these indexes each of them reads the whole kernels table.

-- +goose Up
CREATE INDEX kernels_terminated_at_idx ON kernels (terminated_at);
CREATE INDEX kernels_user_terminated_at_idx ON kernels (user_uuid, terminated_at);

-- +goose Down
DROP INDEX kernels_user_terminated_at_idx;
DROP INDEX kernels_terminated_at_idx;
