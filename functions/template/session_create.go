package template

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/session"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// templateCreateBody is the body of a template create (both kinds).
type templateCreateBody struct {
	Group          *string `json:"group,omitempty" doc:"Project name or id (\"default\" by default)."`
	Domain         *string `json:"domain,omitempty" doc:"Domain name (\"default\" by default)."`
	OwnerAccessKey *string `json:"owner_access_key,omitempty" nullable:"true" doc:"Store the template for this access key's user (admins only)."`
	Payload        string  `json:"payload" doc:"The template(s), as JSON or YAML text."`
}

type sessionTemplateCreateInput struct {
	Body templateCreateBody
}

// TemplateCreated is one stored template.
type TemplateCreated struct {
	ID   string `json:"id" doc:"Template id (32 hex digits)." example:"c1b8441aba464a838727de6645f521b4"`
	User string `json:"user" doc:"Id of the user it belongs to (32 hex digits)."`
}

// SessionTemplateCreateOutput is the answer of POST /template/session.
type SessionTemplateCreateOutput struct {
	Body []TemplateCreated
}

func registerSessionCreate(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "create-session-template", Method: http.MethodPost, Path: "/template/session", Tag: tag,
		Summary: "Store session templates",
		Description: "Stores the session templates of payload for the owner (the caller, or owner_access_key's user " +
			"for admins) in the project group of domain. payload is a JSON list, or YAML documents, of entries " +
			"{name?, group_id?, user_uuid?, template}; template is a task template (api_version, kind, metadata, spec). " +
			"group_id and user_uuid assign an entry to another project or user, within the caller's rights.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{403},
		Aliases: scopeAliases,
	}), func(ctx context.Context, in *sessionTemplateCreateInput) (*SessionTemplateCreateOutput, error) {
		return createSessionTemplates(ctx, s, &in.Body)
	})
}

// entry is one checked template of a create.
type entry struct {
	name     string
	group    *uuid.UUID
	user     uuid.UUID
	template *TaskTemplate
}

