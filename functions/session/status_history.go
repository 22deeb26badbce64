package session

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
)

type statusHistoryInput struct {
	SessionName string `path:"session_name" doc:"Session id or name." example:"my-session"`
	Body        struct {
		OwnerAccessKey *string `json:"owner_access_key,omitempty" nullable:"true" doc:"Read this access key's session (admins only)."`
	} `required:"false"`
}

// StatusHistoryOutput is the answer of GET /session/{session_name}/status-history.
type StatusHistoryOutput struct {
	Body struct {
		Result map[string]string `json:"result" doc:"When the session entered each status it went through: lower-case status name → ISO 8601 time." example:"{\"pending\": \"2024-03-15T12:00:00+00:00\", \"preparing\": \"2024-03-15T12:00:01+00:00\"}"`
	}
}

func registerStatusHistory(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-session-status-history", Method: http.MethodGet, Path: "/session/{session_name}/status-history", Tag: tag,
		Summary: "Session status history",
		Description: "When the session entered each status, keyed by the lower-case status name as Backend.AI's " +
			"client reads it (`session status-history` computes the allocation time from `preparing` and " +
			"`terminated`). Ended sessions are included.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{403, 404},
	}), func(ctx context.Context, in *statusHistoryInput) (*StatusHistoryOutput, error) {
		own, err := resolveOwner(ctx, s, functions.IdentityFrom(ctx), in.Body.OwnerAccessKey)
		if err != nil {
			return nil, err
		}
		m, err := findSession(ctx, s, own.AccessKey, in.SessionName, true)
		if err != nil {
			return nil, err
		}
		raw, err := db.Q.SessionStatusHistoryGet(ctx, s.Deps().Pool, m.ID)
		if err != nil {
			return nil, functions.FromDB(err, "session")
		}
		var hist map[string]any
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &hist); err != nil {
				return nil, functions.ErrInternal("")
			}
		}
		out := &StatusHistoryOutput{}
		out.Body.Result = make(map[string]string, len(hist))
		for k, v := range hist {
			if t, ok := v.(string); ok {
				out.Body.Result[strings.ToLower(k)] = t
			}
		}
		return out, nil
	})
}
