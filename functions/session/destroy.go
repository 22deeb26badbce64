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
	"github.com/hangar-run/hangar/internal/jobkit"
	"github.com/hangar-run/hangar/internal/lifecycle"
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
	Body any `doc:"{\"stats\": {\"status\": \"cancelled\"|\"terminated\"}}, with, for a session whose main kernel reported utilization, its last statistics ({metric: {current, capacity, pct, unit_hint}}) and \"version\": 2; or a list of them for a recursive destroy."`
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

// destroyOne cancels a PENDING session or requests the termination of a live one
// (requestTermination), with guarded updates retried when the status changes underneath.
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
		ok, err := requestTermination(ctx, s, jobkit.Termination{
			SessionID: sid, From: from, Reason: reason, Forced: forced,
			// A failed session's ERROR kernels go the same way: the termination ends them.
			KernelFrom: append([]string{lifecycle.Error}, lifecycle.LiveKernel...),
		})
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		// The main kernel's last statistics, as its agent last reported them.
		stat := map[string]any{"status": "terminated"}
		if ls, err := lastStat(ctx, s, sid); err != nil {
			d.Log().Warn("last statistics of a destroyed session", "session", sid, "err", err)
		} else if ls != nil {
			for k, v := range ls {
				stat[k] = v
			}
			stat["version"] = 2
		}
		return stat, nil
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

// requestTermination ends a session the way every termination request does (the idle reaper's
// too): jobkit.RequestTermination moves it and its kernels to TERMINATING, publishes
// session_terminating and kernel_terminating (not when it was TERMINATING already) and
// enqueues the session:terminate task. false when the session had left r.From.
func requestTermination(ctx context.Context, s *functions.Server, r jobkit.Termination) (bool, error) {
	d := s.Deps()
	kit, err := jobkit.New(jobkit.Config{Pool: d.Pool, Enqueuer: d.Enqueuer, Redis: d.Redis, Logger: d.Log(), Now: d.Clock})
	if err != nil {
		d.Log().Error("session termination unavailable", "err", err)
		return false, functions.ErrServiceUnavailable("Sessions cannot be terminated right now.")
	}
	moved, err := kit.RequestTermination(ctx, r)
	if err != nil {
		return false, functions.FromDB(err, "session")
	}
	return moved, nil
}
