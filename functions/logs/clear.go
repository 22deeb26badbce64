package logs

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

type clearInput struct {
	LogID string `path:"log_id" doc:"The error log's id." example:"3f1c2b9e-1d7a-4a8e-9d5c-2f6b8e0a1c3d"`
}

// ClearOutput is the answer of POST /logs/error/{log_id}/clear.
type ClearOutput struct {
	Body struct {
		Success bool `json:"success" doc:"Always true."`
	}
}

func registerClear(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "clear-error-log", Method: http.MethodPost, Path: "/logs/error/{log_id}/clear", Tag: tag,
		Summary: "Mark an error log cleared",
		Description: "Marks one error log cleared: a user may clear their own logs, a domain admin those of " +
			"their domain's users, a superadmin any. A log out of the caller's reach is 404, as an unknown one.",
		Role: functions.User, Frozen: functions.ReadAllowed, Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *clearInput) (*ClearOutput, error) {
		logID, err := uuid.Parse(in.LogID)
		if err != nil {
			return nil, functions.ErrInvalidAPIParams("log_id is not a UUID.", map[string]string{"log_id": "invalid UUID"})
		}
		sc := scopeOf(functions.IdentityFrom(ctx))
		n, err := db.Q.ErrorLogClear(ctx, s.Deps().Pool, &dbsqlc.ErrorLogClearParams{ID: logID, DomainName: sc.domain, UserID: sc.user})
		if err != nil {
			return nil, functions.FromDB(err, "error log")
		}
		if n == 0 {
			return nil, functions.ErrObjectNotFound("error log", "")
		}
		out := &ClearOutput{}
		out.Body.Success = true
		return out, nil
	})
}
