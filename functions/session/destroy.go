package session

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/jobs"
)

type destroyInput struct {
	SessionName string `path:"session_name" doc:"Session id or name." example:"my-session"`
	Body        struct {
		Forced         bool    `json:"forced,omitempty" doc:"Destroy even in SCHEDULED, PREPARING, TERMINATING or ERROR status."`
		Recursive      bool    `json:"recursive,omitempty" doc:"Also destroy the sessions that depend on this one."`
		OwnerAccessKey *string `json:"owner_access_key,omitempty" nullable:"true" doc:"Act on this access key's session (admins only)."`
	} `required:"false"`
}

// DestroyOutput is the answer of DELETE /session/{session_name}: {"stats": {...}}, or a list of
// such stats when recursive.
type DestroyOutput struct {
	Body any `doc:"{\"stats\": {\"status\": \"cancelled\"|\"terminated\"}}, or a list of them for a recursive destroy."`
}

func registerDestroy(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "destroy-session", Method: http.MethodDelete, Path: "/session/{session_name}", Tag: tag,
		Summary: "Destroy a session",
		Description: "A PENDING session is cancelled at once; a running one is marked TERMINATING and its " +
			"kernels are destroyed in the background.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{403, 404},
	}), func(ctx context.Context, in *destroyInput) (*DestroyOutput, error) {
		id := functions.IdentityFrom(ctx)
		own, err := resolveOwner(ctx, s, id, in.Body.OwnerAccessKey)
		if err != nil {
			return nil, err
		}
		m, err := findSession(ctx, s, own.AccessKey, in.SessionName, false)
		if err != nil {
			return nil, err
		}
		if !in.Body.Recursive {
			stat, err := destroyOne(ctx, s, m.ID, in.Body.Forced)
			if err != nil {
				return nil, err
			}
			return &DestroyOutput{Body: map[string]any{"stats": stat}}, nil
		}
		ids := []uuid.UUID{m.ID}
		seen := map[uuid.UUID]bool{m.ID: true}
		for i := 0; i < len(ids); i++ {
			deps, err := db.Q.SessionDependents(ctx, s.Deps().Pool, ids[i])
			if err != nil {
				return nil, functions.FromDB(err, "session")
			}
			for _, d := range deps {
				if !seen[d] {
					seen[d] = true
					ids = append(ids, d)
				}
			}
		}
		stats := make([]any, 0, len(ids))
		for _, sid := range ids {
			stat, err := destroyOne(ctx, s, sid, in.Body.Forced)
			var p *functions.Problem
			if errors.As(err, &p) && (p.Status == http.StatusNotFound || p.Status == http.StatusForbidden) {
				continue
			}
			if err != nil {
				return nil, err
			}
			stats = append(stats, map[string]any{"stats": stat})
		}
		return &DestroyOutput{Body: stats}, nil
	})
}

// destroyOne cancels a PENDING session or marks a live one TERMINATING and enqueues its
// termination, with guarded updates retried when the status changes underneath.
func destroyOne(ctx context.Context, s *functions.Server, sid uuid.UUID, forced bool) (map[string]any, error) {
	d := s.Deps()
	for attempt := 0; attempt < 3; attempt++ {
		st, err := db.Q.SessionStatusGet(ctx, d.Pool, sid)
		if err != nil {
			return nil, functions.FromDB(err, "session")
		}
		var from []string
		switch st.Status {
		case lifecycle.Terminated, lifecycle.Cancelled:
			return nil, functions.ErrObjectNotFound("session", "Session (id="+sid.String()+") does not exist.")
		case lifecycle.Pending:
			ok, err := cancelPending(ctx, s, sid)
			if err != nil {
				return nil, err
			}
			if ok {
				return map[string]any{"status": "cancelled"}, nil
			}
			continue
		case lifecycle.Pulling:
			return nil, functions.ErrGenericForbidden("Cannot destroy sessions in pulling status")
		case lifecycle.Scheduled, lifecycle.Preparing, lifecycle.Terminating, lifecycle.Error:
			if !forced {
				return nil, functions.ErrGenericForbidden("Cannot destroy sessions in scheduled/preparing/terminating/error status")
			}
			from = []string{st.Status}
		default:
			from = []string{st.Status}
		}
		reason := lifecycle.ReasonUserRequested
		if forced {
			reason = lifecycle.ReasonForceTerminated
		}
		ok, err := markTerminating(ctx, s, sid, from, reason)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if d.Enqueuer != nil {
			task, err := jobs.NewSessionTerminateTask(jobs.SessionTerminatePayload{SessionID: sid.String(), Reason: reason, Forced: forced})
			if err == nil {
				_, err = d.Enqueuer.Enqueue(ctx, task)
			}
			if err != nil && !jobs.IsDuplicate(err) {
				d.Log().Warn("enqueue session termination", "session", sid, "err", err)
			}
		}
		return map[string]any{"status": "terminated"}, nil
	}
	return nil, functions.ErrServiceUnavailable("The session changed its status while being destroyed; retry.")
}

// cancelPending moves a PENDING session and its kernels to CANCELLED and publishes
// session_cancelled; false when the session had left PENDING.
func cancelPending(ctx context.Context, s *functions.Server, sid uuid.UUID) (bool, error) {
	d := s.Deps()
	now := d.Clock()
	reason := lifecycle.ReasonUserRequested
	var ev events.Event
	err := db.InTx(ctx, d.Pool, func(tx pgx.Tx) error {
		row, err := lifecycle.Session(ctx, tx, sid, lifecycle.Change{
			From: []string{lifecycle.Pending}, To: lifecycle.Cancelled, Info: &reason,
		}, now)
		if err != nil || row == nil {
			return err
		}
		ks, err := lifecycle.Kernels(ctx, tx, sid, nil, lifecycle.Change{
			From: lifecycle.LiveKernel, To: lifecycle.Cancelled, Info: &reason,
		}, now)
		if err != nil {
			return err
		}
		ref := lifecycle.RefOf(row)
		ref.MainKernel = lifecycle.MainKernelOf(ks)
		ev = ref.SessionEvent(events.SessionCancelled, reason, lifecycle.Cancelled, nil, now)
		return nil
	})
	if err != nil {
		return false, functions.FromDB(err, "session")
	}
	if ev.Name == "" {
		return false, nil
	}
	publish(ctx, s, ev)
	return true, nil
}

// markTerminating moves a session in one of from and its live kernels to TERMINATING and
// publishes session_terminating and kernel_terminating (unless the session was TERMINATING
// already); false when the session had left those statuses.
func markTerminating(ctx context.Context, s *functions.Server, sid uuid.UUID, from []string, reason string) (bool, error) {
	d := s.Deps()
	now := d.Clock()
	var (
		moved bool
		evs   []events.Event
	)
	err := db.InTx(ctx, d.Pool, func(tx pgx.Tx) error {
		// A failed session's ERROR kernels go the same way: the termination ends them.
		var err error
		moved, evs, err = lifecycle.MarkTerminating(ctx, tx, sid, from,
			append([]string{lifecycle.Error}, lifecycle.LiveKernel...), reason, now)
		return err
	})
	if err != nil {
		return false, functions.FromDB(err, "session")
	}
	publish(ctx, s, evs...)
	return moved, nil
}
