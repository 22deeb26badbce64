package schedule

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/internal/scheduler"
	"github.com/hangar-run/hangar/jobs"
)

// passResult is what a committed schedule pass leaves to do.
type passResult struct {
	placed []string
	// placedAt is the pass's time, the SCHEDULED status_changed of the sessions it placed.
	placedAt time.Time
	events   []events.Event
	// left is how many sessions of the snapshot the pass left PENDING.
	left int64
}

// maxPassRounds bounds the passes one schedule task runs back to back while sessions keep
// arriving during them.
const maxPassRounds = 3

// HandleScheduleScalingGroup runs one schedule pass over the payload's scaling group: in one
// transaction, serialized per scaling group by an advisory lock, it loads the snapshot, asks
// internal/scheduler for a plan and writes it in batches (write.go). A placement reserves the
// agents' slots with guarded updates; when one no longer fits, that session stays PENDING for
// the next pass and the others are written.
// After commit it enqueues one jobs.TypeSessionStartBatch for the placed sessions and publishes
// session_scheduled and session_cancelled.
func (h *Handlers) HandleScheduleScalingGroup(ctx context.Context, t *asynq.Task) error {
	var p jobs.ScheduleScalingGroupPayload
	if err := jobs.Decode(t, &p); err != nil {
		return err
	}
	if p.ScalingGroup == "" {
		return jobs.Invalid(t, "no scaling group")
	}
	// A create whose wake-up finds this task already taken (same bucket) may commit after the
	// pass read its snapshot: when more sessions are PENDING after the pass than it left, they
	// arrived meanwhile, and another pass runs at once rather than at the next tick. Only a
	// pass that placed something is repeated: a full scaling group waits for the next wake-up.
	for round := 1; ; round++ {
		res, err := h.onePass(ctx, p.ScalingGroup)
		if err != nil {
			return err
		}
		if round == maxPassRounds || len(res.placed) == 0 {
			return nil
		}
		n, err := db.Q.SchedulePendingCount(ctx, h.Pool, &p.ScalingGroup)
		if err != nil || n <= res.left {
			return nil //nolint:nilerr // the next wake-up or tick schedules what this missed
		}
	}
}

// onePass runs one schedule pass over sg in its own transaction, then publishes its events
// and enqueues the start of the sessions it placed.
func (h *Handlers) onePass(ctx context.Context, sg string) (passResult, error) {
	var res passResult
	started := time.Now()
	err := db.InTx(ctx, h.Pool, func(tx pgx.Tx) error {
		var err error
		res, err = h.schedulePass(ctx, tx, sg)
		return err
	})
	h.metrics.observePass(sg, time.Since(started), len(res.placed), err)
	if err != nil {
		return res, fmt.Errorf("schedule %s: %w", sg, err)
	}
	h.Publish(ctx, res.events...)
	if len(res.placed) > 0 {
		// One start task for the whole pass.
		task, err := jobs.NewSessionStartBatchTask(sg, res.placedAt, res.placed)
		if err := h.Enqueue(ctx, task, err); err != nil {
			// The sessions are SCHEDULED; the schedule tick re-enqueues their start.
			h.Logger.Warn("schedule pass: enqueue session start", "sessions", len(res.placed), "error", err)
		}
	}
	return res, nil
}

// schedulePass loads the snapshot, plans and applies the plan in tx.
func (h *Handlers) schedulePass(ctx context.Context, tx pgx.Tx, sg string) (res passResult, _ error) {
	// One pass per scaling group at a time, and no queue of passes behind it: a pass that
	// finds the lock taken returns at once, since the running one runs again when sessions
	// arrived during it (HandleScheduleScalingGroup), and the tick catches what is left.
	if locked, err := db.Q.ScheduleTryLock(ctx, tx, sg); err != nil || !locked {
		if err != nil {
			return res, fmt.Errorf("lock: %w", err)
		}
		h.Logger.Debug("schedule pass already running; skipped", "scaling_group", sg)
		return res, nil
	}
	// The pass's time is read once it holds the lock, so that the SCHEDULED time it records
	// never precedes the creation (created_at) of a session it places.
	now := h.Now()
	res.placedAt = now
	l := &loader{tx: tx, logger: h.Logger.With("scaling_group", sg), bad: map[uuid.UUID]rejection{}}
	snap, info, err := l.loadSnapshot(ctx, sg, now)
	if err != nil {
		return res, err
	}
	if h.afterSnapshot != nil {
		h.afterSnapshot()
	}
	if err := h.rejectSessions(ctx, tx, l.rejected, now, &res); err != nil {
		return res, err
	}
	if snap == nil || len(snap.Pending) == 0 {
		return res, nil
	}
	cancelled := 0
	defer func() { res.left = int64(len(snap.Pending) - len(res.placed) - cancelled) }()
	plan, err := scheduler.Schedule(snap)
	if err != nil {
		return res, fmt.Errorf("plan: %w", err)
	}
	if snap.ScalingGroup.RoundRobin {
		if err := db.Q.ScheduleSetRoundRobinIndex(ctx, tx, &dbsqlc.ScheduleSetRoundRobinIndexParams{
			Name: sg, RoundrobinIndex: int32(plan.NextRoundRobinIndex),
		}); err != nil {
			return res, fmt.Errorf("record round-robin position: %w", err)
		}
	}
	placed, err := h.writePlacements(ctx, tx, snap, plan.Placements, now)
	if err != nil {
		return res, err
	}
	for _, pl := range placed {
		res.placed = append(res.placed, pl.SessionID)
		s := info[pl.SessionID]
		res.events = append(res.events, s.SessionEvent(events.SessionScheduled, "", lifecycle.Scheduled, nil, now))
	}
	if err := h.writeSkips(ctx, tx, plan.Skipped, now); err != nil {
		return res, err
	}
	n, err := h.writeCancels(ctx, tx, plan.Cancelled, info, now, &res)
	cancelled = n
	if err != nil {
		return res, err
	}
	return res, nil
}

