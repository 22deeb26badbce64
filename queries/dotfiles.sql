-- Dotfiles and bootstrap scripts of keypairs, projects and domains (msgpack lists in the
-- dotfiles bytea columns). Writers lock the owner's row, read, change and write back.

-- name: DotfilesKeypairLock :one
-- DotfilesKeypairLock reads a keypair's dotfiles, locking the row for the write that follows.
SELECT dotfiles FROM keypairs WHERE access_key = @access_key FOR UPDATE;

-- name: DotfilesKeypairGet :one
-- DotfilesKeypairGet reads a keypair's dotfiles.
SELECT dotfiles FROM keypairs WHERE access_key = @access_key;

-- name: DotfilesKeypairSet :exec
-- DotfilesKeypairSet stores a keypair's dotfiles.
UPDATE keypairs SET dotfiles = @dotfiles WHERE access_key = @access_key;

-- name: DotfilesProjectLock :one
-- DotfilesProjectLock reads a project's domain and dotfiles, locking the row.
SELECT domain_name, dotfiles FROM groups WHERE id = @id FOR UPDATE;

-- name: DotfilesProjectGet :one
-- DotfilesProjectGet reads a project's domain and dotfiles.
SELECT domain_name, dotfiles FROM groups WHERE id = @id;

-- name: DotfilesProjectByName :one
-- DotfilesProjectByName finds a project's id by domain and name.
SELECT id FROM groups WHERE domain_name = @domain_name AND name = @name;

-- name: DotfilesProjectIsMember :one
-- DotfilesProjectIsMember reports whether a user belongs to a project.
SELECT EXISTS (SELECT 1 FROM association_groups_users WHERE user_id = @user_id AND group_id = @group_id)::boolean;

-- name: DotfilesProjectSet :exec
-- DotfilesProjectSet stores a project's dotfiles.
UPDATE groups SET dotfiles = @dotfiles WHERE id = @id;

-- name: DotfilesDomainLock :one
-- DotfilesDomainLock reads a domain's dotfiles, locking the row.
SELECT dotfiles FROM domains WHERE name = @name FOR UPDATE;

-- name: DotfilesDomainGet :one
-- DotfilesDomainGet reads a domain's dotfiles.
SELECT dotfiles FROM domains WHERE name = @name;

-- name: DotfilesDomainSet :exec
-- DotfilesDomainSet stores a domain's dotfiles.
UPDATE domains SET dotfiles = @dotfiles WHERE name = @name;

-- name: DotfilesForSession :one
-- DotfilesForSession reads the three dotfile lists a new session's kernels get: the owner
-- keypair's, its project's and its domain's (empty when the row is gone).
SELECT COALESCE((SELECT k.dotfiles FROM keypairs k WHERE k.access_key = @access_key), '\x90'::bytea)::bytea AS keypair,
       COALESCE((SELECT g.dotfiles FROM groups g WHERE g.id = @group_id), '\x90'::bytea)::bytea AS project,
       COALESCE((SELECT d.dotfiles FROM domains d WHERE d.name = @domain_name), '\x90'::bytea)::bytea AS domain;

-- name: KernelSetInternalDataBySession :exec
-- KernelSetInternalDataBySession stores the internal data (dotfiles) of a new session's kernels.
UPDATE kernels SET internal_data = @internal_data::jsonb WHERE session_id = @session_id;

-- name: BootstrapScriptGet :one
-- BootstrapScriptGet reads a keypair's bootstrap script.
SELECT bootstrap_script FROM keypairs WHERE access_key = @access_key;

-- name: BootstrapScriptSet :exec
-- BootstrapScriptSet stores a keypair's bootstrap script.
UPDATE keypairs SET bootstrap_script = @bootstrap_script WHERE access_key = @access_key;
