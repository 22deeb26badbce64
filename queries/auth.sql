-- name: AuthUserByEmail :one
-- AuthUserByEmail finds a user of a domain by email, with the main keypair's secret when that
-- keypair is active, for /auth/authorize.
SELECT u.uuid, u.password, u.status, u.role, u.main_access_key,
       k.secret_key AS main_secret_key
FROM users u
LEFT JOIN keypairs k ON k.access_key = u.main_access_key AND k.is_active
WHERE u.email = @email AND u.domain_name = @domain_name;

-- name: AuthGroupMember :one
-- AuthGroupMember reports whether a user is a member of a project.
SELECT EXISTS (
    SELECT 1 FROM association_groups_users WHERE group_id = @group_id AND user_id = @user_id
);
