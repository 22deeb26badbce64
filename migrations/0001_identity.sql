-- Identity, policies, scaling groups and presets: the tables Backend.AI fixtures populate.
-- Column names follow Backend.AI 24.03 so its fixture files load unchanged.

-- +goose Up
CREATE TYPE user_role AS ENUM ('superadmin', 'admin', 'user', 'monitor');
CREATE TYPE user_status AS ENUM ('active', 'inactive', 'deleted', 'before-verification');
CREATE TYPE default_for_unspecified AS ENUM ('LIMITED', 'UNLIMITED');
CREATE TYPE project_type AS ENUM ('general', 'model-store');

CREATE TABLE domains (
    name varchar(64) PRIMARY KEY,
    description varchar(512),
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    modified_at timestamptz NOT NULL DEFAULT now(),
    total_resource_slots jsonb NOT NULL DEFAULT '{}',
    allowed_vfolder_hosts jsonb NOT NULL DEFAULT '{}',
    allowed_docker_registries varchar[] NOT NULL DEFAULT '{}',
    integration_id varchar(512),
    dotfiles bytea NOT NULL DEFAULT '\x90'
);

CREATE TABLE keypair_resource_policies (
    name varchar(256) PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    default_for_unspecified default_for_unspecified NOT NULL DEFAULT 'LIMITED',
    total_resource_slots jsonb NOT NULL DEFAULT '{}',
    max_session_lifetime integer NOT NULL DEFAULT 0,
    max_concurrent_sessions integer NOT NULL DEFAULT 0,
    max_pending_session_count integer,
    max_pending_session_resource_slots jsonb,
    max_concurrent_sftp_sessions integer NOT NULL DEFAULT 1,
    max_containers_per_session integer NOT NULL DEFAULT 1,
    idle_timeout bigint NOT NULL DEFAULT 0,
    allowed_vfolder_hosts jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE user_resource_policies (
    name varchar(256) PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    max_vfolder_count integer NOT NULL DEFAULT 0,
    max_quota_scope_size bigint NOT NULL DEFAULT -1,
    max_session_count_per_model_session integer NOT NULL DEFAULT 10,
    max_customized_image_count integer NOT NULL DEFAULT 3
);

CREATE TABLE project_resource_policies (
    name varchar(256) PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    max_vfolder_count integer NOT NULL DEFAULT 0,
    max_quota_scope_size bigint NOT NULL DEFAULT -1
);

CREATE TABLE groups (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name varchar(64) NOT NULL,
    description varchar(512),
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    modified_at timestamptz NOT NULL DEFAULT now(),
    integration_id varchar(512),
    domain_name varchar(64) NOT NULL REFERENCES domains (name) ON UPDATE CASCADE ON DELETE CASCADE,
    total_resource_slots jsonb NOT NULL DEFAULT '{}',
    allowed_vfolder_hosts jsonb NOT NULL DEFAULT '{}',
    dotfiles bytea NOT NULL DEFAULT '\x90',
    resource_policy varchar(256) NOT NULL REFERENCES project_resource_policies (name),
    type project_type NOT NULL DEFAULT 'general',
    container_registry jsonb,
    UNIQUE (name, domain_name)
);

CREATE TABLE users (
    uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username varchar(64) UNIQUE,
    email varchar(64) NOT NULL UNIQUE,
    password varchar(128),
    need_password_change boolean NOT NULL DEFAULT false,
    password_changed_at timestamptz,
    full_name varchar(64),
    description varchar(500),
    status user_status NOT NULL DEFAULT 'active',
    status_info varchar(64),
    created_at timestamptz NOT NULL DEFAULT now(),
    modified_at timestamptz NOT NULL DEFAULT now(),
    integration_id varchar(512),
    domain_name varchar(64) NOT NULL REFERENCES domains (name) ON UPDATE CASCADE,
    role user_role NOT NULL DEFAULT 'user',
    allowed_client_ip cidr[],
    totp_key varchar(32),
    totp_activated boolean NOT NULL DEFAULT false,
    totp_activated_at timestamptz,
    resource_policy varchar(256) NOT NULL REFERENCES user_resource_policies (name),
    sudo_session_enabled boolean NOT NULL DEFAULT false,
    main_access_key varchar(20)
);
CREATE INDEX users_domain_name_idx ON users (domain_name);

CREATE TABLE association_groups_users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (uuid) ON UPDATE CASCADE ON DELETE CASCADE,
    group_id uuid NOT NULL REFERENCES groups (id) ON UPDATE CASCADE ON DELETE CASCADE,
    UNIQUE (user_id, group_id)
);
CREATE INDEX association_groups_users_group_id_idx ON association_groups_users (group_id);

