package session

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/lifecycle"
)

type renameInput struct {
	SessionName string `path:"session_name" doc:"Session id or name." example:"my-session"`
	Body        struct {
		SessionName *string `json:"session_name,omitempty" doc:"The new name." example:"renamed-session"`
	}
}

// renameAliases are the other names Backend.AI's rename schema accepts.
var renameAliases = functions.Aliases{{"session_name", "name"}} //nolint:gochecknoglobals // read-only

// RenameOutput is the empty answer of a rename.
type RenameOutput struct{}

func registerRename(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "rename-session", Method: http.MethodPost, Path: "/session/{session_name}/rename", Tag: tag,
		Summary:     "Rename a running session",
		Description: "Gives a RUNNING session of the caller a new name (same rules as at creation).",
		Role:        functions.User, Frozen: functions.WriteOp, Params: true, Status: http.StatusNoContent, Errors: []int{404},
		Aliases: renameAliases,
	}), func(ctx context.Context, in *renameInput) (*RenameOutput, error) {
		id := functions.IdentityFrom(ctx)
		newName := in.Body.SessionName
		if newName == nil {
			return nil, functions.ErrInvalidAPIParams("Missing the new name.", map[string]string{"session_name": "is required"})
		}
		if err := checkName("session_name", *newName); err != nil {
			return nil, err
		}
		m, err := findSession(ctx, s, id.AccessKey, in.SessionName, true)
		if err != nil {
			return nil, err
		}
		if m.Status != lifecycle.Running {
			return nil, functions.ErrInvalidAPIParams("Can't change name of not running session", nil)
		}
		n, err := db.Q.SessionRename(ctx, s.Deps().Pool, &dbsqlc.SessionRenameParams{ID: m.ID, NewName: *newName})
		if err != nil {
			return nil, functions.FromDB(err, "session")
		}
		if n == 0 {
			return nil, functions.ErrInvalidAPIParams("Can't change name of not running session", nil)
		}
		return &RenameOutput{}, nil
	})
}
