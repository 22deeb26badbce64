-- Session and cluster templates (/template/session, /template/cluster). A caller sees a
-- template when it is a superadmin (see_all), when it is a domain admin of the template's
-- domain (admin_domain), when the template is its own, or when the template belongs to one
-- of its projects. It may change or delete a template it sees unless it sees it only as a
-- member of the template's project.

-- name: TemplateInsert :exec
-- TemplateInsert stores one active template.
INSERT INTO session_templates (id, created_at, domain_name, group_id, user_uuid, type, name, template)
VALUES (@id, @now, @domain_name, sqlc.narg('group_id'), @user_uuid, @type, @name, @template);

-- name: TemplateGet :one
-- TemplateGet returns one active template of the type the caller sees, with whether the caller
-- may change it and the name of its project.
SELECT t.id, t.created_at, t.domain_name, t.group_id, t.user_uuid, t.name, t.template,
       g.name AS group_name,
       (@see_all::bool OR COALESCE(t.domain_name = sqlc.narg('admin_domain')::text, false) OR t.user_uuid = @user_uuid)::bool AS writable
FROM session_templates t
LEFT JOIN groups g ON g.id = t.group_id
WHERE t.id = @id AND t.is_active AND t.type = @type
  AND (@see_all::bool
       OR t.domain_name = sqlc.narg('admin_domain')::text
       OR t.user_uuid = @user_uuid
       OR t.group_id IN (SELECT a.group_id FROM association_groups_users a WHERE a.user_id = @user_uuid));

-- name: TemplateList :many
-- TemplateList returns the active templates of the type the caller sees, optionally of one
-- project, oldest first.
SELECT t.id, t.created_at, t.domain_name, t.group_id, t.user_uuid, t.name, t.template,
       u.email AS user_email, g.name AS group_name
FROM session_templates t
LEFT JOIN users u ON u.uuid = t.user_uuid
LEFT JOIN groups g ON g.id = t.group_id
WHERE t.is_active AND t.type = @type
  AND (sqlc.narg('group_id')::uuid IS NULL OR t.group_id = sqlc.narg('group_id')::uuid)
  AND (@see_all::bool
       OR t.domain_name = sqlc.narg('admin_domain')::text
       OR t.user_uuid = @user_uuid
       OR t.group_id IN (SELECT a.group_id FROM association_groups_users a WHERE a.user_id = @user_uuid))
ORDER BY t.created_at, t.id;

-- name: TemplateUpdate :execrows
-- TemplateUpdate replaces an active template's owner, project, name and content.
UPDATE session_templates
SET group_id = sqlc.narg('group_id'), user_uuid = @user_uuid, name = @name, template = @template
WHERE id = @id AND is_active AND type = @type;

-- name: TemplateDeactivate :execrows
-- TemplateDeactivate deletes an active template (it stays stored, inactive, as in Backend.AI).
UPDATE session_templates SET is_active = false
WHERE id = @id AND is_active AND type = @type;

-- name: TemplateUserScope :one
-- TemplateUserScope returns the domain and role of the user a template is assigned to.
SELECT u.domain_name, u.role FROM users u WHERE u.uuid = @user_uuid;

-- name: TemplateProjectScope :one
-- TemplateProjectScope returns the domain of an active project and whether the user is among
-- its members.
SELECT g.domain_name,
       EXISTS (SELECT 1 FROM association_groups_users a WHERE a.group_id = g.id AND a.user_id = @user_uuid)::bool AS is_member
FROM groups g WHERE g.id = @id AND g.is_active;
