-- Queries of the images table and its aliases: image rescans (jobs/image), `hangar image`
-- and the /admin/images API.

-- name: ImageUpsert :one
-- ImageUpsert stores one image found by a rescan, keyed by (name, architecture): new rows are
-- inserted, existing ones get the registry's digests, size, labels, resources and
-- accelerators, last_seen_at = now and missing_since cleared. It returns whether the row is
-- new, its config digest before the call ("" when new) and whether it was marked missing.
WITH old AS (
    SELECT rtrim(o.config_digest)::text AS config_digest, o.missing_since
    FROM images o WHERE o.name = @name AND o.architecture = @architecture
)
INSERT INTO images (name, image, tag, registry, architecture, config_digest, manifest_digest, size_bytes,
                    is_local, type, accelerators, labels, resources, last_seen_at, missing_since)
VALUES (@name, @image, @tag, @registry, @architecture, @config_digest, @manifest_digest, @size_bytes,
        false, 'COMPUTE', sqlc.narg(accelerators), @labels, @resources, sqlc.arg(now)::timestamptz, NULL)
ON CONFLICT (name, architecture) DO UPDATE SET
    image = EXCLUDED.image,
    tag = EXCLUDED.tag,
    registry = EXCLUDED.registry,
    config_digest = EXCLUDED.config_digest,
    manifest_digest = EXCLUDED.manifest_digest,
    size_bytes = EXCLUDED.size_bytes,
    is_local = false,
    accelerators = EXCLUDED.accelerators,
    labels = EXCLUDED.labels,
    resources = EXCLUDED.resources,
    last_seen_at = EXCLUDED.last_seen_at,
    missing_since = NULL
RETURNING id,
    (NOT EXISTS (SELECT 1 FROM old))::boolean AS inserted,
    COALESCE((SELECT config_digest FROM old), '')::text AS old_config_digest,
    COALESCE((SELECT missing_since IS NOT NULL FROM old), false)::boolean AS was_missing;

-- name: ImageMarkMissing :many
-- ImageMarkMissing sets missing_since on the images of a registry that a rescan at now did not
-- find although it covered them: all the registry's repositories not in the catalog (when
-- whole_registry), the repositories whose tag lists were read (repos) and the tags read by
-- name (names), except the tags that could not be read (failed). Rows seen at now, local
-- images and rows already missing are left alone. It returns the rows marked.
UPDATE images
SET missing_since = sqlc.arg(now)::timestamptz
WHERE registry = @registry
  AND missing_since IS NULL
  AND NOT is_local
  AND last_seen_at IS DISTINCT FROM sqlc.arg(now)::timestamptz
  AND NOT (name = ANY(sqlc.arg(failed)::text[]))
  AND (
    (sqlc.arg(whole_registry)::boolean AND NOT (image = ANY(sqlc.arg(catalog)::text[])))
    OR image = ANY(sqlc.arg(repos)::text[])
    OR name = ANY(sqlc.arg(names)::text[])
  )
RETURNING name, architecture;

-- name: ImageList :many
-- ImageList lists the images, optionally of one registry, with their aliases, by name and
-- architecture.
SELECT i.id, i.name, i.registry, i.image, i.tag, i.architecture,
       rtrim(i.config_digest)::text AS config_digest, i.manifest_digest, i.size_bytes,
       i.type::text AS type, i.is_local, i.accelerators, i.labels, i.resources,
       i.created_at, i.last_seen_at, i.missing_since,
       COALESCE(array_agg(a.alias ORDER BY a.alias) FILTER (WHERE a.alias IS NOT NULL), '{}')::text[] AS aliases
FROM images i
LEFT JOIN image_aliases a ON a.image = i.id
WHERE sqlc.narg(registry)::text IS NULL OR i.registry = sqlc.narg(registry)::text
GROUP BY i.id
ORDER BY i.name, i.architecture;

-- name: ImageArchitectures :many
-- ImageArchitectures lists the rows of one canonical image name: its id per architecture.
SELECT id, architecture FROM images WHERE name = $1 ORDER BY architecture;

-- name: ImageAliasSet :one
-- ImageAliasSet makes alias point at an image, creating the alias or re-pointing it.
INSERT INTO image_aliases (alias, image) VALUES (@alias, @image)
ON CONFLICT (alias) DO UPDATE SET image = EXCLUDED.image
RETURNING id;

-- name: ImageAliasDelete :execrows
-- ImageAliasDelete removes an alias; it returns the number of rows deleted (0 or 1).
DELETE FROM image_aliases WHERE alias = $1;
