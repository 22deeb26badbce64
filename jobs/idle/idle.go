// Package idle handles the periodic idle check (jobs.TypeIdleCheck): it runs the idle
// checkers of internal/idle over every RUNNING session (inference sessions excepted) and
// terminates the expired ones with reason idle-timeout, idle-session-lifetime or
// idle-utilization through jobkit.Kit.RequestTermination, the same transition a user's
// destroy makes (TERMINATING, session_terminating and kernel_terminating events,
// session:terminate).
//
// One run reads the sessions and their facts in one query and, when the utilization
// checker is enabled, the utilization averages of the sessions it judges in a second one;
// it then prunes the utilization samples older than the longest window. The checker
// configuration is read from the shared config on every run, so changes apply at the next
// check. A session found expired is terminated by the first run that sees it; a later run
// finds it TERMINATING and leaves it alone. hangar_idle_reaps_total{checker} counts the
// terminations.
package idle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/idle"
	"github.com/hangar-run/hangar/internal/jobkit"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/internal/metricsserver"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
)

// pruneMargin is kept beyond the longest utilization window when pruning samples.
const pruneMargin = time.Minute

// Handlers processes the idle check. It is safe for concurrent use.
type Handlers struct {
	*jobkit.Kit
	source idle.Source // nil: defaults
	reaps  *prometheus.CounterVec
}

// Options tunes Handlers beyond what worker.Deps gives. The zero value is usable.
type Options struct {
	// Source, when set, replaces deps.Shared as the checker configuration (tests).
	Source idle.Source
}

// New returns Handlers reading deps.Pool and the checker configuration from deps.Shared
// (defaults when nil), enqueuing terminations with deps.Enqueuer and publishing events on
// deps.Redis.
func New(deps *worker.Deps, opts Options) (*Handlers, error) {
	kit, err := jobkit.New(jobkit.Config{Pool: deps.Pool, Enqueuer: deps.Enqueuer, Redis: deps.Redis, Logger: deps.Logger, Now: deps.Now})
	if err != nil {
		return nil, fmt.Errorf("idle handlers: %w", err)
	}
	h := &Handlers{Kit: kit}
	switch {
	case opts.Source != nil:
		h.source = opts.Source
	case deps.Shared != nil:
		h.source = deps.Shared
	}
	h.reaps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hangar_idle_reaps_total",
		Help: "Sessions the idle check terminated, by the checker that found them expired.",
	}, []string{"checker"})
	if deps.Registry != nil {
		c, err := metricsserver.Register(deps.Registry, h.reaps)
		if err != nil {
			return nil, fmt.Errorf("idle handlers: %w", err)
		}
		h.reaps = c
	}
	return h, nil
}

// Register registers the idle check on mux.
func Register(mux *asynq.ServeMux, deps *worker.Deps) error {
	h, err := New(deps, Options{})
	if err != nil {
		return err
	}
	h.Register(mux)
	return nil
}

// Register registers h's handler on mux under its exact task type.
func (h *Handlers) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(jobs.TypeIdleCheck, h.HandleIdleCheck)
}

// candidate is one RUNNING session with its checker inputs.
type candidate struct {
	id      uuid.UUID
	name    string
	session idle.Session
	policy  idle.Policy
}

// HandleIdleCheck runs one idle check (see the package doc).
func (h *Handlers) HandleIdleCheck(ctx context.Context, _ *asynq.Task) error {
	now := h.Now()
	cfg, warnings := idle.Load(h.source)
	for _, w := range warnings {
		h.Logger.Debug("idle checker configuration", "problem", w)
	}
	rows, err := db.Q.IdleCandidates(ctx, h.Pool)
	if err != nil {
		return fmt.Errorf("idle check: list sessions: %w", db.Translate(err))
	}
	cands := make([]candidate, 0, len(rows))
	for _, r := range rows {
		cands = append(cands, candidateOf(r))
	}
	if err := h.loadUtilization(ctx, cfg, cands, now); err != nil {
		return err
	}
	var errs []error
	for _, c := range cands {
		res := idle.Check(cfg, c.session, c.policy, now)
		if res.Expired == "" {
			continue
		}
		ok, err := h.RequestTermination(ctx, jobkit.Termination{SessionID: c.id, From: []string{lifecycle.Running}, Reason: res.Reason})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			h.reaps.WithLabelValues(res.Expired).Inc()
			h.Logger.Info("idle session terminated", "session", c.id, "name", c.name, "checker", res.Expired, "reason", res.Reason)
		}
	}
	if err := h.prune(ctx, cfg, cands, now); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// candidateOf turns a candidate row into checker inputs.
func candidateOf(r *dbsqlc.IdleCandidatesRow) candidate {
	return candidate{
		id:   r.ID,
		name: r.Name,
		session: idle.Session{
			Type: r.SessionType, CreatedAt: r.CreatedAt, RunningSince: r.RunningSince, LastAccess: r.LastAccessAt,
			UserCreatedAt: r.UserCreatedAt, Slots: idle.ParseSlots(r.OccupyingSlots),
		},
		policy: idle.Policy{IdleTimeout: r.IdleTimeout, MaxSessionLifetime: int64(r.MaxSessionLifetime)},
	}
}

// loadUtilization fills in the utilization averages of the candidates the utilization
// checker judges at now, in one query.
func (h *Handlers) loadUtilization(ctx context.Context, cfg idle.Config, cands []candidate, now time.Time) error {
	var (
		ids   []uuid.UUID
		since []time.Time
		index = map[uuid.UUID]int{}
	)
	for i, c := range cands {
		if idle.Judging(cfg, c.session, c.policy, now) {
			ids = append(ids, c.id)
			since = append(since, now.Add(-idle.Window(cfg, c.policy)))
			index[c.id] = i
		}
	}
	if len(ids) == 0 {
		return nil
	}
	avgs, err := db.Q.IdleUtilizationAverages(ctx, h.Pool, &dbsqlc.IdleUtilizationAveragesParams{SessionIds: ids, Since: since, Now: now})
	if err != nil {
		return fmt.Errorf("idle check: utilization averages: %w", db.Translate(err))
	}
	for _, a := range avgs {
		c := &cands[index[a.SessionID]]
		if c.session.Utilization == nil {
			c.session.Utilization = map[string]float64{}
		}
		c.session.Utilization[a.Metric] = a.Average
	}
	return nil
}

// prune deletes the utilization samples older than the longest window any session uses
// (the configured one at least), plus a margin.
func (h *Handlers) prune(ctx context.Context, cfg idle.Config, cands []candidate, now time.Time) error {
	keep := cfg.TimeWindow
	for _, c := range cands {
		keep = max(keep, idle.Window(cfg, c.policy))
	}
	n, err := db.Q.IdleUtilizationPrune(ctx, h.Pool, now.Add(-keep-pruneMargin))
	if err != nil {
		return fmt.Errorf("idle check: prune utilization samples: %w", db.Translate(err))
	}
	if n > 0 {
		h.Logger.Debug("utilization samples pruned", "rows", n)
	}
	return nil
}
