-- Cross-table reads for the resource APIs (/resource/check-presets, /scaling-groups). Slot sums
-- are computed in SQL over the JSONB slot maps: one row per slot name.

-- name: ResourcePresetListForCheck :many
-- ResourcePresetListForCheck lists every resource preset by name.
SELECT name, resource_slots, shared_memory
FROM resource_presets
ORDER BY name;

-- name: ResourceGroupGetForMember :one
-- ResourceGroupGetForMember finds a project of a domain by name, only if the user is a member
-- of it.
SELECT g.id, g.total_resource_slots
FROM groups g
JOIN association_groups_users a ON a.group_id = g.id
WHERE g.name = @name AND g.domain_name = @domain_name AND a.user_id = @user_id;

-- name: ResourceGroupResolve :one
-- ResourceGroupResolve finds a project of a domain by id or by name (give one of them).
SELECT id
FROM groups
WHERE domain_name = @domain_name
  AND (id = sqlc.narg('id')::uuid OR name = sqlc.narg('name')::text)
LIMIT 1;

-- name: ResourceDomainSlots :one
-- ResourceDomainSlots returns a domain's total_resource_slots.
SELECT total_resource_slots
FROM domains
WHERE name = @name;

-- name: ResourceOccupancyByAccessKey :many
-- ResourceOccupancyByAccessKey sums, per slot, the occupied slots of a keypair's kernels that
-- count against user quotas (every status but PENDING, TERMINATING, TERMINATED and CANCELLED;
-- SYSTEM kernels excluded).
SELECT o.key::text AS slot, sum(o.value::numeric)::numeric AS amount
FROM kernels k, jsonb_each_text(k.occupied_slots) AS o(key, value)
WHERE k.access_key = @access_key
  AND k.status NOT IN ('PENDING', 'TERMINATING', 'TERMINATED', 'CANCELLED')
  AND k.role <> 'SYSTEM'
GROUP BY o.key;

-- name: ResourceOccupancyByGroup :many
-- ResourceOccupancyByGroup sums, per slot, the occupied slots of a project's kernels that count
-- against quotas (as ResourceOccupancyByAccessKey).
SELECT o.key::text AS slot, sum(o.value::numeric)::numeric AS amount
FROM kernels k, jsonb_each_text(k.occupied_slots) AS o(key, value)
WHERE k.group_id = @group_id
  AND k.status NOT IN ('PENDING', 'TERMINATING', 'TERMINATED', 'CANCELLED')
  AND k.role <> 'SYSTEM'
GROUP BY o.key;

-- name: ResourceOccupancyByDomain :many
-- ResourceOccupancyByDomain sums, per slot, the occupied slots of a domain's kernels that count
-- against quotas (as ResourceOccupancyByAccessKey).
SELECT o.key::text AS slot, sum(o.value::numeric)::numeric AS amount
FROM kernels k, jsonb_each_text(k.occupied_slots) AS o(key, value)
WHERE k.domain_name = @domain_name
  AND k.status NOT IN ('PENDING', 'TERMINATING', 'TERMINATED', 'CANCELLED')
  AND k.role <> 'SYSTEM'
GROUP BY o.key;

-- name: ResourceOccupancyByUserPerScalingGroup :many
-- ResourceOccupancyByUserPerScalingGroup sums, per scaling group of the session and slot, the
-- occupied slots of a user's kernels in statuses that occupy agent resources (every status but
-- PENDING, TERMINATED and CANCELLED).
SELECT s.scaling_group_name::text AS scaling_group, o.key::text AS slot,
       sum(o.value::numeric)::numeric AS amount
FROM kernels k
JOIN sessions s ON s.id = k.session_id
CROSS JOIN LATERAL jsonb_each_text(k.occupied_slots) AS o(key, value)
WHERE k.user_uuid = @user_uuid
  AND k.status NOT IN ('PENDING', 'TERMINATED', 'CANCELLED')
  AND s.scaling_group_name = ANY(@scaling_groups::text[])
GROUP BY s.scaling_group_name, o.key;

-- name: ScalingGroupListAllowed :many
-- ScalingGroupListAllowed lists the active scaling groups a request may use: those associated
-- with the domain, with the project (when given) or with the access key, ordered by name.
SELECT sg.name, sg.is_public, sg.wsproxy_addr
FROM scaling_groups sg
WHERE sg.is_active
  AND (
    sg.name IN (SELECT d.scaling_group FROM sgroups_for_domains d WHERE d.domain = @domain_name)
    OR sg.name IN (SELECT g.scaling_group FROM sgroups_for_groups g WHERE g."group" = sqlc.narg('group_id')::uuid)
    OR sg.name IN (SELECT k.scaling_group FROM sgroups_for_keypairs k WHERE k.access_key = @access_key)
  )
ORDER BY sg.name;
