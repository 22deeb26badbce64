-- Agents with per-slot capacity and occupancy, images, sessions, kernels and their dependencies.
--
-- Slot accounting: agent_slots holds one row per (agent, slot) with the capacity the agent reports
-- and the amount occupied by its live kernels. The CHECK constraint makes over-commitment impossible
-- at the database level; reservations are guarded UPDATEs (occupied + request <= capacity).

-- +goose Up
CREATE TYPE agent_status AS ENUM ('ALIVE', 'LOST', 'RESTARTING', 'TERMINATED');
CREATE TYPE session_status AS ENUM ('PENDING', 'SCHEDULED', 'PULLING', 'PREPARING', 'RUNNING',
    'RESTARTING', 'RUNNING_DEGRADED', 'TERMINATING', 'TERMINATED', 'ERROR', 'CANCELLED');
CREATE TYPE kernel_status AS ENUM ('PENDING', 'SCHEDULED', 'PREPARING', 'BUILDING', 'PULLING', 'RUNNING',
    'RESTARTING', 'RESIZING', 'SUSPENDED', 'TERMINATING', 'TERMINATED', 'ERROR', 'CANCELLED');
CREATE TYPE session_type AS ENUM ('INTERACTIVE', 'BATCH', 'INFERENCE');
CREATE TYPE session_result AS ENUM ('UNDEFINED', 'SUCCESS', 'FAILURE');
CREATE TYPE kernel_role AS ENUM ('INFERENCE', 'COMPUTE', 'SYSTEM');
CREATE TYPE image_type AS ENUM ('COMPUTE', 'SYSTEM', 'SERVICE');
CREATE TYPE template_type AS ENUM ('TASK', 'CLUSTER');

CREATE TABLE agents (
    id varchar(64) PRIMARY KEY,
    status agent_status NOT NULL DEFAULT 'ALIVE',
    status_changed timestamptz,
    region varchar(64) NOT NULL DEFAULT 'local',
    scaling_group varchar(64) NOT NULL DEFAULT 'default' REFERENCES scaling_groups (name) ON UPDATE CASCADE,
    schedulable boolean NOT NULL DEFAULT true,
    addr varchar(128) NOT NULL,
    public_host varchar(256),
    public_key varchar(40),
    first_contact timestamptz NOT NULL DEFAULT now(),
    lost_at timestamptz,
    last_heartbeat timestamptz,
    version varchar(64) NOT NULL DEFAULT '',
    architecture varchar(32) NOT NULL DEFAULT 'x86_64',
    compute_plugins jsonb NOT NULL DEFAULT '{}',
    auto_terminate_abusing_kernel boolean NOT NULL DEFAULT false
);
CREATE INDEX agents_scaling_group_status_idx ON agents (scaling_group, status);

CREATE TABLE agent_slots (
    agent_id varchar(64) NOT NULL REFERENCES agents (id) ON UPDATE CASCADE ON DELETE CASCADE,
    slot varchar(64) NOT NULL,
    slot_type varchar(16) NOT NULL DEFAULT 'count' CHECK (slot_type IN ('count', 'bytes', 'unique')),
    capacity numeric NOT NULL CHECK (capacity >= 0),
    occupied numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, slot),
    CONSTRAINT agent_slots_not_overcommitted CHECK (occupied >= 0 AND occupied <= capacity)
);

CREATE TABLE images (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name varchar NOT NULL,
    image varchar NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    tag varchar NOT NULL,
    registry varchar NOT NULL,
    architecture varchar NOT NULL DEFAULT 'x86_64',
    config_digest char(72) NOT NULL DEFAULT '',
    size_bytes bigint NOT NULL DEFAULT 0,
    is_local boolean NOT NULL DEFAULT false,
    type image_type NOT NULL DEFAULT 'COMPUTE',
    accelerators varchar,
    labels jsonb NOT NULL DEFAULT '{}',
    resources jsonb NOT NULL DEFAULT '{}',
    UNIQUE (name, architecture)
);

CREATE TABLE image_aliases (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    alias varchar(128) NOT NULL UNIQUE,
    image uuid NOT NULL REFERENCES images (id) ON DELETE CASCADE
);

CREATE TABLE sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    creation_id varchar(32),
    name varchar(64) NOT NULL,
    session_type session_type NOT NULL DEFAULT 'INTERACTIVE',
    cluster_mode varchar(16) NOT NULL DEFAULT 'single-node',
    cluster_size integer NOT NULL DEFAULT 1,
    agent_ids varchar[],
    scaling_group_name varchar(64) REFERENCES scaling_groups (name),
    target_sgroup_names varchar[] NOT NULL DEFAULT '{}',
    domain_name varchar(64) NOT NULL REFERENCES domains (name),
    group_id uuid NOT NULL REFERENCES groups (id),
    user_uuid uuid NOT NULL REFERENCES users (uuid),
    access_key varchar(20) NOT NULL REFERENCES keypairs (access_key),
    images varchar[] NOT NULL DEFAULT '{}',
    tag varchar(64),
    occupying_slots jsonb NOT NULL DEFAULT '{}',
    requested_slots jsonb NOT NULL DEFAULT '{}',
    vfolder_mounts jsonb NOT NULL DEFAULT '[]',
    environ jsonb NOT NULL DEFAULT '{}',
    bootstrap_script varchar(16384),
    use_host_network boolean NOT NULL DEFAULT false,
    timeout bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    terminated_at timestamptz,
    starts_at timestamptz,
    status session_status NOT NULL DEFAULT 'PENDING',
    status_info varchar(64),
    status_data jsonb NOT NULL DEFAULT '{}',
    status_history jsonb NOT NULL DEFAULT '{}',
    status_changed timestamptz NOT NULL DEFAULT now(),
    callback_url varchar,
    startup_command text,
    result session_result NOT NULL DEFAULT 'UNDEFINED',
    num_queries bigint NOT NULL DEFAULT 0,
    last_stat jsonb
);
CREATE INDEX sessions_name_idx ON sessions (name);
CREATE INDEX sessions_access_key_idx ON sessions (access_key);
CREATE INDEX sessions_status_idx ON sessions (status, scaling_group_name);
CREATE INDEX sessions_created_terminated_idx ON sessions (greatest(created_at, terminated_at));

