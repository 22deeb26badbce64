package session

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/agentrpc"
)

type completeInput struct {
	SessionName string `path:"session_name" doc:"Session id or name." example:"my-session"`
	Body        struct {
		Code    *string        `json:"code,omitempty" nullable:"true" doc:"The code to complete."`
		Options map[string]any `json:"options,omitempty" nullable:"true" doc:"Cursor position: {row, col, line, post}."`
		_       struct{}       `json:"-" additionalProperties:"true"`
	} `required:"false"`
}

// CompleteOutput is the answer of POST /session/{session_name}/complete.
type CompleteOutput struct {
	Body struct {
		Result map[string]any `json:"result" doc:"{\"status\": \"finished\", \"completions\": [...]}; no completions when the kernel's runtime offers none."`
	}
}

func registerComplete(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "complete-session-code", Method: http.MethodPost, Path: "/session/{session_name}/complete", Tag: tag,
		Summary:     "Complete code in a session",
		Description: "Asks the session's main kernel for completions of code at a cursor position.",
		Role:        functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{404},
	}), func(ctx context.Context, in *completeInput) (*CompleteOutput, error) {
		id := functions.IdentityFrom(ctx)
		t, err := findTarget(ctx, s, id.AccessKey, in.SessionName, true)
		if err != nil {
			return nil, err
		}
		req := &agentrpc.ExecuteRequest{SessionID: t.SessionID(), KernelID: t.KernelID(), RunID: uuid.NewString(),
			Mode: agentrpc.ExecModeComplete, Options: map[string]any{}, FlushTimeout: executeFlushTimeout}
		if in.Body.Code != nil {
			req.Code = *in.Body.Code
		}
		if in.Body.Options != nil {
			req.Options = in.Body.Options
		}
		res, err := completions(ctx, t, req)
		if err != nil {
			return nil, err
		}
		out := &CompleteOutput{}
		out.Body.Result = res
		return out, nil
	})
}
