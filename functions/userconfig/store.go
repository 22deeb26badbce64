// Package userconfig is the Backend.AI-compatible dotfile API: /user-config/dotfiles (the
// caller's keypair, or another one's for admins through owner_access_key),
// /user-config/bootstrap-script, /group-config/dotfiles and /domain-config/dotfiles (written by
// admins of the domain, read by its members). Every new session's kernels find these files in
// their home directory (keypair over project over domain, see internal/dotfile and the agent).
//
// Dotfiles are stored as Backend.AI stores them (a msgpack list in the owner's dotfiles
// column), with its limits: at most 100 per owner, 64 KiB packed, paths relative to the home
// directory and not reserved, permissions as three octal digits. A stored list that does not
// decode is reported as a 400, never served or overwritten.
package userconfig

import (
	"context"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/dotfile"
)

// Register adds the area's operations to s.
func Register(s *functions.Server) {
	registerUser(s)
	registerBootstrap(s)
	registerGroup(s)
	registerDomain(s)
}

// DotfileEntry is a dotfile as the list answers show it.
type DotfileEntry struct {
	Path       string `json:"path" doc:"Path relative to the kernel's home directory." example:".bashrc"`
	Permission string `json:"permission" doc:"Permission as three octal digits." example:"644"`
	Data       string `json:"data" doc:"Content."`
}

// StoredDotfile is one dotfile as Backend.AI answers a lookup by path (its stored keys).
type StoredDotfile struct {
	Path string `json:"path" doc:"Path relative to the kernel's home directory." example:".bashrc"`
	Perm string `json:"perm" doc:"Permission as three octal digits." example:"644"`
	Data string `json:"data" doc:"Content."`
}

// ListOutput is the answer of a list or a lookup by path: a list of DotfileEntry, or one
// StoredDotfile when a path was given.
type ListOutput struct {
	Body any
}

// EmptyOutput is the {} answer of a create or an update.
type EmptyOutput struct {
	Body struct{}
}

// SuccessOutput is the {"success": true} answer of a delete.
type SuccessOutput struct {
	Body struct {
		Success bool `json:"success" doc:"Always true."`
	}
}

// writeBody are the parameters of a create or an update.
type writeBody struct {
	Data       *string `json:"data,omitempty" maxLength:"65536" doc:"Content (at most 64 KiB)."`
	Path       *string `json:"path,omitempty" maxLength:"255" doc:"Path relative to the home directory; no '..', not reserved (.ssh, .jupyter, .local, .config, .terminfo)." example:".vimrc"`
	Permission *string `json:"permission,omitempty" pattern:"^[0-7]{3}$" doc:"Permission as three octal digits." example:"644"`
}

// store is where one owner's dotfiles live.
type store struct {
	// lock reads the list, locking the owner's row; a missing owner is db.ErrNotFound.
	lock func(ctx context.Context, tx pgx.Tx) ([]byte, error)
	// read reads the list without locking.
	read func(ctx context.Context, q dbsqlc.DBTX) ([]byte, error)
	// set stores the list.
	set func(ctx context.Context, tx pgx.Tx, packed []byte) error
	// object names the owner in not-found errors.
	object string
}

func errCreationFailed(msg string) *functions.Problem {
	return &functions.Problem{Status: http.StatusBadRequest, Type: functions.ProblemBase + "generic-bad-request",
		Title: "Dotfile creation has failed.", Msg: msg}
}

func errAlreadyExists() *functions.Problem {
	return &functions.Problem{Status: http.StatusBadRequest, Type: functions.ProblemBase + "generic-bad-request",
		Title: "Dotfile already exists."}
}

func errNotFound() *functions.Problem { return functions.ErrObjectNotFound("dotfile", "") }

func errCorrupt() *functions.Problem {
	return functions.ErrGenericBadRequest("The stored dotfiles are corrupt; an administrator must reset them.")
}

// decode decodes a stored list, a corrupt one being a 400.
func decode(raw []byte) ([]dotfile.Dotfile, error) {
	files, err := dotfile.Decode(raw)
	if err != nil {
		return nil, errCorrupt()
	}
	return files, nil
}

