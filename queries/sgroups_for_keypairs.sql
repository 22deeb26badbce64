-- name: SgroupsForKeypairsList :many
-- SgroupsForKeypairsList pages through the keypairs associated with a scaling group, with
-- each keypair's owner email.
SELECT a.scaling_group, a.access_key, k.user_id
FROM sgroups_for_keypairs a
JOIN keypairs k ON k.access_key = a.access_key
WHERE a.scaling_group = @scaling_group
ORDER BY a.access_key LIMIT @row_limit OFFSET @row_offset;

-- name: SgroupsForKeypairsCount :one
-- SgroupsForKeypairsCount counts the keypairs associated with a scaling group.
SELECT count(*) FROM sgroups_for_keypairs WHERE scaling_group = @scaling_group;

-- name: SgroupsForKeypairsTarget :one
-- SgroupsForKeypairsTarget loads the keypair to associate with a scaling group: its access key
-- and owner email.
SELECT access_key, user_id FROM keypairs WHERE access_key = @access_key;

-- name: SgroupsForKeypairsInsert :exec
-- SgroupsForKeypairsInsert associates a keypair with a scaling group; an existing association
-- is left as it is.
INSERT INTO sgroups_for_keypairs (scaling_group, access_key) VALUES (@scaling_group, @access_key)
ON CONFLICT (scaling_group, access_key) DO NOTHING;

-- name: SgroupsForKeypairsDelete :execrows
-- SgroupsForKeypairsDelete removes the association of a keypair with a scaling group.
DELETE FROM sgroups_for_keypairs WHERE scaling_group = @scaling_group AND access_key = @access_key;
