package userconfig

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/dotfile"
)

type bootstrapSetInput struct {
	Body struct {
		Script *string `json:"script,omitempty" maxLength:"65536" doc:"The script (at most 64 KiB; surrounding blanks are trimmed; empty clears it)." example:"pip install --user rich"`
	}
}

// BootstrapScriptOutput is the keypair's bootstrap script, a JSON string.
type BootstrapScriptOutput struct {
	Body string
}

func registerBootstrap(s *functions.Server) {
	const path = "/user-config/bootstrap-script"
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "set-bootstrap-script", Method: http.MethodPost, Path: path, Tag: userTag,
		Summary: "Set the keypair's bootstrap script",
		Description: "Stores the shell script run in every new session of the keypair whose create request gives " +
			"none, in the kernel's home directory before the kernel is handed over.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true,
	}), func(ctx context.Context, in *bootstrapSetInput) (*EmptyOutput, error) {
		if in.Body.Script == nil {
			return nil, functions.ErrInvalidAPIParams("Missing required parameters.", map[string]string{"script": "is required"})
		}
		script := strings.TrimSpace(*in.Body.Script)
		if len(script) > dotfile.MaxSize {
			return nil, errCreationFailed("Maximum bootstrap script length reached")
		}
		err := db.Q.BootstrapScriptSet(ctx, s.Deps().Pool, &dbsqlc.BootstrapScriptSetParams{
			BootstrapScript: script, AccessKey: functions.IdentityFrom(ctx).AccessKey,
		})
		if err != nil {
			return nil, functions.FromDB(err, "keypair")
		}
		return &EmptyOutput{}, nil
	})
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-bootstrap-script", Method: http.MethodGet, Path: path, Tag: userTag,
		Summary:     "The keypair's bootstrap script",
		Description: "Answers the caller's bootstrap script as a JSON string (empty when none is set).",
		Role:        functions.User, Frozen: functions.ReadAllowed,
	}), func(ctx context.Context, _ *struct{}) (*BootstrapScriptOutput, error) {
		script, err := db.Q.BootstrapScriptGet(ctx, s.Deps().Pool, functions.IdentityFrom(ctx).AccessKey)
		if err != nil {
			return nil, functions.FromDB(err, "keypair")
		}
		return &BootstrapScriptOutput{Body: script}, nil
	})
}
