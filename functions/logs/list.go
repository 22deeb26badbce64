package logs

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

type listInput struct {
	Body struct {
		MarkRead bool  `json:"mark_read,omitempty" doc:"Mark the logs of this page read."`
		PageSize int32 `json:"page_size,omitempty" minimum:"1" maximum:"100" default:"20" doc:"Logs per page."`
		PageNo   int32 `json:"page_no,omitempty" minimum:"1" default:"1" doc:"The page, from 1."`
	} `required:"false"`
}

// ErrorLog is one error log as Backend.AI lists it.
type ErrorLog struct {
	LogID         string          `json:"log_id" format:"uuid"`
	CreatedAt     float64         `json:"created_at" doc:"Unix time in seconds."`
	Severity      string          `json:"severity" enum:"critical,error,warning"`
	Source        string          `json:"source"`
	User          *string         `json:"user" format:"uuid" doc:"The user who filed it."`
	IsRead        bool            `json:"is_read"`
	IsCleared     *bool           `json:"is_cleared,omitempty" doc:"Whether it was cleared (shown to admins only)."`
	Message       string          `json:"message"`
	ContextLang   string          `json:"context_lang"`
	ContextEnv    json.RawMessage `json:"context_env" doc:"The client's context (a JSON document)."`
	RequestURL    *string         `json:"request_url"`
	RequestStatus *int32          `json:"request_status"`
	Traceback     *string         `json:"traceback"`
}

// ListOutput is the answer of GET /logs/error.
type ListOutput struct {
	Body struct {
		Logs  []ErrorLog `json:"logs" doc:"The page, newest first."`
		Count int64      `json:"count" doc:"How many logs the caller may see in all."`
	}
}

func registerList(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-error-logs", Method: http.MethodGet, Path: "/logs/error", Tag: tag,
		Summary: "List error logs",
		Description: "A page of the error logs the caller may see, newest first: a user their own logs that " +
			"are not cleared, a domain admin those of their domain's users, a superadmin all. " +
			"mark_read marks the page read.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true,
	}), func(ctx context.Context, in *listInput) (*ListOutput, error) {
		d := s.Deps()
		sc := scopeOf(functions.IdentityFrom(ctx))
		size, page := in.Body.PageSize, in.Body.PageNo
		if size == 0 {
			size = 20
		}
		if page == 0 {
			page = 1
		}
		rows, err := db.Q.ErrorLogList(ctx, d.Pool, &dbsqlc.ErrorLogListParams{
			DomainName: sc.domain, UserID: sc.user, PageSize: size, PageOffset: (page - 1) * size,
		})
		if err != nil {
			return nil, functions.FromDB(err, "error log")
		}
		count, err := db.Q.ErrorLogCount(ctx, d.Pool, &dbsqlc.ErrorLogCountParams{DomainName: sc.domain, UserID: sc.user})
		if err != nil {
			return nil, functions.FromDB(err, "error log")
		}
		out := &ListOutput{}
		out.Body.Logs = make([]ErrorLog, 0, len(rows))
		ids := make([]uuid.UUID, 0, len(rows))
		for _, r := range rows {
			out.Body.Logs = append(out.Body.Logs, errorLogOf(r, sc.admin))
			ids = append(ids, r.ID)
		}
		out.Body.Count = count
		if in.Body.MarkRead && len(ids) > 0 {
			if err := db.Q.ErrorLogMarkRead(ctx, d.Pool, ids); err != nil {
				return nil, functions.FromDB(err, "error log")
			}
		}
		return out, nil
	})
}

// errorLogOf is the listed form of r; admin adds is_cleared.
func errorLogOf(r *dbsqlc.ErrorLogListRow, admin bool) ErrorLog {
	l := ErrorLog{
		LogID: r.ID.String(), CreatedAt: float64(r.CreatedAt.UnixMicro()) / float64(time.Second/time.Microsecond),
		Severity: r.Severity, Source: r.Source, IsRead: r.IsRead, Message: r.Message,
		ContextLang: r.ContextLang, ContextEnv: r.ContextEnv, RequestURL: r.RequestUrl,
		RequestStatus: r.RequestStatus, Traceback: r.Traceback,
	}
	if r.UserID != nil {
		u := r.UserID.String()
		l.User = &u
	}
	if admin {
		c := r.IsCleared
		l.IsCleared = &c
	}
	return l
}
