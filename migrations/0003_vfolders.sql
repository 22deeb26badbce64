-- Virtual folders, their per-user permissions and invitations.

-- +goose Up
CREATE TYPE vfolder_usage_mode AS ENUM ('general', 'model', 'data');
CREATE TYPE vfolder_perm AS ENUM ('ro', 'rw', 'wd');
CREATE TYPE vfolder_ownership_type AS ENUM ('user', 'group');
CREATE TYPE vfolder_invitation_state AS ENUM ('pending', 'canceled', 'accepted', 'rejected');
CREATE TYPE vfolder_operation_status AS ENUM ('ready', 'performing', 'cloning', 'mounted', 'error',
    'delete-pending', 'delete-ongoing', 'delete-complete', 'delete-error');

CREATE TABLE vfolders (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    host varchar(128) NOT NULL,
    quota_scope_id varchar(64) NOT NULL,
    name varchar(64) NOT NULL,
    usage_mode vfolder_usage_mode NOT NULL DEFAULT 'general',
    permission vfolder_perm NOT NULL DEFAULT 'rw',
    max_files integer NOT NULL DEFAULT 1000,
    max_size integer,
    num_files integer NOT NULL DEFAULT 0,
    cur_size integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used timestamptz,
    creator varchar(128),
    unmanaged_path varchar(512),
    ownership_type vfolder_ownership_type NOT NULL DEFAULT 'user',
    "user" uuid REFERENCES users (uuid) ON DELETE CASCADE,
    "group" uuid REFERENCES groups (id) ON DELETE CASCADE,
    cloneable boolean NOT NULL DEFAULT false,
    status vfolder_operation_status NOT NULL DEFAULT 'ready',
    status_history jsonb NOT NULL DEFAULT '{}',
    status_changed timestamptz,
    CONSTRAINT ownership_type_match_with_user_or_group CHECK (
        (ownership_type = 'user' AND "user" IS NOT NULL) OR (ownership_type = 'group' AND "group" IS NOT NULL)),
    CONSTRAINT either_one_of_user_or_group CHECK (("user" IS NULL) <> ("group" IS NULL))
);
CREATE INDEX vfolders_user_idx ON vfolders ("user");
CREATE INDEX vfolders_group_idx ON vfolders ("group");

CREATE TABLE vfolder_permissions (
    permission vfolder_perm NOT NULL DEFAULT 'rw',
    vfolder uuid NOT NULL REFERENCES vfolders (id) ON UPDATE CASCADE ON DELETE CASCADE,
    "user" uuid NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
    PRIMARY KEY (vfolder, "user")
);

CREATE TABLE vfolder_invitations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    permission vfolder_perm NOT NULL DEFAULT 'rw',
    inviter varchar(256) NOT NULL,
    invitee varchar(256) NOT NULL,
    state vfolder_invitation_state NOT NULL DEFAULT 'pending',
    created_at timestamptz NOT NULL DEFAULT now(),
    modified_at timestamptz NOT NULL DEFAULT now(),
    vfolder uuid NOT NULL REFERENCES vfolders (id) ON UPDATE CASCADE ON DELETE CASCADE
);

CREATE TABLE vfolder_attachment (
    vfolder uuid NOT NULL REFERENCES vfolders (id) ON DELETE CASCADE,
    kernel uuid NOT NULL REFERENCES kernels (id) ON DELETE CASCADE,
    PRIMARY KEY (vfolder, kernel)
);

-- +goose Down
DROP TABLE vfolder_attachment, vfolder_invitations, vfolder_permissions, vfolders;
DROP TYPE vfolder_operation_status, vfolder_invitation_state, vfolder_ownership_type, vfolder_perm, vfolder_usage_mode;
