package schedule

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/jobs"
)

// HandleScheduleTick enqueues a schedule pass for every scaling group with PENDING sessions,
// and enqueues again the start of sessions SCHEDULED and the termination of sessions
// TERMINATING for longer than the stale threshold, whose wake-up may have been lost, and the
// start of sessions PREPARING for longer than jobs.PreparingRetryAfter, whose worker may have died.
// TaskID conflicts (the work is already queued) are no error.
//
// A start whose worker was killed keeps its task active, and its TaskID taken, until asynq's
// lease on it expires and its recoverer runs, a minute or more later. So a stale start is
// re-enqueued under a TaskID of its own per time bucket ("session:start:<id>:<n>"), unless
// its first task is still waiting in the queue (then it will run soon, and a copy would
// only double a backlog). A SCHEDULED session whose pass's start batch still waits in the
// queue is left to it the same way. Copies are harmless: the start handler works under the session's
// row lock and does nothing for a session that is no longer SCHEDULED or PREPARING.
func (h *Handlers) HandleScheduleTick(ctx context.Context, t *asynq.Task) error {
	var p jobs.ScheduleTickPayload
	if err := jobs.Decode(t, &p); err != nil {
		return err
	}
	now := h.Now()
	groups, err := db.Q.ScheduleTickScalingGroups(ctx, h.Pool)
	if err != nil {
		return fmt.Errorf("schedule tick: list scaling groups: %w", db.Translate(err))
	}
	var errs []error
	for _, sg := range groups {
		task, err := jobs.NewScheduleScalingGroupTask(sg, now)
		if err := h.Enqueue(ctx, task, err); err != nil {
			errs = append(errs, fmt.Errorf("enqueue schedule of %s: %w", sg, err))
		}
	}
	stale, err := db.Q.ScheduleTickStale(ctx, h.Pool, now.Add(-h.staleAfter))
	if err != nil {
		return fmt.Errorf("schedule tick: list stale sessions: %w", db.Translate(err))
	}
	// A SCHEDULED session's start was handed to the start batch of the pass that placed it:
	// while that task still waits in its queue it will run without help.
	placed := map[uuid.UUID]*dbsqlc.ScheduleTickStaleScheduledRow{}
	if len(stale) > 0 {
		rows, err := db.Q.ScheduleTickStaleScheduled(ctx, h.Pool, now.Add(-h.staleAfter))
		if err != nil {
			return fmt.Errorf("schedule tick: list stale scheduled sessions: %w", db.Translate(err))
		}
		for _, r := range rows {
			placed[r.ID] = r
		}
	}
	batchWaits := map[string]bool{}
	for _, s := range stale {
		id := s.ID.String()
		switch s.Status {
		case lifecycle.Scheduled:
			if r := placed[s.ID]; r != nil {
				bid := jobs.SessionStartBatchTaskID(r.ScalingGroup, r.StatusChanged)
				waits, ok := batchWaits[bid]
				if !ok {
					waits = h.waiting(jobs.TypeSessionStartBatch, bid)
					batchWaits[bid] = waits
				}
				if waits {
					continue
				}
			}
			tid := h.retryID(jobs.TypeSessionStart, id, now)
			if tid == "" {
				continue
			}
			task, err := jobs.NewSessionStartTask(id, asynq.TaskID(tid))
			if err := h.Enqueue(ctx, task, err); err != nil {
				errs = append(errs, fmt.Errorf("enqueue start of %s: %w", id, err))
			}
		case lifecycle.Preparing:
			if !s.StatusChanged.Before(now.Add(-jobs.PreparingRetryAfter)) {
				continue
			}
			task, err := jobs.NewSessionStartTask(id, asynq.TaskID(h.retryTaskID(jobs.TypeSessionStart, id, now)))
			if err := h.Enqueue(ctx, task, err); err != nil {
				errs = append(errs, fmt.Errorf("enqueue start of %s: %w", id, err))
			}
		case lifecycle.Terminating:
			reason := s.StatusInfo
			if reason == "" {
				reason = "user-requested"
			}
			tid := h.retryID(jobs.TypeSessionTerminate, id, now)
			if tid == "" {
				continue
			}
			task, err := jobs.NewSessionTerminateTask(jobs.SessionTerminatePayload{SessionID: id, Reason: reason}, asynq.TaskID(tid))
			if err := h.Enqueue(ctx, task, err); err != nil {
				errs = append(errs, fmt.Errorf("enqueue termination of %s: %w", id, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("schedule tick: %w", err)
	}
	return nil
}

// waiting reports whether the task of type typ with TaskID id waits in its queue (pending,
// or waiting for a retry).
func (h *Handlers) waiting(typ, id string) bool {
	if h.inspector == nil {
		return false
	}
	info, err := h.inspector.GetTaskInfo(jobs.QueueName(h.Enq.Prefix(), jobs.DefaultsOf(typ).Queue), id)
	if err != nil {
		return false
	}
	switch info.State {
	case asynq.TaskStatePending, asynq.TaskStateScheduled, asynq.TaskStateRetry:
		return true
	default:
		return false
	}
}

// retryTaskID is the TaskID of a task of type typ ("session:start", "session:terminate")
// for a session that the tick enqueues again at now: one per session and time bucket.
func (h *Handlers) retryTaskID(typ, sessionID string, now time.Time) string {
	bucket := now.UnixNano() / int64(max(h.staleAfter, jobs.PreparingRetryAfter))
	return fmt.Sprintf("%s:%s:%d", typ, sessionID, bucket)
}

// retryID returns the TaskID under which the tick enqueues again the session's task of type
// typ, or "" when none is needed: the first task, "<typ>:<session id>", still waits in its
// queue (pending, or waiting for a retry) and will run without help. When the queue has no
// such task (its wake-up was lost) it is the first TaskID again; when that task is active
// (its worker may have died) or completed, it is retryTaskID's.
func (h *Handlers) retryID(typ, sessionID string, now time.Time) string {
	first := typ + ":" + sessionID
	if h.inspector == nil {
		return h.retryTaskID(typ, sessionID, now)
	}
	q := jobs.QueueName(h.Enq.Prefix(), jobs.DefaultsOf(typ).Queue)
	info, err := h.inspector.GetTaskInfo(q, first)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound):
		return first
	case err != nil:
		return h.retryTaskID(typ, sessionID, now)
	}
	switch info.State {
	case asynq.TaskStatePending, asynq.TaskStateScheduled, asynq.TaskStateRetry:
		return ""
	default:
		return h.retryTaskID(typ, sessionID, now)
	}
}
