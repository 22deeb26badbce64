// Package maintenance handles the housekeeping tasks: the leader heartbeat
// (jobs.TypeLeaderHeartbeat), which proves that a leader is elected and that periodic jobs flow
// from it through Redis to a worker, and the sweeps that give every transitional state a way
// out (sweep.go, design.md invariant 3): the lost-agent check (jobs.TypeAgentLostCheck), the
// reconciliation of one agent's kernels (jobs.TypeAgentSync), the hang check
// (jobs.TypeSessionHangCheck) and the usage recalculation (jobs.TypeUsageRecalculate).
//
// The sweeps end kernels through the same lifecycle path as an agent's terminated event
// (jobkit.Kit.EndKernel) and sessions through session:terminate tasks.
package maintenance

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/jobkit"
	"github.com/hangar-run/hangar/internal/metricsserver"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
)

// recentSlots is how many heartbeat slots a Handlers remembers to ignore redeliveries.
const recentSlots = 256

// Handlers processes the leader heartbeat. It is safe for concurrent use.
type Handlers struct {
	logger     *slog.Logger
	now        func() time.Time
	heartbeats prometheus.Counter
	lag        prometheus.Gauge

	mu   sync.Mutex
	seen map[int64]bool
	ring []int64
}

// New returns Handlers whose metrics (hangar_leader_heartbeats_total,
// hangar_leader_heartbeat_lag_seconds) are registered on deps.Registry.
func New(deps *worker.Deps) (*Handlers, error) {
	h := &Handlers{logger: deps.Logger, now: deps.Now, seen: make(map[int64]bool, recentSlots)}
	if h.logger == nil {
		h.logger = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	reg := prometheus.Registerer(deps.Registry)
	if deps.Registry == nil {
		reg = prometheus.NewRegistry()
	}
	var err error
	if h.heartbeats, err = metricsserver.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hangar_leader_heartbeats_total",
		Help: "Leader heartbeats processed by this worker (each slot counted once).",
	})); err != nil {
		return nil, err
	}
	if h.lag, err = metricsserver.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hangar_leader_heartbeat_lag_seconds",
		Help: "How long after the start of its slot the last leader heartbeat ran.",
	})); err != nil {
		return nil, err
	}
	return h, nil
}

// Register registers the maintenance handlers on mux: the leader heartbeat, and the sweeps
// (with a new agent client pool that lives as long as the process) when deps has a
// PostgreSQL pool; a worker without a database serves the heartbeat alone.
func Register(mux *asynq.ServeMux, deps *worker.Deps) error {
	return RegisterWith(mux, deps, Options{})
}

// RegisterWith is Register with the sweeps tuned by opts.
func RegisterWith(mux *asynq.ServeMux, deps *worker.Deps, opts Options) error {
	h, err := New(deps)
	if err != nil {
		return err
	}
	h.Register(mux)
	if deps.Pool == nil {
		return nil
	}
	s, err := NewSweeps(deps, opts)
	if err != nil {
		return err
	}
	s.Register(mux)
	return nil
}

// Options tunes Sweeps beyond what worker.Deps gives. The zero value is usable.
type Options struct {
	// RPC is the pool of agent clients (agent syncs); NewSweeps creates one when nil.
	RPC *agentrpc.Pool
	// RPCTimeout bounds one agent call; jobkit.DefaultRPCTimeout when zero.
	RPCTimeout time.Duration
}

// Sweeps processes the sweeps and agent syncs. It is safe for concurrent use.
type Sweeps struct {
	*jobkit.Kit
	rpc        *agentrpc.Pool
	rpcTimeout time.Duration
	// heartbeatTimeout is how long an agent may go unheard before it is LOST.
	heartbeatTimeout time.Duration
	// shared is the shared configuration (hang tolerance, check period); nil in tests that
	// need none.
	shared *config.Shared
	// inspector reads queue backlogs (the lost-agent check); nil without a Redis client.
	inspector *asynq.Inspector
}

// NewSweeps returns Sweeps working on deps.Pool, enqueuing terminations with deps.Enqueuer
// and publishing events on deps.Redis under the enqueuer's prefix.
func NewSweeps(deps *worker.Deps, opts Options) (*Sweeps, error) {
	kit, err := jobkit.New(jobkit.Config{Pool: deps.Pool, Enqueuer: deps.Enqueuer, Redis: deps.Redis, Logger: deps.Logger, Now: deps.Now})
	if err != nil {
		return nil, fmt.Errorf("maintenance sweeps: %w", err)
	}
	s := &Sweeps{
		Kit: kit, rpc: opts.RPC, rpcTimeout: opts.RPCTimeout,
		heartbeatTimeout: deps.HeartbeatTimeout, shared: deps.Shared,
	}
	if s.heartbeatTimeout <= 0 {
		s.heartbeatTimeout = DefaultHeartbeatTimeout
	}
	if s.rpcTimeout <= 0 {
		s.rpcTimeout = jobkit.DefaultRPCTimeout
	}
	if s.rpc == nil {
		s.rpc = agentrpc.NewPool(agentrpc.ClientOptions{Timeout: s.rpcTimeout, Logger: s.Logger})
	}
	if deps.Redis != nil {
		s.inspector = asynq.NewInspectorFromRedisClient(deps.Redis)
	}
	return s, nil
}

// Register registers s's handlers on mux under their exact task types.
func (s *Sweeps) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(jobs.TypeAgentLostCheck, s.HandleAgentLostCheck)
	mux.HandleFunc(jobs.TypeAgentSync, s.HandleAgentSync)
	mux.HandleFunc(jobs.TypeSessionHangCheck, s.HandleSessionHangCheck)
	mux.HandleFunc(jobs.TypeUsageRecalculate, s.HandleUsageRecalculate)
}

// Register registers h's handlers on mux under their exact task types.
func (h *Handlers) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(jobs.TypeLeaderHeartbeat, h.HandleLeaderHeartbeat)
}

// HandleLeaderHeartbeat logs the heartbeat with its leader and lag and counts it. It is
// idempotent: a slot already seen by this process (a redelivery) is logged at debug level
// and not counted again.
func (h *Handlers) HandleLeaderHeartbeat(_ context.Context, t *asynq.Task) error {
	var p jobs.LeaderHeartbeatPayload
	if err := jobs.Decode(t, &p); err != nil {
		return err
	}
	if p.Slot.IsZero() {
		return jobs.Invalid(t, "no slot")
	}
	lag := h.now().Sub(p.Slot)
	if !h.firstTime(p.Slot.UnixNano()) {
		h.logger.Debug("leader heartbeat already seen", "leader", p.LeaderID, "slot", p.Slot)
		return nil
	}
	h.heartbeats.Inc()
	h.lag.Set(lag.Seconds())
	h.logger.Info("leader heartbeat", "leader", p.LeaderID, "slot", p.Slot, "lag", lag)
	return nil
}

// firstTime records slot and reports whether it was not seen before. It remembers the
// latest recentSlots slots.
func (h *Handlers) firstTime(slot int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen[slot] {
		return false
	}
	if len(h.ring) == recentSlots {
		delete(h.seen, h.ring[0])
		h.ring = h.ring[1:]
	}
	h.seen[slot] = true
	h.ring = append(h.ring, slot)
	return true
}
