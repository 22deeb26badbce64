// Package schedule places PENDING sessions on agents (design.md "Data flow: one session"): the
// schedule pass over one scaling group (jobs.TypeScheduleScalingGroup) loads a snapshot of the
// group from PostgreSQL (snapshot.go, the adapter from rows to internal/scheduler's
// Snapshot), asks the pure internal/scheduler for a plan, reserves the agents' slots with
// guarded updates and hands the placed sessions to one jobs.TypeSessionStartBatch task; and the
// leader's schedule tick (jobs.TypeScheduleTick) wakes passes for groups with PENDING sessions
// and re-enqueues the starts and terminations whose wake-up was lost or whose worker died.
//
// Status changes go through internal/lifecycle; events are published after commit.
package schedule

import (
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hangar-run/hangar/internal/jobkit"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
)

// DefaultStaleAfter is how long a session may stay SCHEDULED or TERMINATING before the
// schedule tick assumes its wake-up was lost and enqueues it again.
const DefaultStaleAfter = 5 * time.Second

// Options tunes Handlers beyond what worker.Deps gives. The zero value is usable.
type Options struct {
	// StaleAfter is the schedule tick's lost-wake-up threshold; DefaultStaleAfter when zero.
	StaleAfter time.Duration
	// AfterSnapshot, when set, runs in every schedule pass right after the snapshot is read
	// (tests use it to commit sessions while a pass runs).
	AfterSnapshot func()
	// WriteChunk is how many placements or skipped sessions one batch of statements writes;
	// DefaultWriteChunk when zero.
	WriteChunk int
}

// Handlers processes the schedule pass and the schedule tick. It is safe for concurrent use.
type Handlers struct {
	*jobkit.Kit
	staleAfter time.Duration
	metrics    *scheduleMetrics
	// inspector reads the queues (the tick's lookups of waiting tasks); nil without Redis.
	inspector *asynq.Inspector
	// afterSnapshot is Options.AfterSnapshot.
	afterSnapshot func()
	// writeChunk is Options.WriteChunk.
	writeChunk int
}

// New returns Handlers working on deps.Pool, enqueuing follow-up tasks with deps.Enqueuer
// and publishing events on deps.Redis under the enqueuer's prefix.
func New(deps *worker.Deps, opts Options) (*Handlers, error) {
	kit, err := jobkit.New(jobkit.Config{Pool: deps.Pool, Enqueuer: deps.Enqueuer, Redis: deps.Redis, Logger: deps.Logger, Now: deps.Now})
	if err != nil {
		return nil, fmt.Errorf("schedule handlers: %w", err)
	}
	h := &Handlers{Kit: kit, staleAfter: opts.StaleAfter, afterSnapshot: opts.AfterSnapshot, writeChunk: opts.WriteChunk}
	if h.staleAfter <= 0 {
		h.staleAfter = DefaultStaleAfter
	}
	if h.writeChunk <= 0 {
		h.writeChunk = DefaultWriteChunk
	}
	if deps.Redis != nil {
		h.inspector = asynq.NewInspectorFromRedisClient(deps.Redis)
	}
	var reg prometheus.Registerer
	if deps.Registry != nil {
		reg = deps.Registry
	}
	if h.metrics, err = newScheduleMetrics(reg); err != nil {
		return nil, fmt.Errorf("schedule handlers: %w", err)
	}
	return h, nil
}

// Register registers the schedule handlers on mux.
func Register(mux *asynq.ServeMux, deps *worker.Deps) error {
	h, err := New(deps, Options{})
	if err != nil {
		return err
	}
	h.Register(mux)
	return nil
}

// Register registers h's handlers on mux under their exact task types.
func (h *Handlers) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(jobs.TypeScheduleScalingGroup, h.HandleScheduleScalingGroup)
	mux.HandleFunc(jobs.TypeScheduleTick, h.HandleScheduleTick)
}