// checkWrite checks the parameters of a create or an update and returns them.
func checkWrite(b *writeBody) (dotfile.Dotfile, error) {
	miss := map[string]string{}
	for key, v := range map[string]*string{"data": b.Data, "path": b.Path, "permission": b.Permission} {
		if v == nil {
			miss[key] = "is required"
		}
	}
	if len(miss) > 0 {
		return dotfile.Dotfile{}, functions.ErrInvalidAPIParams("Missing required parameters.", miss)
	}
	if !dotfile.CheckPerm(*b.Permission) {
		return dotfile.Dotfile{}, functions.ErrInvalidAPIParams("permission must be three octal digits.", map[string]string{"permission": "must match ^[0-7]{3}$"})
	}
	if why := dotfile.CheckPath(*b.Path); why != "" {
		return dotfile.Dotfile{}, functions.ErrInvalidAPIParams("dotfile path "+why+".", map[string]string{"path": why})
	}
	return dotfile.Dotfile{Path: *b.Path, Perm: *b.Permission, Data: *b.Data}, nil
}

// modify runs change over the owner's list under the row lock and stores the result, which
// must pack into dotfile.MaxSize bytes.
func modify(ctx context.Context, s *functions.Server, st store, change func([]dotfile.Dotfile) ([]dotfile.Dotfile, error)) error {
	err := db.InTx(ctx, s.Deps().Pool, func(tx pgx.Tx) error {
		raw, err := st.lock(ctx, tx)
		if err != nil {
			return err
		}
		files, err := decode(raw)
		if err != nil {
			return err
		}
		next, err := change(files)
		if err != nil {
			return err
		}
		packed, err := dotfile.Encode(next)
		if err != nil {
			return err
		}
		if len(packed) > dotfile.MaxSize {
			return errCreationFailed("No leftover space for dotfile storage")
		}
		return st.set(ctx, tx, packed)
	})
	return functions.FromDB(err, st.object)
}

// create adds f, as Backend.AI does: refused when the storage is full, at the count limit,
// or when the path exists.
func create(ctx context.Context, s *functions.Server, st store, f dotfile.Dotfile) error {
	return modify(ctx, s, st, func(files []dotfile.Dotfile) ([]dotfile.Dotfile, error) {
		if len(files) >= dotfile.MaxCount {
			return nil, errCreationFailed("Dotfile creation limit reached")
		}
		for _, e := range files {
			if e.Path == f.Path {
				return nil, errAlreadyExists()
			}
		}
		return append(files, f), nil
	})
}

// update replaces the dotfile at f.Path (404 when there is none).
func update(ctx context.Context, s *functions.Server, st store, f dotfile.Dotfile) error {
	return modify(ctx, s, st, func(files []dotfile.Dotfile) ([]dotfile.Dotfile, error) {
		next, found := without(files, f.Path)
		if !found {
			return nil, errNotFound()
		}
		return append(next, f), nil
	})
}

// remove deletes the dotfile at p (404 when there is none).
func remove(ctx context.Context, s *functions.Server, st store, p string) error {
	return modify(ctx, s, st, func(files []dotfile.Dotfile) ([]dotfile.Dotfile, error) {
		next, found := without(files, p)
		if !found {
			return nil, errNotFound()
		}
		return next, nil
	})
}

func without(files []dotfile.Dotfile, p string) ([]dotfile.Dotfile, bool) {
	next := make([]dotfile.Dotfile, 0, len(files))
	for _, f := range files {
		if f.Path != p {
			next = append(next, f)
		}
	}
	return next, len(next) != len(files)
}

// list answers a list (path nil or empty) or a lookup by path.
func list(ctx context.Context, s *functions.Server, st store, p *string) (*ListOutput, error) {
	raw, err := st.read(ctx, s.Deps().Pool)
	if err != nil {
		return nil, functions.FromDB(err, st.object)
	}
	files, err := decode(raw)
	if err != nil {
		return nil, err
	}
	if p != nil && *p != "" {
		for _, f := range files {
			if f.Path == *p {
				return &ListOutput{Body: StoredDotfile(f)}, nil
			}
		}
		return nil, errNotFound()
	}
	out := make([]DotfileEntry, 0, len(files))
	for _, f := range files {
		out = append(out, DotfileEntry{Path: f.Path, Permission: f.Perm, Data: f.Data})
	}
	return &ListOutput{Body: out}, nil
}

// requirePath is the 400 for a delete without a path.
func requirePath(p *string) error {
	if p == nil {
		return functions.ErrInvalidAPIParams("Missing required parameters.", map[string]string{"path": "is required"})
	}
	return nil
}
