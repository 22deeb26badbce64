package session

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

type abusingReportInput struct {
	SessionName string `path:"session_name" doc:"Session id or name." example:"my-session"`
	Body        struct {
		LoginSessionToken *string `json:"login_session_token,omitempty" nullable:"true" doc:"Accepted and ignored (Backend.AI's web session token)."`
	} `required:"false"`
}

// AbusingReportOutput is the answer of GET /session/{session_name}/abusing-report.
type AbusingReportOutput struct {
	Body map[string]string `doc:"The abuse report of the session's main kernel: {\"kernel\", \"abuse_report\"} when an agent recorded one, {} otherwise."`
}

func registerAbusingReport(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-session-abusing-report", Method: http.MethodGet, Path: "/session/{session_name}/abusing-report", Tag: tag,
		Summary: "Abuse report of a session",
		Description: "What an agent's abuse detector reported about the session's main kernel. Hangar's agents " +
			"record no abuse reports, so the answer is the empty report `{}` for every live session.",
		Role: functions.User, Frozen: functions.WriteOp, Params: true, Errors: []int{404},
	}), func(ctx context.Context, in *abusingReportInput) (*AbusingReportOutput, error) {
		id := functions.IdentityFrom(ctx)
		if _, err := findSession(ctx, s, id.AccessKey, in.SessionName, false); err != nil {
			return nil, err
		}
		return &AbusingReportOutput{Body: map[string]string{}}, nil
	})
}
