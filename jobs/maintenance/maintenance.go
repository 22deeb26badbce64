// Package maintenance handles the worker's own housekeeping tasks. For now that is the
// leader heartbeat (jobs.TypeLeaderHeartbeat), which proves that a leader is elected and
// that periodic jobs flow from it through Redis to a worker.
package maintenance

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hangar-run/hangar/internal/metricsserver"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
)

// recentSlots is how many heartbeat slots a Handlers remembers to ignore redeliveries.
const recentSlots = 256

// Handlers processes the maintenance tasks. It is safe for concurrent use.
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

// Register registers the maintenance handlers on mux.
func Register(mux *asynq.ServeMux, deps *worker.Deps) error {
	h, err := New(deps)
	if err != nil {
		return err
	}
	h.Register(mux)
	return nil
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
