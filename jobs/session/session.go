// Package session handles the tasks of the session lifecycle (design.md "Data flow: one
// session"): the schedule pass over a scaling group (jobs.TypeScheduleScalingGroup), the
// leader's schedule tick (jobs.TypeScheduleTick), starting a scheduled session on its agents
// (jobs.TypeSessionStartBatch, jobs.TypeSessionStart for one), terminating a session
// (jobs.TypeSessionTerminate), restarting a session's kernels (jobs.TypeSessionRestart) and
// applying the kernel events agents report
// (jobs.TypeKernelEvent); and the sweeps that give every transitional state a way out
// (sweep.go): lost agents, agent kernel sync, hang tolerance and usage recalculation.
//
// PostgreSQL holds the state; every status change goes through internal/lifecycle, which
// guards it with the expected current status and the transition table, records the status
// history and releases a kernel's agent slots exactly once. Events are published after commit.
package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
)

// DefaultRPCTimeout bounds one call to an agent.
const DefaultRPCTimeout = 30 * time.Second

// DefaultStaleAfter is how long a session may stay SCHEDULED or TERMINATING before the
// schedule tick assumes its wake-up was lost and enqueues it again.
const DefaultStaleAfter = 5 * time.Second

// Options tunes Handlers beyond what worker.Deps gives. The zero value is usable.
type Options struct {
	// RPC is the pool of agent clients; New creates one when nil.
	RPC *agentrpc.Pool
	// RPCTimeout bounds one agent call; DefaultRPCTimeout when zero.
	RPCTimeout time.Duration
	// StaleAfter is the schedule tick's lost-wake-up threshold; DefaultStaleAfter when zero.
	StaleAfter time.Duration
	// AfterSnapshot, when set, runs in every schedule pass right after the snapshot is read
	// (tests use it to commit sessions while a pass runs).
	AfterSnapshot func()
}

// Handlers processes the session lifecycle tasks. It is safe for concurrent use.
type Handlers struct {
	pool       *pgxpool.Pool
	enq        *jobs.Enqueuer
	pub        *events.Publisher
	rpc        *agentrpc.Pool
	logger     *slog.Logger
	now        func() time.Time
	rpcTimeout time.Duration
	staleAfter time.Duration
	metrics    *scheduleMetrics
	// heartbeatTimeout is how long an agent may go unheard before it is LOST.
	heartbeatTimeout time.Duration
	// shared is the shared configuration (hang tolerance); nil in tests that need none.
	shared *config.Shared
	// inspector reads queue backlogs (the lost-agent check); nil without a Redis client.
	inspector *asynq.Inspector
	// afterSnapshot is Options.AfterSnapshot.
	afterSnapshot func()
}

// New returns Handlers working on deps.Pool, enqueuing follow-up tasks with deps.Enqueuer
// and publishing events on deps.Redis under the enqueuer's prefix.
func New(deps *worker.Deps, opts Options) (*Handlers, error) {
	if deps.Pool == nil {
		return nil, errors.New("session handlers: no PostgreSQL pool")
	}
	if deps.Enqueuer == nil {
		return nil, errors.New("session handlers: no enqueuer")
	}
	h := &Handlers{
		pool:       deps.Pool,
		enq:        deps.Enqueuer,
		rpc:        opts.RPC,
		logger:     deps.Logger,
		now:        deps.Now,
		rpcTimeout: opts.RPCTimeout,
		staleAfter: opts.StaleAfter,
		shared:     deps.Shared,

		afterSnapshot: opts.AfterSnapshot,

		heartbeatTimeout: deps.HeartbeatTimeout,
	}
	if h.heartbeatTimeout <= 0 {
		h.heartbeatTimeout = DefaultHeartbeatTimeout
	}
	if deps.Redis != nil {
		h.pub = events.NewPublisher(deps.Redis, deps.Enqueuer.Prefix())
		h.inspector = asynq.NewInspectorFromRedisClient(deps.Redis)
	}
	if h.logger == nil {
		h.logger = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.rpcTimeout <= 0 {
		h.rpcTimeout = DefaultRPCTimeout
	}
	if h.staleAfter <= 0 {
		h.staleAfter = DefaultStaleAfter
	}
	if h.rpc == nil {
		h.rpc = agentrpc.NewPool(agentrpc.ClientOptions{Timeout: h.rpcTimeout, Logger: h.logger})
	}
	var reg prometheus.Registerer
	if deps.Registry != nil {
		reg = deps.Registry
	}
	m, err := newScheduleMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("session handlers: %w", err)
	}
	h.metrics = m
	return h, nil
}

// Register registers the session lifecycle handlers on mux, with a new agent client pool
// that lives as long as the process.
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
	mux.HandleFunc(jobs.TypeSessionStart, h.HandleSessionStart)
	mux.HandleFunc(jobs.TypeSessionStartBatch, h.HandleSessionStartBatch)
	mux.HandleFunc(jobs.TypeSessionTerminate, h.HandleSessionTerminate)
	mux.HandleFunc(jobs.TypeSessionRestart, h.HandleSessionRestart)
	mux.HandleFunc(jobs.TypeKernelEvent, h.HandleKernelEvent)
	mux.HandleFunc(jobs.TypeAgentLostCheck, h.HandleAgentLostCheck)
	mux.HandleFunc(jobs.TypeAgentSync, h.HandleAgentSync)
	mux.HandleFunc(jobs.TypeSessionHangCheck, h.HandleSessionHangCheck)
	mux.HandleFunc(jobs.TypeUsageRecalculate, h.HandleUsageRecalculate)
}

// publish sends evs, logging a failure: the state they describe is committed already.
func (h *Handlers) publish(ctx context.Context, evs ...events.Event) {
	if err := h.pub.Publish(ctx, evs...); err != nil {
		h.logger.Warn("publish session events", "error", err)
	}
}

// enqueue enqueues t, treating a TaskID conflict (already queued) as success.
func (h *Handlers) enqueue(ctx context.Context, t *asynq.Task, err error) error {
	if err != nil {
		return err
	}
	if _, err := h.enq.Enqueue(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return err
	}
	return nil
}
