package session

import (
	"time"

	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/agentrpc"
)

// logsCallTimeout bounds the agent call that reads a kernel's log.
const logsCallTimeout = 30 * time.Second

type logsInput struct {
	SessionName string `path:"session_name" doc:"Session id or name." example:"my-session"`
	Body        struct {
		OwnerAccessKey *string `json:"owner_access_key,omitempty" nullable:"true" doc:"Read this access key's session (admins only)."`
	} `required:"false"`
}

// LogsOutput is the answer of GET /session/{session_name}/logs.
type LogsOutput struct {
	Body struct {
		Result struct {
			Logs string `json:"logs" doc:"The main kernel's container log."`
		} `json:"result"`
	}
}

func registerLogs(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-session-logs", Method: http.MethodGet, Path: "/session/{session_name}/logs", Tag: tag,
		Summary: "Read a session's container log",
		Description: "Returns the log of the session's main kernel: read from its agent while the kernel lives, " +
			"or the copy kept when it ended. Ended sessions are found too.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{403, 404},
	}), func(ctx context.Context, in *logsInput) (*LogsOutput, error) {
		id := functions.IdentityFrom(ctx)
		own, err := resolveOwner(ctx, s, id, in.Body.OwnerAccessKey)
		if err != nil {
			return nil, err
		}
		t, err := findTarget(ctx, s, own.AccessKey, in.SessionName, false)
		if err != nil {
			return nil, err
		}
		out := &LogsOutput{}
		if t.Agent == nil && t.Kernel.ContainerLog != nil {
			out.Body.Result.Logs = string(t.Kernel.ContainerLog)
			return out, nil
		}
		c := t.Agent
		if c == nil {
			// An ended kernel without a stored log may still be on its agent (a batch kernel
			// that exited by itself and was not destroyed yet).
			if t.Kernel.AgentAddr == nil || *t.Kernel.AgentAddr == "" {
				return nil, functions.ErrKernelExecutionFailed("The session's kernel has no log.")
			}
			if c, err = s.Deps().Agents.Get(*t.Kernel.AgentAddr); err != nil {
				return nil, functions.ErrKernelExecutionFailed(err.Error())
			}
		}
		cctx, cancel := context.WithTimeout(ctx, logsCallTimeout)
		defer cancel()
		rep, err := c.GetLogs(cctx, &agentrpc.GetLogsRequest{KernelID: t.KernelID()})
		if err != nil {
			return nil, agentError(err, functions.ErrKernelExecutionFailed)
		}
		if rep != nil {
			out.Body.Result.Logs = rep.Logs
		}
		return out, nil
	})
}