func createSessionTemplates(ctx context.Context, s *functions.Server, b *templateCreateBody) (*SessionTemplateCreateOutput, error) {
	sc, err := session.ResolveScope(ctx, s, b.OwnerAccessKey, b.Domain, b.Group)
	if err != nil {
		return nil, err
	}
	docs, err := decodePayload(b.Payload)
	if err != nil {
		return nil, err
	}
	// A JSON payload is one list of entries; a YAML payload is one entry per document (a
	// document holding a list counts as its entries).
	var items []any
	for _, d := range docs {
		if l, ok := d.([]any); ok {
			items = append(items, l...)
		} else {
			items = append(items, d)
		}
	}
	if len(items) == 0 {
		return nil, errPayload("holds no template")
	}
	if len(items) > maxTemplates {
		return nil, errPayload(fmt.Sprintf("holds %d templates, at most %d", len(items), maxTemplates))
	}
	entries := make([]entry, 0, len(items))
	for i, it := range items {
		e, err := checkEntry(ctx, s, sc, it, fmt.Sprintf("payload.%d.", i))
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	out := &SessionTemplateCreateOutput{Body: make([]TemplateCreated, 0, len(entries))}
	now := s.Deps().Clock()
	err = db.InTx(ctx, s.Deps().Pool, func(tx pgx.Tx) error {
		for _, e := range entries {
			raw, err := encodeJSON(e.template.Doc, "template")
			if err != nil {
				return err
			}
			id := uuid.New()
			name := e.name
			if err := db.Q.TemplateInsert(ctx, tx, &dbsqlc.TemplateInsertParams{
				ID: id, Now: now, DomainName: sc.Domain, GroupID: e.group, UserUuid: e.user,
				Type: dbsqlc.TemplateTypeTASK, Name: &name, Template: raw,
			}); err != nil {
				return err
			}
			out.Body = append(out.Body, TemplateCreated{ID: hexID(id), User: hexID(e.user)})
		}
		return nil
	})
	if err != nil {
		var p *functions.Problem
		if errors.As(err, &p) {
			return nil, p
		}
		return nil, functions.FromDB(err, "task template")
	}
	return out, nil
}

// checkEntry checks one entry {name?, group_id?, user_uuid?, template} of a create or update;
// other keys (such as the id and is_active of a fixture row) are ignored, as Backend.AI does.
func checkEntry(ctx context.Context, s *functions.Server, sc session.Scope, it any, root string) (entry, error) {
	m, ok := it.(map[string]any)
	if !ok {
		return entry{}, functions.ErrInvalidAPIParams("Invalid template.", map[string]string{root[:len(root)-1]: "must be a mapping with a template"})
	}
	if _, ok := m["template"]; !ok {
		if _, isTemplate := m["kind"]; !isTemplate {
			return entry{}, functions.ErrInvalidAPIParams("Invalid template.", map[string]string{root + "template": "is required"})
		}
		// A bare template document is an entry of that template.
		m = map[string]any{"template": m}
	}
	t, err := checkTask(m["template"], root+"template.")
	if err != nil {
		return entry{}, err
	}
	e := entry{name: t.Name, template: t, user: sc.UserUUID}
	g := sc.GroupID
	e.group = &g
	if n, given := m["name"]; given && n != nil {
		name, ok := n.(string)
		if !ok {
			return entry{}, functions.ErrInvalidAPIParams("Invalid template.", map[string]string{root + "name": "must be a string"})
		}
		e.name = name
	}
	if len([]rune(e.name)) > 128 {
		return entry{}, functions.ErrInvalidAPIParams("Invalid template.", map[string]string{root + "name": "at most 128 characters"})
	}
	if v, given := m["user_uuid"]; given && v != nil {
		if e.user, err = parseID(v, root+"user_uuid"); err != nil {
			return entry{}, err
		}
		if err := checkUser(ctx, s, sc, e.user); err != nil {
			return entry{}, err
		}
	}
	if v, given := m["group_id"]; given && v != nil {
		gid, err := parseID(v, root+"group_id")
		if err != nil {
			return entry{}, err
		}
		if err := checkProject(ctx, s, sc, gid, root+"group_id"); err != nil {
			return entry{}, err
		}
		e.group = &gid
	}
	return e, nil
}

func parseID(v any, key string) (uuid.UUID, error) {
	str, _ := v.(string)
	id, err := uuid.Parse(str)
	if err != nil {
		return uuid.Nil, functions.ErrInvalidAPIParams("Invalid template.", map[string]string{key: "must be a UUID"})
	}
	return id, nil
}

// checkUser lets a template be assigned to user: the owner themself, any user for a
// superadmin, a user of their domain who is not a superadmin for a domain admin.
func checkUser(ctx context.Context, s *functions.Server, sc session.Scope, user uuid.UUID) error {
	if user == sc.UserUUID {
		return nil
	}
	id := functions.IdentityFrom(ctx)
	if !id.IsSuperadmin() && !id.IsDomainAdmin() {
		return functions.ErrGenericForbidden("Only admins can store templates for other users.")
	}
	row, err := db.Q.TemplateUserScope(ctx, s.Deps().Pool, user)
	if err != nil {
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return functions.ErrInvalidAPIParams("Unknown user.", map[string]string{"user_uuid": user.String()})
		}
		return functions.FromDB(err, "user")
	}
	if !id.IsSuperadmin() && (row.DomainName != id.Domain() || row.Role == dbsqlc.UserRoleSuperadmin) {
		return functions.ErrGenericForbidden("Only admins can store templates for other users.")
	}
	return nil
}

// checkProject lets a template be assigned to project gid: an active project of the scope's
// domain, of which the owner must be a member unless the caller is an admin.
func checkProject(ctx context.Context, s *functions.Server, sc session.Scope, gid uuid.UUID, key string) error {
	if gid == sc.GroupID {
		return nil
	}
	row, err := db.Q.TemplateProjectScope(ctx, s.Deps().Pool, &dbsqlc.TemplateProjectScopeParams{UserUuid: sc.UserUUID, ID: gid})
	if err != nil {
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return functions.ErrInvalidAPIParams("Invalid group", map[string]string{key: gid.String()})
		}
		return functions.FromDB(err, "project")
	}
	id := functions.IdentityFrom(ctx)
	if row.DomainName != sc.Domain || (!row.IsMember && !id.IsSuperadmin() && !id.IsDomainAdmin()) {
		return functions.ErrInvalidAPIParams("Invalid group", map[string]string{key: gid.String()})
	}
	return nil
}
