package userconfig

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/session"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// userTag groups the /user-config operations in the OpenAPI document.
const userTag = "user-config"

// keypairStore is the dotfile storage of one keypair.
func keypairStore(accessKey string) store {
	return store{
		lock: func(ctx context.Context, tx pgx.Tx) ([]byte, error) {
			return db.Q.DotfilesKeypairLock(ctx, tx, accessKey)
		},
		read: func(ctx context.Context, q dbsqlc.DBTX) ([]byte, error) {
			return db.Q.DotfilesKeypairGet(ctx, q, accessKey)
		},
		set: func(ctx context.Context, tx pgx.Tx, packed []byte) error {
			return db.Q.DotfilesKeypairSet(ctx, tx, &dbsqlc.DotfilesKeypairSetParams{Dotfiles: packed, AccessKey: accessKey})
		},
		object: "keypair",
	}
}

type userWriteInput struct {
	Body struct {
		Data           *string `json:"data,omitempty" maxLength:"65536" doc:"Content (at most 64 KiB)."`
		Path           *string `json:"path,omitempty" maxLength:"255" doc:"Path relative to the home directory; no '..', not reserved (.ssh, .jupyter, .local, .config, .terminfo)." example:".vimrc"`
		Permission     *string `json:"permission,omitempty" pattern:"^[0-7]{3}$" doc:"Permission as three octal digits." example:"644"`
		OwnerAccessKey *string `json:"owner_access_key,omitempty" nullable:"true" doc:"Act on this access key's dotfiles (admins only)."`
	}
}

type userListInput struct {
	Body struct {
		Path           *string `json:"path,omitempty" nullable:"true" doc:"Answer only the dotfile at this path."`
		OwnerAccessKey *string `json:"owner_access_key,omitempty" nullable:"true" doc:"Look up this access key's dotfile by path (admins only)."`
	}
}

type userDeleteInput struct {
	Body struct {
		Path           *string `json:"path,omitempty" doc:"Path of the dotfile to delete."`
		OwnerAccessKey *string `json:"owner_access_key,omitempty" nullable:"true" doc:"Act on this access key's dotfiles (admins only)."`
	}
}

func registerUser(s *functions.Server) {
	const path = "/user-config/dotfiles"
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "create-user-dotfile", Method: http.MethodPost, Path: path, Tag: userTag,
		Summary:     "Create a dotfile of the keypair",
		Description: "Adds a dotfile that every new session of the keypair finds in its home directory.",
		Role:        functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{403},
	}), func(ctx context.Context, in *userWriteInput) (*EmptyOutput, error) {
		f, err := checkWrite(&writeBody{Data: in.Body.Data, Path: in.Body.Path, Permission: in.Body.Permission})
		if err != nil {
			return nil, err
		}
		ak, err := session.OwnerAccessKey(ctx, s, in.Body.OwnerAccessKey)
		if err != nil {
			return nil, err
		}
		return &EmptyOutput{}, create(ctx, s, keypairStore(ak), f)
	})
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-user-dotfiles", Method: http.MethodGet, Path: path, Tag: userTag,
		Summary: "List the keypair's dotfiles, or get one",
		Description: "Lists the caller's dotfiles as [{path, permission, data}], or, with path, answers that " +
			"dotfile as stored ({path, perm, data}); owner_access_key applies to the lookup by path, as in Backend.AI.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{403, 404},
	}), func(ctx context.Context, in *userListInput) (*ListOutput, error) {
		ak := functions.IdentityFrom(ctx).AccessKey
		if in.Body.Path != nil && *in.Body.Path != "" {
			var err error
			if ak, err = session.OwnerAccessKey(ctx, s, in.Body.OwnerAccessKey); err != nil {
				return nil, err
			}
		}
		return list(ctx, s, keypairStore(ak), in.Body.Path)
	})
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "update-user-dotfile", Method: http.MethodPatch, Path: path, Tag: userTag,
		Summary:     "Update a dotfile of the keypair",
		Description: "Replaces the content and permission of the dotfile at path.",
		Role:        functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{403, 404},
	}), func(ctx context.Context, in *userWriteInput) (*EmptyOutput, error) {
		f, err := checkWrite(&writeBody{Data: in.Body.Data, Path: in.Body.Path, Permission: in.Body.Permission})
		if err != nil {
			return nil, err
		}
		ak, err := session.OwnerAccessKey(ctx, s, in.Body.OwnerAccessKey)
		if err != nil {
			return nil, err
		}
		return &EmptyOutput{}, update(ctx, s, keypairStore(ak), f)
	})
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-user-dotfile", Method: http.MethodDelete, Path: path, Tag: userTag,
		Summary:     "Delete a dotfile of the keypair",
		Description: "Deletes the dotfile at path.",
		Role:        functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{403, 404},
	}), func(ctx context.Context, in *userDeleteInput) (*SuccessOutput, error) {
		if err := requirePath(in.Body.Path); err != nil {
			return nil, err
		}
		ak, err := session.OwnerAccessKey(ctx, s, in.Body.OwnerAccessKey)
		if err != nil {
			return nil, err
		}
		if err := remove(ctx, s, keypairStore(ak), *in.Body.Path); err != nil {
			return nil, err
		}
		out := &SuccessOutput{}
		out.Body.Success = true
		return out, nil
	})
}
