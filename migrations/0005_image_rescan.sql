-- Image rescans keep track of when each image was last found in its registry. A rescan
-- upserts the images it finds (keyed by name and architecture) with last_seen_at set to the
-- scan's time and missing_since cleared; images of the scanned registry, repository or tag
-- that the scan no longer finds get missing_since set. Rows are never deleted by a rescan:
-- running sessions, aliases and history keep pointing at them, and an image that comes
-- back is simply seen again. manifest_digest is the digest of the image's own manifest
-- (config_digest stays the config blob's, like Backend.AI's).

-- +goose Up
ALTER TABLE images
    ADD COLUMN manifest_digest varchar(72) NOT NULL DEFAULT '',
    ADD COLUMN last_seen_at timestamptz,
    ADD COLUMN missing_since timestamptz;
CREATE INDEX images_registry_image ON images (registry, image);

-- +goose Down
DROP INDEX images_registry_image;
ALTER TABLE images DROP COLUMN missing_since, DROP COLUMN last_seen_at, DROP COLUMN manifest_digest;
