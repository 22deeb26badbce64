-- name: AssociationGroupsUsersAddGroups :execrows
-- AssociationGroupsUsersAddGroups makes a user a member of the given projects; existing
-- memberships are left as they are.
INSERT INTO association_groups_users (user_id, group_id)
SELECT @user_id::uuid, g FROM unnest(@group_ids::uuid[]) AS g
ON CONFLICT (user_id, group_id) DO NOTHING;

-- name: AssociationGroupsUsersAddUsers :execrows
-- AssociationGroupsUsersAddUsers makes the given users members of a project; existing
-- memberships are left as they are.
INSERT INTO association_groups_users (user_id, group_id)
SELECT u, @group_id::uuid FROM unnest(@user_ids::uuid[]) AS u
ON CONFLICT (user_id, group_id) DO NOTHING;

-- name: AssociationGroupsUsersRemoveUsers :execrows
-- AssociationGroupsUsersRemoveUsers ends the given users' membership of a project.
DELETE FROM association_groups_users WHERE group_id = @group_id AND user_id = ANY(@user_ids::uuid[]);

-- name: AssociationGroupsUsersRemoveByUser :exec
-- AssociationGroupsUsersRemoveByUser ends all of a user's project memberships.
DELETE FROM association_groups_users WHERE user_id = @user_id;

-- name: AssociationGroupsUsersRemoveOutsideDomain :exec
-- AssociationGroupsUsersRemoveOutsideDomain ends a user's memberships of projects that are not
-- in the given domain.
DELETE FROM association_groups_users a
USING groups g
WHERE a.user_id = @user_id AND g.id = a.group_id AND g.domain_name <> @domain_name;

-- name: AssociationGroupsUsersGroupsOfUsers :many
-- AssociationGroupsUsersGroupsOfUsers lists the projects each of the given users is a member
-- of, by project name.
SELECT a.user_id, g.id, g.name
FROM association_groups_users a
JOIN groups g ON g.id = a.group_id
WHERE a.user_id = ANY(@user_ids::uuid[])
ORDER BY a.user_id, g.name, g.id;

-- name: AssociationGroupsUsersListMembers :many
-- AssociationGroupsUsersListMembers pages through the members of a project by e-mail.
SELECT sqlc.embed(u)
FROM association_groups_users a
JOIN users u ON u.uuid = a.user_id
WHERE a.group_id = @group_id
ORDER BY u.email LIMIT @row_limit OFFSET @row_offset;

-- name: AssociationGroupsUsersCountMembers :one
-- AssociationGroupsUsersCountMembers counts the members of a project.
SELECT count(*) FROM association_groups_users WHERE group_id = @group_id;
