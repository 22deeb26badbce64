package session

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/jobs"
)

// TerminateForIdle ends a RUNNING session the idle checkers found expired, the way a user's
// (non-forced) destroy does: the session and its live kernels become TERMINATING with
// reason as status_info, session_terminating and kernel_terminating are published, and a
// session:terminate task destroys the kernels on their agents. It reports whether it moved
// the session; a session that is no longer RUNNING (already TERMINATING, say) is left alone,
// so a second run of the idle check does nothing. If the enqueue fails, the schedule tick
// re-enqueues the termination of a session that stays TERMINATING.
func (h *Handlers) TerminateForIdle(ctx context.Context, sid uuid.UUID, reason string) (bool, error) {
	now := h.now()
	var evs []events.Event
	err := db.InTx(ctx, h.pool, func(tx pgx.Tx) error {
		status, err := lifecycle.LockSession(ctx, tx, sid)
		if err != nil || status != lifecycle.Running {
			return err
		}
		_, evs, err = lifecycle.MarkTerminating(ctx, tx, sid, []string{lifecycle.Running}, lifecycle.LiveKernel, reason, now)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("terminate idle session %s: %w", sid, err)
	}
	if len(evs) == 0 {
		return false, nil
	}
	h.publish(ctx, evs...)
	task, err := jobs.NewSessionTerminateTask(jobs.SessionTerminatePayload{SessionID: sid.String(), Reason: reason})
	if err := h.enqueue(ctx, task, err); err != nil {
		h.logger.Warn("idle session marked TERMINATING; its termination was not enqueued (the schedule tick retries)",
			"session", sid, "reason", reason, "error", err)
	}
	return true, nil
}
