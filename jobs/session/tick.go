package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/jobs"
)

// PreparingRetryAfter is how long a session may stay PREPARING before the schedule tick
// retries its start under a fresh TaskID.
const PreparingRetryAfter = 30 * time.Second

// HandleScheduleTick enqueues a schedule pass for every scaling group with PENDING sessions,
// and enqueues again the start of sessions SCHEDULED and the termination of sessions
// TERMINATING for longer than the stale threshold, whose wake-up may have been lost, and the
// start of sessions PREPARING for longer than PreparingRetryAfter, whose worker may have died.
// TaskID conflicts (the work is already queued) are no error.
func (h *Handlers) HandleScheduleTick(ctx context.Context, t *asynq.Task) error {
	var p jobs.ScheduleTickPayload
	if err := jobs.Decode(t, &p); err != nil {
		return err
	}
	now := h.now()
	groups, err := db.Q.ScheduleTickScalingGroups(ctx, h.pool)
	if err != nil {
		return fmt.Errorf("schedule tick: list scaling groups: %w", db.Translate(err))
	}
	var errs []error
	for _, sg := range groups {
		task, err := jobs.NewScheduleScalingGroupTask(sg, now)
		if err := h.enqueue(ctx, task, err); err != nil {
			errs = append(errs, fmt.Errorf("enqueue schedule of %s: %w", sg, err))
		}
	}
	stale, err := db.Q.ScheduleTickStale(ctx, h.pool, now.Add(-h.staleAfter))
	if err != nil {
		return fmt.Errorf("schedule tick: list stale sessions: %w", db.Translate(err))
	}
	for _, s := range stale {
		id := s.ID.String()
		switch s.Status {
		case statusScheduled:
			task, err := jobs.NewSessionStartTask(id)
			if err := h.enqueue(ctx, task, err); err != nil {
				errs = append(errs, fmt.Errorf("enqueue start of %s: %w", id, err))
			}
		case statusPreparing:
			// A start whose worker died keeps its task (and TaskID) active until asynq's
			// lease expires and its recoverer runs, up to about 90 s later. After
			// PreparingRetryAfter a start under a TaskID of its own retries at once; a start
			// still in flight meanwhile is harmless (create_kernels is idempotent and every
			// transition is guarded).
			if !s.StatusChanged.Before(now.Add(-PreparingRetryAfter)) {
				continue
			}
			bucket := now.UnixNano() / int64(PreparingRetryAfter)
			task, err := jobs.NewSessionStartTask(id, asynq.TaskID(fmt.Sprintf("%s:%s:retry:%d", jobs.TypeSessionStart, id, bucket)))
			if err := h.enqueue(ctx, task, err); err != nil {
				errs = append(errs, fmt.Errorf("enqueue start of %s: %w", id, err))
			}
		case statusTerminating:
			reason := s.StatusInfo
			if reason == "" {
				reason = "user-requested"
			}
			task, err := jobs.NewSessionTerminateTask(jobs.SessionTerminatePayload{SessionID: id, Reason: reason})
			if err := h.enqueue(ctx, task, err); err != nil {
				errs = append(errs, fmt.Errorf("enqueue termination of %s: %w", id, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("schedule tick: %w", err)
	}
	return nil
}
