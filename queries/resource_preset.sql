-- name: ResourcePresetGetByName :one
-- ResourcePresetGetByName loads one resource preset.
SELECT * FROM resource_presets WHERE name = @name;

-- name: ResourcePresetList :many
-- ResourcePresetList pages through resource presets by name.
SELECT * FROM resource_presets ORDER BY name LIMIT @row_limit OFFSET @row_offset;

-- name: ResourcePresetCount :one
-- ResourcePresetCount counts resource presets.
SELECT count(*) FROM resource_presets;

-- name: ResourcePresetInsert :one
-- ResourcePresetInsert creates a resource preset.
INSERT INTO resource_presets (name, resource_slots, shared_memory)
VALUES (@name, @resource_slots, sqlc.narg('shared_memory'))
RETURNING *;

-- name: ResourcePresetUpdate :one
-- ResourcePresetUpdate changes the given fields of a resource preset; shared_memory changes
-- only when set_shared_memory is true.
UPDATE resource_presets SET
    resource_slots = coalesce(sqlc.narg('resource_slots'), resource_slots),
    shared_memory = CASE WHEN @set_shared_memory::boolean
        THEN sqlc.narg('shared_memory') ELSE shared_memory END
WHERE name = @name
RETURNING *;

-- name: ResourcePresetDelete :execrows
-- ResourcePresetDelete removes a resource preset.
DELETE FROM resource_presets WHERE name = @name;