CREATE TABLE kernels (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    session_creation_id varchar(32),
    session_name varchar(64) NOT NULL,
    session_type session_type NOT NULL DEFAULT 'INTERACTIVE',
    cluster_mode varchar(16) NOT NULL DEFAULT 'single-node',
    cluster_size integer NOT NULL DEFAULT 1,
    cluster_role varchar(16) NOT NULL DEFAULT 'main',
    cluster_idx integer NOT NULL DEFAULT 0,
    local_rank integer NOT NULL DEFAULT 0,
    cluster_hostname varchar(64) NOT NULL DEFAULT 'main1',
    scaling_group varchar(64) REFERENCES scaling_groups (name),
    agent varchar(64) REFERENCES agents (id),
    agent_addr varchar(128),
    domain_name varchar(64) NOT NULL REFERENCES domains (name),
    group_id uuid NOT NULL REFERENCES groups (id),
    user_uuid uuid NOT NULL REFERENCES users (uuid),
    access_key varchar(20) NOT NULL REFERENCES keypairs (access_key),
    image varchar(512),
    architecture varchar(32) NOT NULL DEFAULT 'x86_64',
    registry varchar(512),
    tag varchar(64),
    container_id varchar(64),
    occupied_slots jsonb NOT NULL DEFAULT '{}',
    requested_slots jsonb NOT NULL DEFAULT '{}',
    -- slots_reserved is true exactly while this kernel's occupied_slots are counted in agent_slots;
    -- flipping it (true → false) in the same transaction as the release makes release exactly-once.
    slots_reserved boolean NOT NULL DEFAULT false,
    environ varchar[],
    mount_map jsonb NOT NULL DEFAULT '{}',
    vfolder_mounts jsonb NOT NULL DEFAULT '[]',
    attached_devices jsonb NOT NULL DEFAULT '{}',
    resource_opts jsonb NOT NULL DEFAULT '{}',
    bootstrap_script varchar(16384),
    kernel_host varchar(128),
    repl_in_port integer NOT NULL DEFAULT 0,
    repl_out_port integer NOT NULL DEFAULT 0,
    stdin_port integer NOT NULL DEFAULT 0,
    stdout_port integer NOT NULL DEFAULT 0,
    service_ports jsonb,
    preopen_ports integer[],
    use_host_network boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    terminated_at timestamptz,
    starts_at timestamptz,
    status kernel_status NOT NULL DEFAULT 'PENDING',
    role kernel_role NOT NULL DEFAULT 'COMPUTE',
    status_changed timestamptz NOT NULL DEFAULT now(),
    status_info varchar(1024),
    status_data jsonb NOT NULL DEFAULT '{}',
    status_history jsonb NOT NULL DEFAULT '{}',
    callback_url varchar,
    startup_command text,
    result session_result NOT NULL DEFAULT 'UNDEFINED',
    internal_data jsonb,
    container_log bytea,
    num_queries bigint NOT NULL DEFAULT 0,
    last_stat jsonb
);
CREATE INDEX kernels_session_role_idx ON kernels (session_id, cluster_role);
CREATE INDEX kernels_status_role_idx ON kernels (status, cluster_role);
CREATE INDEX kernels_agent_idx ON kernels (agent) WHERE slots_reserved;
CREATE UNIQUE INDEX kernels_unique_live_session_name ON kernels (access_key, session_name)
    WHERE status NOT IN ('TERMINATED', 'CANCELLED') AND cluster_role = 'main';

CREATE TABLE session_dependencies (
    session_id uuid NOT NULL REFERENCES sessions (id) ON UPDATE CASCADE ON DELETE CASCADE,
    depends_on uuid NOT NULL REFERENCES sessions (id) ON UPDATE CASCADE ON DELETE CASCADE,
    CONSTRAINT sess_dep_pk PRIMARY KEY (session_id, depends_on)
);

CREATE TABLE session_templates (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    is_active boolean NOT NULL DEFAULT true,
    domain_name varchar(64) NOT NULL REFERENCES domains (name),
    group_id uuid REFERENCES groups (id),
    user_uuid uuid NOT NULL REFERENCES users (uuid),
    type template_type NOT NULL DEFAULT 'TASK',
    name varchar(128),
    template jsonb NOT NULL
);

-- +goose Down
DROP TABLE session_templates, session_dependencies, kernels, sessions, image_aliases, images, agent_slots, agents;
DROP TYPE template_type, image_type, kernel_role, session_result, session_type, kernel_status, session_status, agent_status;
