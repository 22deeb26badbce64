-- Error logs filed by clients (Backend.AI's /logs/error): what went wrong where, for whom, with
-- the client's context. Users see their own logs until they clear them; admins see their
-- domain's; superadmins all. Severity is Backend.AI's errorlog_severity.

-- +goose Up
CREATE TYPE errorlog_severity AS ENUM ('critical', 'error', 'warning');
CREATE TABLE error_logs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    severity errorlog_severity NOT NULL,
    source varchar NOT NULL,
    "user" uuid REFERENCES users (uuid) ON DELETE CASCADE,
    is_read boolean NOT NULL DEFAULT false,
    is_cleared boolean NOT NULL DEFAULT false,
    message text NOT NULL,
    context_lang varchar NOT NULL,
    context_env jsonb NOT NULL,
    request_url varchar,
    request_status integer,
    traceback text
);
CREATE INDEX error_logs_created_at_idx ON error_logs (created_at);
CREATE INDEX error_logs_user_idx ON error_logs ("user", created_at);

-- +goose Down
DROP TABLE error_logs;
DROP TYPE errorlog_severity;