// rejectSessions cancels the sessions the snapshot could not take (their slots were never
// reserved), recording the reason in status_info and the error in status_data, and adds
// their session_cancelled events to res.
func (h *Handlers) rejectSessions(ctx context.Context, tx pgx.Tx, rejected []rejection, now time.Time, res *passResult) error {
	for _, rj := range rejected {
		id, err := uuid.Parse(rj.ref.ID)
		if err != nil {
			return fmt.Errorf("session id %q: %w", rj.ref.ID, err)
		}
		h.Logger.Warn("schedule pass: cancelling a session it cannot evaluate", "session", rj.ref.ID, "reason", rj.reason, "error", rj.msg)
		data := map[string]any{"error": map[string]any{"src": "other", "name": "InvalidSessionRequest", "repr": rj.msg}}
		row, err := lifecycle.Session(ctx, tx, id, lifecycle.Change{From: []string{lifecycle.Pending}, To: lifecycle.Cancelled, Info: lifecycle.Str(rj.reason), Data: data}, now)
		if err != nil {
			return err
		}
		if row == nil {
			continue
		}
		if _, err := lifecycle.Kernels(ctx, tx, id, nil, lifecycle.Change{From: []string{lifecycle.Pending}, To: lifecycle.Cancelled, Info: lifecycle.Str(rj.reason)}, now); err != nil {
			return err
		}
		res.events = append(res.events, rj.ref.SessionEvent(events.SessionCancelled, rj.reason, lifecycle.Cancelled, nil, now))
	}
	return nil
}

// writeCancels cancels the sessions the plan cancels and their kernels, and adds their
// session_cancelled events to res in plan order; it returns how many it cancelled (a session
// no longer PENDING is left alone). Cancellations without an attempt to record (pending
// timeouts) are written a chunk of sessions per statement, grouped by reason; the others one
// by one, each with its own status_data.
func (h *Handlers) writeCancels(ctx context.Context, tx pgx.Tx, cancels []scheduler.Cancel, info map[string]lifecycle.Ref, now time.Time, res *passResult) (int, error) {
	done := make(map[string]bool, len(cancels))
	byReason := map[string][]uuid.UUID{}
	var reasons []string
	for i := range cancels {
		c := &cancels[i]
		id, err := uuid.Parse(c.SessionID)
		if err != nil {
			return 0, fmt.Errorf("session id %q: %w", c.SessionID, err)
		}
		if c.Attempt == nil {
			if _, ok := byReason[c.Reason]; !ok {
				reasons = append(reasons, c.Reason)
			}
			byReason[c.Reason] = append(byReason[c.Reason], id)
			continue
		}
		change := lifecycle.Change{From: []string{lifecycle.Pending}, To: lifecycle.Cancelled, Info: lifecycle.Str(c.Reason), Data: c.Attempt.StatusData(now)}
		row, err := lifecycle.Session(ctx, tx, id, change, now)
		if err != nil {
			return 0, err
		}
		if row == nil {
			continue
		}
		if _, err := lifecycle.Kernels(ctx, tx, id, nil, lifecycle.Change{From: []string{lifecycle.Pending}, To: lifecycle.Cancelled, Info: lifecycle.Str(c.Reason)}, now); err != nil {
			return 0, err
		}
		done[c.SessionID] = true
	}
	for _, reason := range reasons {
		change := lifecycle.Change{From: []string{lifecycle.Pending}, To: lifecycle.Cancelled, Info: lifecycle.Str(reason)}
		for ids := range slices.Chunk(byReason[reason], h.writeChunk) {
			rows, err := lifecycle.SessionsMany(ctx, tx, ids, change, now)
			if err != nil {
				return 0, err
			}
			changed := make([]uuid.UUID, 0, len(rows))
			for _, r := range rows {
				changed = append(changed, r.ID)
				done[r.ID.String()] = true
			}
			if len(changed) == 0 {
				continue
			}
			if _, err := lifecycle.KernelsMany(ctx, tx, changed, change, now); err != nil {
				return 0, err
			}
		}
	}
	n := 0
	for i := range cancels {
		c := &cancels[i]
		if !done[c.SessionID] {
			continue
		}
		n++
		s := info[c.SessionID]
		res.events = append(res.events, s.SessionEvent(events.SessionCancelled, c.Reason, lifecycle.Cancelled, nil, now))
	}
	return n, nil
}
