-- Cache invalidation: every change to a table the API caches lookups of (identity, policies,
-- projects, images, scaling groups and their associations) sends a notification on the
-- channel hangar_cache whose payload is the table name. The API drops its cached answers read
-- from that table when the notification arrives (internal/cache). PostgreSQL delivers one
-- notification per distinct payload and transaction, at commit.
--
-- Triggers are per statement, except UPDATE of scaling_groups, which is per row and ignores
-- changes to roundrobin_index alone: every schedule pass writes that column.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION hangar_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hangar_cache', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['domains', 'users', 'keypairs', 'keypair_resource_policies',
        'user_resource_policies', 'project_resource_policies', 'groups', 'association_groups_users',
        'images', 'image_aliases', 'scaling_groups', 'sgroups_for_domains', 'sgroups_for_groups',
        'sgroups_for_keypairs']
    LOOP
        EXECUTE format('CREATE TRIGGER hangar_cache_notify_write AFTER INSERT OR DELETE%s ON %I '
            'FOR EACH STATEMENT EXECUTE FUNCTION hangar_cache_notify()',
            CASE WHEN t = 'scaling_groups' THEN '' ELSE ' OR UPDATE' END, t);
        EXECUTE format('CREATE TRIGGER hangar_cache_notify_truncate AFTER TRUNCATE ON %I '
            'FOR EACH STATEMENT EXECUTE FUNCTION hangar_cache_notify()', t);
    END LOOP;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER hangar_cache_notify_update AFTER UPDATE ON scaling_groups
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'roundrobin_index') IS DISTINCT FROM (to_jsonb(NEW) - 'roundrobin_index'))
    EXECUTE FUNCTION hangar_cache_notify();

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['domains', 'users', 'keypairs', 'keypair_resource_policies',
        'user_resource_policies', 'project_resource_policies', 'groups', 'association_groups_users',
        'images', 'image_aliases', 'scaling_groups', 'sgroups_for_domains', 'sgroups_for_groups',
        'sgroups_for_keypairs']
    LOOP
        EXECUTE format('DROP TRIGGER hangar_cache_notify_write ON %I', t);
        EXECUTE format('DROP TRIGGER hangar_cache_notify_truncate ON %I', t);
    END LOOP;
END;
$$;
-- +goose StatementEnd
DROP TRIGGER hangar_cache_notify_update ON scaling_groups;
DROP FUNCTION hangar_cache_notify();
