-- name: KeypairGetForAuth :one
-- KeypairGetForAuth loads an active keypair with its resource policy, as request
-- authentication needs it.
SELECT sqlc.embed(k), sqlc.embed(p)
FROM keypairs k
JOIN keypair_resource_policies p ON p.name = k.resource_policy
WHERE k.access_key = @access_key AND k.is_active;
