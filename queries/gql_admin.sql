-- Lookups of the GraphQL endpoint's user, domain, group, resource-policy and preset fields.
-- The batch ones take every key of one request at once.

-- name: GqlScalingGroupsOfDomains :many
SELECT domain, scaling_group FROM sgroups_for_domains
WHERE domain = ANY(sqlc.arg(domains)::varchar[])
ORDER BY domain, scaling_group;

-- name: GqlScalingGroupsOfGroups :many
SELECT "group" AS group_id, scaling_group FROM sgroups_for_groups
WHERE "group" = ANY(sqlc.arg(group_ids)::uuid[])
ORDER BY "group", scaling_group;

-- GqlSessionsOfAccessKeys answers the sessions of each access key, newest first and at most
-- per_key of them per key; statuses (names) narrows them unless empty.
-- name: GqlSessionsOfAccessKeys :many
SELECT * FROM sessions
WHERE id IN (
    SELECT ranked.id FROM (
        SELECT s.id, row_number() OVER (PARTITION BY s.access_key ORDER BY s.created_at DESC, s.id) AS rn
        FROM sessions s
        WHERE s.access_key = ANY(sqlc.arg(access_keys)::varchar[])
          AND (cardinality(sqlc.arg(statuses)::text[]) = 0 OR s.status::text = ANY(sqlc.arg(statuses)::text[]))
    ) ranked
    WHERE ranked.rn <= sqlc.arg(per_key)::int
)
ORDER BY access_key, created_at DESC, id;

-- name: GqlKeypairResourcePolicies :many
SELECT * FROM keypair_resource_policies ORDER BY name;

-- GqlKeypairResourcePoliciesOfUser answers the policies of the user's keypairs.
-- name: GqlKeypairResourcePoliciesOfUser :many
SELECT * FROM keypair_resource_policies
WHERE name IN (SELECT resource_policy FROM keypairs WHERE "user" = sqlc.arg(user_uuid))
ORDER BY name;

-- name: GqlUserResourcePolicies :many
SELECT * FROM user_resource_policies ORDER BY name;

-- name: GqlProjectResourcePolicies :many
SELECT * FROM project_resource_policies ORDER BY name;

-- GqlProjectResourcePoliciesOfMember answers the policies of the projects the user belongs to.
-- name: GqlProjectResourcePoliciesOfMember :many
SELECT * FROM project_resource_policies
WHERE name IN (
    SELECT g.resource_policy FROM groups g
    JOIN association_groups_users agu ON agu.group_id = g.id
    WHERE agu.user_id = sqlc.arg(user_uuid)
)
ORDER BY name;

-- name: GqlResourcePresets :many
SELECT * FROM resource_presets ORDER BY name;
