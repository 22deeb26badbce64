-- One timestamp format in the lifecycle's JSON: status_history entries (and the scheduler's
-- status_data last_try) are written like Python's datetime.isoformat() of an aware UTC
-- datetime, "2024-03-15T12:34:56.123456+00:00", the fraction left out when it is zero.
-- Entries written before in other forms ("...Z", a fixed ".000000", another offset,
-- PostgreSQL's "2024-03-15 12:34:56+00") are rewritten in it; values that are not
-- timestamps are kept as they are. Running it again changes nothing.

-- +goose Up
SET LOCAL timezone = 'UTC';

-- +goose StatementBegin
CREATE FUNCTION hangar_0008_isoformat(v jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    t timestamp;
    s text;
BEGIN
    IF v IS NULL OR jsonb_typeof(v) <> 'string' THEN
        RETURN v;
    END IF;
    s := v #>> '{}';
    IF s !~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}' THEN
        RETURN v;
    END IF;
    BEGIN
        t := s::timestamptz AT TIME ZONE 'UTC';
    EXCEPTION WHEN others THEN
        RETURN v;
    END;
    RETURN to_jsonb(to_char(t, 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN to_char(t, 'US') = '000000' THEN '' ELSE '.' || to_char(t, 'US') END
        || '+00:00');
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION hangar_0008_history(h jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN jsonb_typeof(h) = 'object'
        THEN (SELECT COALESCE(jsonb_object_agg(key, hangar_0008_isoformat(value)), '{}'::jsonb) FROM jsonb_each(h))
        ELSE h END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION hangar_0008_last_try(d jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN jsonb_typeof(d #> '{scheduler,last_try}') = 'string'
        THEN jsonb_set(d, '{scheduler,last_try}', hangar_0008_isoformat(d #> '{scheduler,last_try}'))
        ELSE d END
$$;
-- +goose StatementEnd

UPDATE sessions SET status_history = hangar_0008_history(status_history)
WHERE status_history IS DISTINCT FROM hangar_0008_history(status_history);
UPDATE kernels SET status_history = hangar_0008_history(status_history)
WHERE status_history IS DISTINCT FROM hangar_0008_history(status_history);
UPDATE vfolders SET status_history = hangar_0008_history(status_history)
WHERE status_history IS DISTINCT FROM hangar_0008_history(status_history);
UPDATE sessions SET status_data = hangar_0008_last_try(status_data)
WHERE status_data IS DISTINCT FROM hangar_0008_last_try(status_data);
UPDATE kernels SET status_data = hangar_0008_last_try(status_data)
WHERE status_data IS DISTINCT FROM hangar_0008_last_try(status_data);

DROP FUNCTION hangar_0008_last_try(jsonb);
DROP FUNCTION hangar_0008_history(jsonb);
DROP FUNCTION hangar_0008_isoformat(jsonb);

-- +goose Down
-- The old forms are not restored: every reader accepts the one format.
SELECT 1;
