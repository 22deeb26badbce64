package session

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/jobs"
)

// restartWait bounds how long a restart request waits for the workers to finish the restart
// (each kernel's agent call is bounded by a minute; the kernels restart at once).
const restartWait = 2 * time.Minute

type restartInput struct {
	SessionName string `path:"session_name" doc:"Session id or name." example:"my-session"`
	Body        struct {
		OwnerAccessKey *string `json:"owner_access_key,omitempty" nullable:"true" doc:"Restart this access key's session (admins only)."`
	} `required:"false"`
}

// RestartOutput is the empty answer of a restart.
type RestartOutput struct{}

func registerRestart(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "restart-session", Method: http.MethodPatch, Path: "/session/{session_name}", Tag: tag,
		Summary: "Restart a session's kernels",
		Description: "Restarts the kernels of a RUNNING session in place: their processes start again, the files " +
			"of the working directory stay, the interpreter state is lost. The session is RESTARTING meanwhile.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true, Status: http.StatusNoContent, Errors: []int{403, 404},
	}), func(ctx context.Context, in *restartInput) (*RestartOutput, error) {
		id := functions.IdentityFrom(ctx)
		own, err := resolveOwner(ctx, s, id, in.Body.OwnerAccessKey)
		if err != nil {
			return nil, err
		}
		t, err := findTarget(ctx, s, own.AccessKey, in.SessionName, true)
		if err != nil {
			return nil, err
		}
		return &RestartOutput{}, restartSession(ctx, s, t.Session.ID)
	})
}

// restartSession moves a RUNNING session and its RUNNING kernels to RESTARTING, hands the
// restart to the workers (a session:restart task) and waits until they end it: 204 when the
// kernels run again, kernel-restart-failed with the agent's message otherwise (the session
// stays RUNNING, or is ERROR when an agent no longer had a kernel). A session that is not
// RUNNING (already restarting, say) is a 400.
func restartSession(ctx context.Context, s *functions.Server, sid uuid.UUID) error {
	d := s.Deps()
	if d.Enqueuer == nil {
		return functions.ErrServiceUnavailable("No workers to restart the session.")
	}
	// Subscribe before the change, so that the end of the restart cannot be missed.
	var sub *events.Subscription
	if d.Events != nil {
		sub = d.Events.Subscribe(func(ev *events.Event) bool { return ev.SessionID == sid.String() })
		defer sub.Cancel()
	}
	var begun bool
	err := db.InTx(context.WithoutCancel(ctx), d.Pool, func(tx pgx.Tx) error {
		var err error
		begun, err = lifecycle.BeginRestart(ctx, tx, sid, d.Clock())
		return err
	})
	if err != nil {
		return functions.FromDB(err, "session")
	}
	if !begun {
		return functions.ErrInvalidAPIParams("The session is not running; it cannot be restarted now.", nil)
	}
	task, err := jobs.NewSessionRestartTask(jobs.SessionRestartPayload{SessionID: sid.String(), RestartID: uuid.NewString()})
	if err == nil {
		_, err = d.Enqueuer.Enqueue(context.WithoutCancel(ctx), task)
	}
	if err != nil {
		// Nothing will restart the kernels: end the restart at once.
		d.Log().Warn("enqueue session restart", "session", sid, "err", err)
		if err := endRestartNow(ctx, s, sid); err != nil {
			return err
		}
		return functions.ErrServiceUnavailable("The restart could not be queued; retry.")
	}
	return waitRestart(ctx, s, sub, sid)
}

// endRestartNow ends a restart that was not queued, leaving the kernels as they are.
func endRestartNow(ctx context.Context, s *functions.Server, sid uuid.UUID) error {
	d := s.Deps()
	var evs []events.Event
	err := db.InTx(context.WithoutCancel(ctx), d.Pool, func(tx pgx.Tx) error {
		var err error
		evs, err = lifecycle.EndRestart(ctx, tx, sid, nil, d.Clock())
		return err
	})
	if err != nil {
		return functions.FromDB(err, "session")
	}
	publish(context.WithoutCancel(ctx), s, evs...)
	return nil
}

// waitRestart waits until the session leaves RESTARTING, re-reading it after every event of
// the session and every pollEvery, and answers with the restart's outcome.
func waitRestart(ctx context.Context, s *functions.Server, sub *events.Subscription, sid uuid.UUID) error {
	ctx, cancel := context.WithTimeout(ctx, restartWait)
	defer cancel()
	var outcome error
	ended, err := awaitSession(ctx, sub, func(ctx context.Context) (bool, error) {
		o, err := db.Q.SessionRestartOutcome(ctx, s.Deps().Pool, sid)
		if err != nil {
			return false, functions.FromDB(err, "session")
		}
		if o.Status == lifecycle.Restarting {
			return false, nil
		}
		if o.StatusInfo == lifecycle.ReasonKernelRestartFailed {
			msg := o.Error
			if msg == "" {
				msg = "Kernel restart has failed."
			}
			outcome = functions.ErrKernelRestartFailed(msg)
		}
		return true, nil
	})
	switch {
	case err != nil:
		return err
	case !ended:
		return functions.ErrKernelRestartFailed("The restart did not finish in time; it goes on in the background.")
	}
	return outcome
}
