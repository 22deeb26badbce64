package logs

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

type appendInput struct {
	Body struct {
		Severity      string  `json:"severity" enum:"critical,error,warning" doc:"How bad it is." example:"error"`
		Source        string  `json:"source" doc:"What failed (a component of the client)." example:"webui"`
		Message       string  `json:"message" doc:"What went wrong." example:"Failed to create the session."`
		ContextLang   string  `json:"context_lang" doc:"The client's language or runtime." example:"python"`
		ContextEnv    string  `json:"context_env" doc:"The client's context: a JSON document, as a string." example:"{\"version\": \"24.03.2\"}"`
		RequestURL    *string `json:"request_url,omitempty" nullable:"true" doc:"The request that failed."`
		RequestStatus *int32  `json:"request_status,omitempty" nullable:"true" doc:"Its HTTP status."`
		Traceback     *string `json:"traceback,omitempty" nullable:"true" doc:"The client's traceback."`
	}
}

// AppendOutput is the answer of POST /logs/error.
type AppendOutput struct {
	Body struct {
		Success bool `json:"success" doc:"Always true."`
	}
}

func registerAppend(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "append-error-log", Method: http.MethodPost, Path: "/logs/error", Tag: tag,
		Summary:     "File an error log",
		Description: "Stores an error log of the caller. context_env is a JSON document sent as a string.",
		Role:        functions.User, Frozen: functions.ReadAllowed, Params: true,
	}), func(ctx context.Context, in *appendInput) (*AppendOutput, error) {
		d := s.Deps()
		id := functions.IdentityFrom(ctx)
		var env json.RawMessage
		if err := json.Unmarshal([]byte(in.Body.ContextEnv), &env); err != nil {
			return nil, functions.ErrInvalidAPIParams("context_env is not a JSON document.",
				map[string]string{"context_env": "invalid JSON"})
		}
		u := id.UserUUID()
		if _, err := db.Q.ErrorLogInsert(ctx, d.Pool, &dbsqlc.ErrorLogInsertParams{
			Now: d.Clock(), Severity: dbsqlc.ErrorlogSeverity(in.Body.Severity), Source: in.Body.Source,
			UserID: &u, Message: in.Body.Message, ContextLang: in.Body.ContextLang, ContextEnv: env,
			RequestUrl: in.Body.RequestURL, RequestStatus: in.Body.RequestStatus, Traceback: in.Body.Traceback,
		}); err != nil {
			return nil, functions.FromDB(err, "error log")
		}
		out := &AppendOutput{}
		out.Body.Success = true
		return out, nil
	})
}
