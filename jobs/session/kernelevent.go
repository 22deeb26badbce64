package session

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/jobs"
)

// HandleKernelEvent applies a kernel event an agent reported:
//   - preparing moves a SCHEDULED kernel to PREPARING;
//   - started moves a SCHEDULED or PREPARING kernel to RUNNING (kernel_started);
//   - terminated ends a live kernel as TERMINATED with result SUCCESS for exit code 0 and
//     FAILURE otherwise (no result when it was destroyed), releases its slots, and when it was
//     the session's last live kernel ends the session too (session_success or
//     session_failure when exit codes are known, then session_terminated). The log of a
//     kernel that ended by itself (an exit code is known) is kept in kernels.container_log.
//
// An event for a kernel that is already past it (a duplicate, a late delivery) changes
// nothing.
func (h *Handlers) HandleKernelEvent(ctx context.Context, t *asynq.Task) error {
	var p jobs.KernelEventPayload
	if err := jobs.Decode(t, &p); err != nil {
		return err
	}
	kid, err := uuid.Parse(p.KernelID)
	if err != nil {
		return jobs.Invalid(t, fmt.Sprintf("kernel id %q: %v", p.KernelID, err))
	}
	sid, err := uuid.Parse(p.SessionID)
	if err != nil {
		return jobs.Invalid(t, fmt.Sprintf("session id %q: %v", p.SessionID, err))
	}
	now := h.now()
	evs, err := h.inSessionTx(ctx, sid, func(tx pgx.Tx, ref lifecycle.Ref) ([]events.Event, error) {
		switch p.Event {
		case jobs.KernelEventPreparing:
			_, err := lifecycle.Kernels(ctx, tx, sid, &kid, lifecycle.Change{From: []string{lifecycle.Scheduled}, To: lifecycle.Preparing}, now)
			return nil, err
		case jobs.KernelEventStarted:
			ks, err := lifecycle.Kernels(ctx, tx, sid, &kid, lifecycle.Change{From: []string{lifecycle.Scheduled, lifecycle.Preparing}, To: lifecycle.Running}, now)
			if err != nil {
				return nil, err
			}
			var evs []events.Event
			for _, k := range ks {
				evs = append(evs, ref.KernelEvent(events.KernelStarted, k, p.Reason, nil, now))
			}
			return evs, nil
		case jobs.KernelEventTerminated:
			return h.kernelTerminated(ctx, tx, ref, sid, kid, &p)
		default:
			h.logger.Warn("unknown kernel event ignored", "event", p.Event, "kernel", kid)
			return nil, nil
		}
	})
	if err != nil {
		return fmt.Errorf("kernel %s event %s: %w", kid, p.Event, err)
	}
	if p.Event == jobs.KernelEventTerminated && p.ExitCode != nil && len(evs) > 0 {
		// The kernel ended by itself: its agent still has its log until it is destroyed.
		h.storeExitedKernelLog(ctx, kid)
	}
	h.publish(ctx, evs...)
	return nil
}

// inSessionTx runs f in a transaction that holds session sid's row lock, with the session's
// event fields, and returns the events f made (to publish after commit). For a session that
// does not exist it runs nothing.
func (h *Handlers) inSessionTx(ctx context.Context, sid uuid.UUID, f func(tx pgx.Tx, ref lifecycle.Ref) ([]events.Event, error)) ([]events.Event, error) {
	var evs []events.Event
	err := db.InTx(ctx, h.pool, func(tx pgx.Tx) error {
		status, err := lifecycle.LockSession(ctx, tx, sid)
		if err != nil || status == "" {
			return err
		}
		sess, err := db.Q.SessionGetForLifecycle(ctx, tx, sid)
		if err != nil {
			return fmt.Errorf("load session: %w", err)
		}
		evs, err = f(tx, lifecycle.RefOfSession(sess))
		return err
	})
	return evs, err
}

// kernelTerminated applies a terminated event in tx, with the session row locked.
func (h *Handlers) kernelTerminated(ctx context.Context, tx pgx.Tx, ref lifecycle.Ref, sid, kid uuid.UUID, p *jobs.KernelEventPayload) ([]events.Event, error) {
	now := h.now()
	reason := p.Reason
	if reason == "" {
		reason = lifecycle.ReasonSelfTerminated
	}
	c := lifecycle.Change{From: lifecycle.LiveKernel, To: lifecycle.Terminated, Info: lifecycle.Str(reason)}
	if p.ExitCode != nil {
		if *p.ExitCode == 0 {
			c.Result = lifecycle.Str(lifecycle.ResultSuccess)
		} else {
			c.Result = lifecycle.Str(lifecycle.ResultFailure)
		}
	}
	ks, err := lifecycle.Kernels(ctx, tx, sid, &kid, c, now)
	if err != nil || len(ks) == 0 {
		return nil, err
	}
	if _, err := lifecycle.ReleaseKernel(ctx, tx, kid); err != nil {
		return nil, err
	}
	evs := []events.Event{ref.KernelEvent(events.KernelTerminated, ks[0], reason, p.ExitCode, now)}
	left, err := db.Q.KernelCountUnfinished(ctx, tx, sid)
	if err != nil {
		return nil, fmt.Errorf("count live kernels: %w", err)
	}
	if left > 0 {
		return evs, nil
	}
	sc := lifecycle.Change{From: append([]string{lifecycle.Scheduled}, lifecycle.StartedSession...), To: lifecycle.Terminated, Info: lifecycle.Str(reason)}
	var resultEvent string
	if p.ExitCode != nil {
		failed, err := db.Q.KernelResultSummary(ctx, tx, sid)
		if err != nil {
			return nil, fmt.Errorf("session result: %w", err)
		}
		if failed {
			sc.Result, resultEvent = lifecycle.Str(lifecycle.ResultFailure), events.SessionFailure
		} else {
			sc.Result, resultEvent = lifecycle.Str(lifecycle.ResultSuccess), events.SessionSuccess
		}
	}
	row, err := lifecycle.Session(ctx, tx, sid, sc, now)
	if err != nil || row == nil {
		return evs, err
	}
	sref := lifecycle.RefOf(row)
	sref.MainKernel = ref.MainKernel
	if sref.MainKernel == "" {
		sref.MainKernel = kid.String()
	}
	if resultEvent != "" {
		evs = append(evs, sref.SessionEvent(resultEvent, reason, lifecycle.Terminated, p.ExitCode, now))
	}
	evs = append(evs, sref.SessionEvent(events.SessionTerminated, reason, lifecycle.Terminated, p.ExitCode, now))
	return evs, nil
}
