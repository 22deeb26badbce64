package userconfig

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// groupTag groups the /group-config operations in the OpenAPI document.
const groupTag = "group-config"

// groupAliases are the other names Backend.AI accepts for the project.
var groupAliases = functions.Aliases{{"group", "groupId", "group_id"}} //nolint:gochecknoglobals // read-only

// projectStore is the dotfile storage of one project.
func projectStore(id uuid.UUID) store {
	return store{
		lock: func(ctx context.Context, tx pgx.Tx) ([]byte, error) {
			row, err := db.Q.DotfilesProjectLock(ctx, tx, id)
			if err != nil {
				return nil, err
			}
			return row.Dotfiles, nil
		},
		read: func(ctx context.Context, q dbsqlc.DBTX) ([]byte, error) {
			row, err := db.Q.DotfilesProjectGet(ctx, q, id)
			if err != nil {
				return nil, err
			}
			return row.Dotfiles, nil
		},
		set: func(ctx context.Context, tx pgx.Tx, packed []byte) error {
			return db.Q.DotfilesProjectSet(ctx, tx, &dbsqlc.DotfilesProjectSetParams{Dotfiles: packed, ID: id})
		},
		object: "user group (or project)",
	}
}

type groupRef struct {
	Group  *string `json:"group,omitempty" doc:"Project id, or name (then domain is required)." example:"default"`
	Domain *string `json:"domain,omitempty" nullable:"true" doc:"Domain of the project named by group."`
}

// resolve finds the project and its domain: by id, or by name within the given domain.
func (g *groupRef) resolve(ctx context.Context, s *functions.Server) (uuid.UUID, string, error) {
	if g.Group == nil {
		return uuid.Nil, "", functions.ErrInvalidAPIParams("Missing required parameters.", map[string]string{"group": "is required"})
	}
	notFound := functions.ErrObjectNotFound("user group (or project)", "")
	pool := s.Deps().Pool
	if id, err := uuid.Parse(*g.Group); err == nil {
		row, err := db.Q.DotfilesProjectGet(ctx, pool, id)
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return uuid.Nil, "", notFound
		}
		if err != nil {
			return uuid.Nil, "", functions.FromDB(err, "user group (or project)")
		}
		return id, row.DomainName, nil
	}
	if g.Domain == nil || *g.Domain == "" {
		return uuid.Nil, "", functions.ErrInvalidAPIParams("Missing parameter 'domain'", map[string]string{"domain": "is required when group is a name"})
	}
	id, err := db.Q.DotfilesProjectByName(ctx, pool, &dbsqlc.DotfilesProjectByNameParams{DomainName: *g.Domain, Name: *g.Group})
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return uuid.Nil, "", notFound
	}
	if err != nil {
		return uuid.Nil, "", functions.FromDB(err, "user group (or project)")
	}
	return id, *g.Domain, nil
}

// adminProject resolves the project an admin writes to: a superadmin's any, a domain admin's
// in their domain only (403 otherwise).
func (g *groupRef) adminProject(ctx context.Context, s *functions.Server) (uuid.UUID, error) {
	id, domain, err := g.resolve(ctx, s)
	if err != nil {
		return uuid.Nil, err
	}
	caller := functions.IdentityFrom(ctx)
	if !caller.IsSuperadmin() && caller.Domain() != domain {
		return uuid.Nil, functions.ErrGenericForbidden("Admins cannot change group dotfiles of other domains")
	}
	return id, nil
}

type groupWriteInput struct {
	Body struct {
		Group      *string `json:"group,omitempty" doc:"Project id, or name (then domain is required)." example:"default"`
		Domain     *string `json:"domain,omitempty" nullable:"true" doc:"Domain of the project named by group."`
		Data       *string `json:"data,omitempty" maxLength:"65536" doc:"Content (at most 64 KiB)."`
		Path       *string `json:"path,omitempty" maxLength:"255" doc:"Path relative to the home directory; no '..', not reserved (.ssh, .jupyter, .local, .config, .terminfo)." example:".vimrc"`
		Permission *string `json:"permission,omitempty" pattern:"^[0-7]{3}$" doc:"Permission as three octal digits." example:"644"`
	}
}

type groupListInput struct {
	Body struct {
		Group  *string `json:"group,omitempty" doc:"Project id, or name (then domain is required)." example:"default"`
		Domain *string `json:"domain,omitempty" nullable:"true" doc:"Domain of the project named by group."`
		Path   *string `json:"path,omitempty" nullable:"true" doc:"Answer only the dotfile at this path."`
	}
}

