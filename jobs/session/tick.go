package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/jobs"
)

// HandleScheduleTick enqueues a schedule pass for every scaling group with PENDING sessions,
// and enqueues again the start of sessions SCHEDULED and the termination of sessions
// TERMINATING for longer than the stale threshold, whose wake-up was lost. TaskID conflicts
// (the work is already queued) are no error.
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
