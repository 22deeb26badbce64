package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/jobs"
)

// HandleSessionTerminate ends a session. A PENDING or SCHEDULED session (nothing runs yet)
// becomes CANCELLED at once, its slots released. Any other live session is moved to
// TERMINATING, its kernels are destroyed on their agents (a kernel the agent does not know
// is gone already), then the kernels and the session become TERMINATED and their slots are
// released. An agent that cannot be reached fails the task for a retry, unless the payload
// is Forced, in which case the session is ended anyway. An ended session is left alone.
func (h *Handlers) HandleSessionTerminate(ctx context.Context, t *asynq.Task) error {
	var p jobs.SessionTerminatePayload
	if err := jobs.Decode(t, &p); err != nil {
		return err
	}
	sid, err := uuid.Parse(p.SessionID)
	if err != nil {
		return jobs.Invalid(t, fmt.Sprintf("session id %q: %v", p.SessionID, err))
	}
	reason := p.Reason
	if reason == "" {
		reason = lifecycle.ReasonUserRequested
	}
	now := h.Now()
	var (
		evs     []events.Event
		kernels []*dbsqlc.KernelListBySessionRow
		destroy bool
	)
	err = db.InTx(ctx, h.Pool, func(tx pgx.Tx) error {
		status, err := lifecycle.LockSession(ctx, tx, sid)
		if err != nil || status == "" || lifecycle.IsEnded(status) {
			return err
		}
		if status == lifecycle.Pending || status == lifecycle.Scheduled {
			ks, err := lifecycle.Kernels(ctx, tx, sid, nil, lifecycle.Change{From: lifecycle.LiveKernel, To: lifecycle.Cancelled, Info: lifecycle.Str(reason)}, now)
			if err != nil {
				return err
			}
			if err := lifecycle.ReleaseSession(ctx, tx, sid); err != nil {
				return err
			}
			row, err := lifecycle.Session(ctx, tx, sid, lifecycle.Change{From: []string{status}, To: lifecycle.Cancelled, Info: lifecycle.Str(reason)}, now)
			if err != nil || row == nil {
				return err
			}
			ref := lifecycle.RefOf(row)
			ref.MainKernel = lifecycle.MainKernelOf(ks)
			for _, k := range ks {
				evs = append(evs, ref.KernelEvent(events.KernelCancelled, k, reason, nil, now))
			}
			evs = append(evs, ref.SessionEvent(events.SessionCancelled, reason, lifecycle.Cancelled, nil, now))
			return nil
		}
		row, err := lifecycle.Session(ctx, tx, sid, lifecycle.Change{From: lifecycle.StartedSession, To: lifecycle.Terminating, Info: lifecycle.Str(reason)}, now)
		if err != nil || row == nil {
			return err
		}
		if status != lifecycle.Terminating {
			ref := lifecycle.RefOf(row)
			evs = append(evs, ref.SessionEvent(events.SessionTerminating, reason, lifecycle.Terminating, nil, now))
		}
		if _, err := lifecycle.Kernels(ctx, tx, sid, nil, lifecycle.Change{From: lifecycle.LiveKernel, To: lifecycle.Terminating}, now); err != nil {
			return err
		}
		kernels, err = db.Q.KernelListBySession(ctx, tx, sid)
		if err != nil {
			return fmt.Errorf("load kernels: %w", err)
		}
		destroy = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("terminate session %s: %w", sid, err)
	}
	h.Publish(ctx, evs...)
	if !destroy {
		return nil
	}

	for _, k := range kernels {
		if lifecycle.IsEnded(k.Status) || k.AgentAddr == nil || *k.AgentAddr == "" {
			continue
		}
		if err := h.destroyKernel(ctx, *k.AgentAddr, k.ID, sid, reason); err != nil {
			if !p.Forced {
				return fmt.Errorf("terminate session %s: %w", sid, err)
			}
			h.Logger.Warn("forced termination: kernel not destroyed on its agent", "session", sid, "kernel", k.ID, "error", err)
		}
	}
	return h.finishTerminate(ctx, sid, reason)
}

// destroyKernel keeps a kernel's log (best effort) and destroys the kernel on its agent; a
// kernel the agent does not know is fine.
func (h *Handlers) destroyKernel(ctx context.Context, addr string, kernelID, sessionID uuid.UUID, reason string) error {
	h.storeKernelLog(ctx, addr, kernelID)
	c, err := h.rpc.Get(addr)
	if err != nil {
		return fmt.Errorf("agent %s: %w", addr, err)
	}
	cctx, cancel := context.WithTimeout(ctx, h.rpcTimeout)
	defer cancel()
	err = c.DestroyKernel(cctx, &agentrpc.DestroyKernelRequest{KernelID: kernelID.String(), SessionID: sessionID.String(), Reason: reason})
	var re *agentrpc.RemoteError
	if errors.As(err, &re) && re.Kind == agentrpc.KindNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("destroy kernel %s: %w", kernelID, err)
	}
	return nil
}

// finishTerminate moves the session's live kernels and the TERMINATING session to
// TERMINATED, releasing the kernels' slots.
func (h *Handlers) finishTerminate(ctx context.Context, sid uuid.UUID, reason string) error {
	now := h.Now()
	var evs []events.Event
	err := db.InTx(ctx, h.Pool, func(tx pgx.Tx) error {
		status, err := lifecycle.LockSession(ctx, tx, sid)
		if err != nil || status != lifecycle.Terminating {
			return err
		}
		ks, err := lifecycle.Kernels(ctx, tx, sid, nil, lifecycle.Change{From: lifecycle.LiveKernel, To: lifecycle.Terminated, Info: lifecycle.Str(reason)}, now)
		if err != nil {
			return err
		}
		if err := lifecycle.ReleaseSession(ctx, tx, sid); err != nil {
			return err
		}
		row, err := lifecycle.Session(ctx, tx, sid, lifecycle.Change{From: []string{lifecycle.Terminating}, To: lifecycle.Terminated, Info: lifecycle.Str(reason)}, now)
		if err != nil || row == nil {
			return err
		}
		ref := lifecycle.RefOf(row)
		ref.MainKernel = lifecycle.MainKernelOf(ks)
		for _, k := range ks {
			evs = append(evs, ref.KernelEvent(events.KernelTerminated, k, reason, nil, now))
		}
		evs = append(evs, ref.SessionEvent(events.SessionTerminated, reason, lifecycle.Terminated, nil, now))
		return nil
	})
	if err != nil {
		return fmt.Errorf("terminate session %s: record: %w", sid, err)
	}
	h.Publish(ctx, evs...)
	return nil
}