CREATE TABLE keypairs (
    access_key varchar(20) PRIMARY KEY,
    secret_key varchar(40) NOT NULL,
    user_id varchar(256) NOT NULL,
    "user" uuid NOT NULL REFERENCES users (uuid) ON UPDATE CASCADE ON DELETE CASCADE,
    is_active boolean NOT NULL DEFAULT true,
    is_admin boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    modified_at timestamptz NOT NULL DEFAULT now(),
    last_used timestamptz,
    rate_limit integer NOT NULL DEFAULT 5000,
    num_queries integer NOT NULL DEFAULT 0,
    ssh_public_key text,
    ssh_private_key text,
    resource_policy varchar(256) NOT NULL REFERENCES keypair_resource_policies (name),
    dotfiles bytea NOT NULL DEFAULT '\x90',
    bootstrap_script varchar(65536) NOT NULL DEFAULT ''
);
CREATE INDEX keypairs_user_idx ON keypairs ("user");

ALTER TABLE users ADD CONSTRAINT users_main_access_key_fkey
    FOREIGN KEY (main_access_key) REFERENCES keypairs (access_key) ON DELETE SET NULL;

CREATE TABLE resource_presets (
    name varchar(256) PRIMARY KEY,
    resource_slots jsonb NOT NULL,
    shared_memory bigint
);

CREATE TABLE scaling_groups (
    name varchar(64) PRIMARY KEY,
    description varchar(512),
    is_active boolean NOT NULL DEFAULT true,
    is_public boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    wsproxy_addr varchar(1024),
    wsproxy_api_token varchar(128),
    driver varchar(64) NOT NULL DEFAULT 'static',
    driver_opts jsonb NOT NULL DEFAULT '{}',
    scheduler varchar(64) NOT NULL DEFAULT 'fifo' CHECK (scheduler IN ('fifo', 'lifo', 'drf', 'mof')),
    use_host_network boolean NOT NULL DEFAULT false,
    scheduler_opts jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE sgroups_for_domains (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    scaling_group varchar(64) NOT NULL REFERENCES scaling_groups (name) ON UPDATE CASCADE ON DELETE CASCADE,
    domain varchar(64) NOT NULL REFERENCES domains (name) ON UPDATE CASCADE ON DELETE CASCADE,
    UNIQUE (scaling_group, domain)
);

CREATE TABLE sgroups_for_groups (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    scaling_group varchar(64) NOT NULL REFERENCES scaling_groups (name) ON UPDATE CASCADE ON DELETE CASCADE,
    "group" uuid NOT NULL REFERENCES groups (id) ON UPDATE CASCADE ON DELETE CASCADE,
    UNIQUE (scaling_group, "group")
);

CREATE TABLE sgroups_for_keypairs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    scaling_group varchar(64) NOT NULL REFERENCES scaling_groups (name) ON UPDATE CASCADE ON DELETE CASCADE,
    access_key varchar(20) NOT NULL REFERENCES keypairs (access_key) ON UPDATE CASCADE ON DELETE CASCADE,
    UNIQUE (scaling_group, access_key)
);

-- +goose Down
DROP TABLE sgroups_for_keypairs, sgroups_for_groups, sgroups_for_domains, scaling_groups, resource_presets;
ALTER TABLE users DROP CONSTRAINT users_main_access_key_fkey;
DROP TABLE keypairs, association_groups_users, users, groups, project_resource_policies,
    user_resource_policies, keypair_resource_policies, domains;
DROP TYPE project_type, default_for_unspecified, user_status, user_role;