type groupDeleteInput struct {
	Body struct {
		Group  *string `json:"group,omitempty" doc:"Project id, or name (then domain is required)." example:"default"`
		Domain *string `json:"domain,omitempty" nullable:"true" doc:"Domain of the project named by group."`
		Path   *string `json:"path,omitempty" doc:"Path of the dotfile to delete."`
	}
}

func registerGroup(s *functions.Server) {
	const path = "/group-config/dotfiles"
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "create-group-dotfile", Method: http.MethodPost, Path: path, Tag: groupTag,
		Summary:     "Create a dotfile of a project",
		Description: "Adds a dotfile that new sessions of the project's members find in their home directory (admins of its domain).",
		Role:        functions.Admin, Frozen: functions.ReadAllowed, Params: true, Errors: []int{404}, Aliases: groupAliases,
	}), func(ctx context.Context, in *groupWriteInput) (*EmptyOutput, error) {
		f, err := checkWrite(&writeBody{Data: in.Body.Data, Path: in.Body.Path, Permission: in.Body.Permission})
		if err != nil {
			return nil, err
		}
		id, err := (&groupRef{Group: in.Body.Group, Domain: in.Body.Domain}).adminProject(ctx, s)
		if err != nil {
			return nil, err
		}
		return &EmptyOutput{}, create(ctx, s, projectStore(id), f)
	})
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-group-dotfiles", Method: http.MethodGet, Path: path, Tag: groupTag,
		Summary: "List a project's dotfiles, or get one",
		Description: "Lists the project's dotfiles as [{path, permission, data}], or, with path, answers that " +
			"dotfile as stored ({path, perm, data}). Members of the project, admins of its domain and superadmins may read them.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{403, 404}, Aliases: groupAliases,
	}), func(ctx context.Context, in *groupListInput) (*ListOutput, error) {
		id, domain, err := (&groupRef{Group: in.Body.Group, Domain: in.Body.Domain}).resolve(ctx, s)
		if err != nil {
			return nil, err
		}
		caller := functions.IdentityFrom(ctx)
		switch {
		case caller.IsSuperadmin():
		case caller.IsAdmin():
			if caller.Domain() != domain {
				return nil, functions.ErrGenericForbidden("Domain admins cannot access group dotfiles of other domains")
			}
		default:
			member, err := db.Q.DotfilesProjectIsMember(ctx, s.Deps().Pool, &dbsqlc.DotfilesProjectIsMemberParams{UserID: caller.UserUUID(), GroupID: id})
			if err != nil {
				return nil, functions.FromDB(err, "user group (or project)")
			}
			if !member {
				return nil, functions.ErrGenericForbidden("Users cannot access group dotfiles of other groups")
			}
		}
		return list(ctx, s, projectStore(id), in.Body.Path)
	})
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "update-group-dotfile", Method: http.MethodPatch, Path: path, Tag: groupTag,
		Summary:     "Update a dotfile of a project",
		Description: "Replaces the content and permission of the project's dotfile at path (admins of its domain).",
		Role:        functions.Admin, Frozen: functions.ReadAllowed, Params: true, Errors: []int{404}, Aliases: groupAliases,
	}), func(ctx context.Context, in *groupWriteInput) (*EmptyOutput, error) {
		f, err := checkWrite(&writeBody{Data: in.Body.Data, Path: in.Body.Path, Permission: in.Body.Permission})
		if err != nil {
			return nil, err
		}
		id, err := (&groupRef{Group: in.Body.Group, Domain: in.Body.Domain}).adminProject(ctx, s)
		if err != nil {
			return nil, err
		}
		return &EmptyOutput{}, update(ctx, s, projectStore(id), f)
	})
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-group-dotfile", Method: http.MethodDelete, Path: path, Tag: groupTag,
		Summary:     "Delete a dotfile of a project",
		Description: "Deletes the project's dotfile at path (admins of its domain).",
		Role:        functions.Admin, Frozen: functions.ReadAllowed, Params: true, Errors: []int{404}, Aliases: groupAliases,
	}), func(ctx context.Context, in *groupDeleteInput) (*SuccessOutput, error) {
		if err := requirePath(in.Body.Path); err != nil {
			return nil, err
		}
		id, err := (&groupRef{Group: in.Body.Group, Domain: in.Body.Domain}).adminProject(ctx, s)
		if err != nil {
			return nil, err
		}
		if err := remove(ctx, s, projectStore(id), *in.Body.Path); err != nil {
			return nil, err
		}
		out := &SuccessOutput{}
		out.Body.Success = true
		return out, nil
	})
}
