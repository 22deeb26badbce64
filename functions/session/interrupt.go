package session

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/agentrpc"
)

// interruptCallTimeout bounds the agent call that interrupts a kernel.
const interruptCallTimeout = 30 * time.Second

type interruptInput struct {
	SessionName string `path:"session_name" doc:"Session id or name." example:"my-session"`
}

// InterruptOutput is the empty answer of an interrupt.
type InterruptOutput struct{}

func registerInterrupt(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "interrupt-session", Method: http.MethodPost, Path: "/session/{session_name}/interrupt", Tag: tag,
		Summary:     "Interrupt the code running in a session",
		Description: "Interrupts (SIGINT) the code running in the session's main kernel; the kernel keeps running.",
		Role:        functions.User, Frozen: functions.ReadAllowed, Status: http.StatusNoContent, Errors: []int{404},
	}), func(ctx context.Context, in *interruptInput) (*InterruptOutput, error) {
		id := functions.IdentityFrom(ctx)
		t, err := findTarget(ctx, s, id.AccessKey, in.SessionName, true)
		if err != nil {
			return nil, err
		}
		cctx, cancel := context.WithTimeout(ctx, interruptCallTimeout)
		defer cancel()
		if err := t.Agent.InterruptKernel(cctx, &agentrpc.InterruptKernelRequest{KernelID: t.KernelID()}); err != nil {
			return nil, agentError(err, functions.ErrKernelExecutionFailed)
		}
		return &InterruptOutput{}, nil
	})
}
