package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// restartCallTimeout bounds the agent call that restarts one kernel.
const restartCallTimeout = 60 * time.Second

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
		return &RestartOutput{}, restartSession(context.WithoutCancel(ctx), s, t.Session.ID)
	})
}

// restartSession moves a RUNNING session and its RUNNING kernels to RESTARTING, restarts the
// kernels on their agents, and moves them back to RUNNING. A kernel its agent no longer has
// ends in ERROR, and the session with it; any other failure leaves the session RUNNING.
func restartSession(ctx context.Context, s *functions.Server, sid uuid.UUID) error {
	kernels, err := setRestarting(ctx, s, sid)
	if err != nil {
		return err
	}
	var failed error
	gone := map[uuid.UUID]bool{}
	for _, k := range kernels {
		if err := restartKernel(ctx, s, sid, k); err != nil {
			var re *agentrpc.RemoteError
			if errors.As(err, &re) && re.Kind == agentrpc.KindNotFound {
				gone[k.ID] = true
			}
			if failed == nil {
				failed = err
			}
		}
	}
	if err := endRestart(ctx, s, sid, gone); err != nil {
		return err
	}
	if failed != nil {
		return agentError(failed, functions.ErrKernelRestartFailed)
	}
	return nil
}

// setRestarting marks the session and its RUNNING kernels RESTARTING and returns those
// kernels; a session that is not RUNNING (already restarting, say) is a 400.
func setRestarting(ctx context.Context, s *functions.Server, sid uuid.UUID) ([]*dbsqlc.KernelListBySessionRow, error) {
	d := s.Deps()
	now := d.Clock()
	var kernels []*dbsqlc.KernelListBySessionRow
	err := db.InTx(ctx, d.Pool, func(tx pgx.Tx) error {
		if _, err := db.Q.SessionTransition(ctx, tx, &dbsqlc.SessionTransitionParams{
			ToStatus: "RESTARTING", Now: now, Iso: isoTime(now), ID: sid, FromStatuses: []string{"RUNNING"},
		}); err != nil {
			return err
		}
		ks, err := db.Q.KernelTransition(ctx, tx, &dbsqlc.KernelTransitionParams{
			ToStatus: "RESTARTING", Now: now, Iso: isoTime(now), SessionID: sid, FromStatuses: []string{"RUNNING"},
		})
		if err != nil {
			return err
		}
		moved := make(map[uuid.UUID]bool, len(ks))
		for _, k := range ks {
			moved[k.ID] = true
		}
		all, err := db.Q.KernelListBySession(ctx, tx, sid)
		if err != nil {
			return err
		}
		for _, k := range all {
			if moved[k.ID] {
				kernels = append(kernels, k)
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return nil, functions.ErrInvalidAPIParams("The session is not running; it cannot be restarted now.", nil)
		}
		return nil, functions.FromDB(err, "session")
	}
	return kernels, nil
}

// restartKernel restarts one kernel on its agent and records its new container id.
func restartKernel(ctx context.Context, s *functions.Server, sid uuid.UUID, k *dbsqlc.KernelListBySessionRow) error {
	if k.AgentAddr == nil || *k.AgentAddr == "" {
		return agentrpc.Errorf(agentrpc.KindNotFound, "kernel %s is on no agent", k.ID)
	}
	c, err := s.Deps().Agents.Get(*k.AgentAddr)
	if err != nil {
		return fmt.Errorf("agent %s: %w", *k.AgentAddr, err)
	}
	cctx, cancel := context.WithTimeout(ctx, restartCallTimeout)
	defer cancel()
	rep, err := c.RestartKernel(cctx, &agentrpc.RestartKernelRequest{SessionID: sid.String(), KernelID: k.ID.String()})
	if err != nil {
		return err
	}
	if rep != nil && rep.ContainerID != "" {
		if err := db.Q.KernelContainerIDSet(ctx, s.Deps().Pool, &dbsqlc.KernelContainerIDSetParams{
			ContainerID: &rep.ContainerID, ID: k.ID,
		}); err != nil {
			s.Deps().Log().Warn("record restarted kernel's container", "kernel", k.ID, "err", err)
		}
	}
	return nil
}

// endRestart moves the RESTARTING kernels back to RUNNING, or to ERROR for those in gone,
// and the session back to RUNNING, or to ERROR when a kernel is gone.
func endRestart(ctx context.Context, s *functions.Server, sid uuid.UUID, gone map[uuid.UUID]bool) error {
	d := s.Deps()
	now := d.Clock()
	sessionTo := "RUNNING"
	var info *string
	if len(gone) > 0 {
		sessionTo = "ERROR"
		msg := "kernel-restart-failed"
		info = &msg
	}
	err := db.InTx(ctx, d.Pool, func(tx pgx.Tx) error {
		for kid := range gone {
			if _, err := db.Q.KernelTransition(ctx, tx, &dbsqlc.KernelTransitionParams{
				ToStatus: "ERROR", Now: now, Iso: isoTime(now), StatusInfo: info, SessionID: sid, KernelID: &kid,
				FromStatuses: []string{"RESTARTING"},
			}); err != nil {
				return err
			}
		}
		if _, err := db.Q.KernelTransition(ctx, tx, &dbsqlc.KernelTransitionParams{
			ToStatus: "RUNNING", Now: now, Iso: isoTime(now), SessionID: sid, FromStatuses: []string{"RESTARTING"},
		}); err != nil {
			return err
		}
		_, err := db.Q.SessionTransition(ctx, tx, &dbsqlc.SessionTransitionParams{
			ToStatus: sessionTo, Now: now, Iso: isoTime(now), StatusInfo: info, ID: sid, FromStatuses: []string{"RESTARTING"},
		})
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			// The session left RESTARTING meanwhile (it is being destroyed): nothing to restore.
			return nil
		}
		return err
	})
	if err != nil {
		return functions.FromDB(err, "session")
	}
	return nil
}
