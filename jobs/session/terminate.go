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
	"github.com/hangar-run/hangar/jobs"
)

// terminableStatuses are the session statuses a termination moves to TERMINATING first.
var terminableStatuses = []string{statusPreparing, "PULLING", statusRunning, "RESTARTING", "RUNNING_DEGRADED", statusTerminating}

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
		reason = "user-requested"
	}
	now := h.now()
	var (
		evs     []events.Event
		kernels []*dbsqlc.KernelListBySessionRow
		destroy bool
	)
	err = db.InTx(ctx, h.pool, func(tx pgx.Tx) error {
		status, err := lockSession(ctx, tx, sid)
		if err != nil || status == "" || isEnded(status) {
			return err
		}
		if status == statusPending || status == statusScheduled {
			ks, err := transitionKernels(ctx, tx, sid, nil, change{from: liveKernelStatuses, to: statusCancelled, info: strp(reason)}, now)
			if err != nil {
				return err
			}
			if err := releaseSession(ctx, tx, sid); err != nil {
				return err
			}
			row, err := transitionSession(ctx, tx, sid, change{from: []string{status}, to: statusCancelled, info: strp(reason)}, now)
			if err != nil || row == nil {
				return err
			}
			ref := refOf(row)
			ref.mainKernel = mainKernelOf(ks)
			for _, k := range ks {
				evs = append(evs, ref.kernelEvent(events.KernelCancelled, k, reason, nil, now))
			}
			evs = append(evs, ref.sessionEvent(events.SessionCancelled, reason, statusCancelled, nil, now))
			return nil
		}
		row, err := transitionSession(ctx, tx, sid, change{from: terminableStatuses, to: statusTerminating, info: strp(reason)}, now)
		if err != nil || row == nil {
			return err
		}
		if status != statusTerminating {
			ref := refOf(row)
			evs = append(evs, ref.sessionEvent(events.SessionTerminating, reason, statusTerminating, nil, now))
		}
		if _, err := transitionKernels(ctx, tx, sid, nil, change{from: liveKernelStatuses, to: statusTerminating}, now); err != nil {
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
	h.publish(ctx, evs...)
	if !destroy {
		return nil
	}

	for _, k := range kernels {
		if isEnded(k.Status) || k.AgentAddr == nil || *k.AgentAddr == "" {
			continue
		}
		if err := h.destroyKernel(ctx, *k.AgentAddr, k.ID, sid, reason); err != nil {
			if !p.Forced {
				return fmt.Errorf("terminate session %s: %w", sid, err)
			}
			h.logger.Warn("forced termination: kernel not destroyed on its agent", "session", sid, "kernel", k.ID, "error", err)
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
	now := h.now()
	var evs []events.Event
	err := db.InTx(ctx, h.pool, func(tx pgx.Tx) error {
		status, err := lockSession(ctx, tx, sid)
		if err != nil || status != statusTerminating {
			return err
		}
		ks, err := transitionKernels(ctx, tx, sid, nil, change{from: liveKernelStatuses, to: statusTerminated, info: strp(reason)}, now)
		if err != nil {
			return err
		}
		if err := releaseSession(ctx, tx, sid); err != nil {
			return err
		}
		row, err := transitionSession(ctx, tx, sid, change{from: []string{statusTerminating}, to: statusTerminated, info: strp(reason)}, now)
		if err != nil || row == nil {
			return err
		}
		ref := refOf(row)
		ref.mainKernel = mainKernelOf(ks)
		for _, k := range ks {
			evs = append(evs, ref.kernelEvent(events.KernelTerminated, k, reason, nil, now))
		}
		evs = append(evs, ref.sessionEvent(events.SessionTerminated, reason, statusTerminated, nil, now))
		return nil
	})
	if err != nil {
		return fmt.Errorf("terminate session %s: record: %w", sid, err)
	}
	h.publish(ctx, evs...)
	return nil
}
