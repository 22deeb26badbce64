package session

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

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
	now := h.Now()
	evs, err := lifecycle.InSession(ctx, h.Pool, sid, func(tx pgx.Tx, ref lifecycle.Ref) ([]events.Event, error) {
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
			return lifecycle.EndKernel(ctx, tx, ref, sid, kid, p.Reason, p.ExitCode, now)
		default:
			h.Logger.Warn("unknown kernel event ignored", "event", p.Event, "kernel", kid)
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
	h.Publish(ctx, evs...)
	return nil
}
