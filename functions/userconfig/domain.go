package userconfig

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// domainTag groups the /domain-config operations in the OpenAPI document.
const domainTag = "domain-config"

// domainStore is the dotfile storage of one domain.
func domainStore(name string) store {
	return store{
		lock: func(ctx context.Context, tx pgx.Tx) ([]byte, error) {
			return db.Q.DotfilesDomainLock(ctx, tx, name)
		},
		read: func(ctx context.Context, q dbsqlc.DBTX) ([]byte, error) {
			return db.Q.DotfilesDomainGet(ctx, q, name)
		},
		set: func(ctx context.Context, tx pgx.Tx, packed []byte) error {
			return db.Q.DotfilesDomainSet(ctx, tx, &dbsqlc.DotfilesDomainSetParams{Dotfiles: packed, Name: name})
		},
		object: "domain",
	}
}

type domainRef struct {
	Domain *string `json:"domain,omitempty" doc:"Domain name." example:"default"`
}

// check requires the domain and that the caller may act on it: a superadmin on any, anyone
// else on their own only.
func (d *domainRef) check(ctx context.Context, what string) (string, error) {
	if d.Domain == nil {
		return "", functions.ErrInvalidAPIParams("Missing required parameters.", map[string]string{"domain": "is required"})
	}
	caller := functions.IdentityFrom(ctx)
	if !caller.IsSuperadmin() && caller.Domain() != *d.Domain {
		return "", functions.ErrGenericForbidden(what)
	}
	return *d.Domain, nil
}

type domainWriteInput struct {
	Body struct {
		Domain     *string `json:"domain,omitempty" doc:"Domain name." example:"default"`
		Data       *string `json:"data,omitempty" maxLength:"65536" doc:"Content (at most 64 KiB)."`
		Path       *string `json:"path,omitempty" maxLength:"255" doc:"Path relative to the home directory; no '..', not reserved (.ssh, .jupyter, .local, .config, .terminfo)." example:".vimrc"`
		Permission *string `json:"permission,omitempty" pattern:"^[0-7]{3}$" doc:"Permission as three octal digits." example:"644"`
	}
}

type domainListInput struct {
	Body struct {
		Domain *string `json:"domain,omitempty" doc:"Domain name." example:"default"`
		Path   *string `json:"path,omitempty" nullable:"true" doc:"Answer only the dotfile at this path."`
	}
}

type domainDeleteInput struct {
	Body struct {
		Domain *string `json:"domain,omitempty" doc:"Domain name." example:"default"`
		Path   *string `json:"path,omitempty" doc:"Path of the dotfile to delete."`
	}
}

func registerDomain(s *functions.Server) {
	const path = "/domain-config/dotfiles"
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "create-domain-dotfile", Method: http.MethodPost, Path: path, Tag: domainTag,
		Summary:     "Create a dotfile of a domain",
		Description: "Adds a dotfile that new sessions in the domain find in their home directory (admins of the domain).",
		Role:        functions.Admin, Frozen: functions.ReadAllowed, Params: true, Errors: []int{404},
	}), func(ctx context.Context, in *domainWriteInput) (*EmptyOutput, error) {
		f, err := checkWrite(&writeBody{Data: in.Body.Data, Path: in.Body.Path, Permission: in.Body.Permission})
		if err != nil {
			return nil, err
		}
		name, err := (&domainRef{Domain: in.Body.Domain}).check(ctx, "Domain admins cannot create dotfiles of other domains")
		if err != nil {
			return nil, err
		}
		return &EmptyOutput{}, create(ctx, s, domainStore(name), f)
	})
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-domain-dotfiles", Method: http.MethodGet, Path: path, Tag: domainTag,
		Summary: "List a domain's dotfiles, or get one",
		Description: "Lists the domain's dotfiles as [{path, permission, data}], or, with path, answers that " +
			"dotfile as stored ({path, perm, data}). Users of the domain and superadmins may read them.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{403, 404},
	}), func(ctx context.Context, in *domainListInput) (*ListOutput, error) {
		name, err := (&domainRef{Domain: in.Body.Domain}).check(ctx, "Users cannot access dotfiles of other domains")
		if err != nil {
			return nil, err
		}
		return list(ctx, s, domainStore(name), in.Body.Path)
	})
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "update-domain-dotfile", Method: http.MethodPatch, Path: path, Tag: domainTag,
		Summary:     "Update a dotfile of a domain",
		Description: "Replaces the content and permission of the domain's dotfile at path (admins of the domain).",
		Role:        functions.Admin, Frozen: functions.ReadAllowed, Params: true, Errors: []int{404},
	}), func(ctx context.Context, in *domainWriteInput) (*EmptyOutput, error) {
		f, err := checkWrite(&writeBody{Data: in.Body.Data, Path: in.Body.Path, Permission: in.Body.Permission})
		if err != nil {
			return nil, err
		}
		name, err := (&domainRef{Domain: in.Body.Domain}).check(ctx, "Domain admins cannot update dotfiles of other domains")
		if err != nil {
			return nil, err
		}
		return &EmptyOutput{}, update(ctx, s, domainStore(name), f)
	})
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-domain-dotfile", Method: http.MethodDelete, Path: path, Tag: domainTag,
		Summary:     "Delete a dotfile of a domain",
		Description: "Deletes the domain's dotfile at path (admins of the domain).",
		Role:        functions.Admin, Frozen: functions.ReadAllowed, Params: true, Errors: []int{404},
	}), func(ctx context.Context, in *domainDeleteInput) (*SuccessOutput, error) {
		if err := requirePath(in.Body.Path); err != nil {
			return nil, err
		}
		name, err := (&domainRef{Domain: in.Body.Domain}).check(ctx, "Domain admins cannot delete dotfiles of other domains")
		if err != nil {
			return nil, err
		}
		if err := remove(ctx, s, domainStore(name), *in.Body.Path); err != nil {
			return nil, err
		}
		out := &SuccessOutput{}
		out.Body.Success = true
		return out, nil
	})
}
