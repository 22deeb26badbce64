package session

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/idle"
	"github.com/hangar-run/hangar/internal/lifecycle"
)

// touchThrottle is the least time between two recorded accesses of one session: a burst of
// calls writes the session row once.
const touchThrottle = time.Second

// touch records an access to the target's session for the idle checkers (network_timeout):
// every operation on a running session's kernel (execute, stream execute, completion,
// upload, download, file listing, logs, interrupt, restart) does it when it starts, and
// execute again when the agent answers, so that a run in progress keeps its session in use.
// A failure is logged only.
func (t *target) touch(ctx context.Context, s *functions.Server) {
	if t.Session.Status != "RUNNING" {
		return
	}
	touchSession(ctx, s, t.Session.ID)
}

// touchSession records an access to session sid at the server's clock (at most once per
// touchThrottle).
func touchSession(ctx context.Context, s *functions.Server, sid uuid.UUID) {
	d := s.Deps()
	now := d.Clock()
	before := now.Add(-touchThrottle)
	if _, err := db.Q.SessionTouch(ctx, d.Pool, &dbsqlc.SessionTouchParams{Now: &now, ID: sid, ThrottleBefore: &before}); err != nil {
		d.Log().Warn("record session access", "session", sid, "err", err)
	}
}

// idleSource returns the idle checker configuration of the shared config (nil: defaults).
func idleSource(sc functions.SharedConfig) idle.Source {
	if sc == nil {
		return nil
	}
	if src, ok := sc.(idle.Source); ok {
		return src
	}
	return sharedDurations{sc}
}

// sharedDurations reads durations from a shared config that does not parse them itself.
type sharedDurations struct{ functions.SharedConfig }

// Duration returns the duration at key, or def when it is absent or unreadable.
func (s sharedDurations) Duration(key string, def time.Duration) time.Duration {
	v, ok := s.Get(key)
	if !ok {
		return def
	}
	d, err := config.ParseDuration(v)
	if err != nil {
		return def
	}
	return d
}

// idleChecks returns a session's idleChecks from its facts: the report of every enabled idle
// checker (internal/idle) at the server's clock, computed the way the reaper computes them.
// Sessions that are not RUNNING, or whose owner's facts are missing, have none.
func idleChecks(ctx context.Context, s *functions.Server, row *dbsqlc.SessionInfoMatchRow) map[string]any {
	out := map[string]any{}
	d := s.Deps()
	if row.Status != lifecycle.Running || row.UserCreatedAt == nil || row.IdleTimeout == nil || row.MaxSessionLifetime == nil {
		return out
	}
	sid := row.ID
	now := d.Clock()
	cfg, _ := idle.Load(idleSource(d.Shared))
	sess := idle.Session{
		Type: row.SessionType, CreatedAt: row.CreatedAt, RunningSince: row.RunningSince, LastAccess: row.LastAccessAt,
		UserCreatedAt: *row.UserCreatedAt, Slots: idle.ParseSlots(row.OccupyingSlots),
	}
	policy := idle.Policy{IdleTimeout: *row.IdleTimeout, MaxSessionLifetime: int64(*row.MaxSessionLifetime)}
	if w := idle.Window(cfg, policy); cfg.Utilization && w > 0 && sess.Type != idle.TypeInference {
		avgs, err := db.Q.IdleUtilizationAverages(ctx, d.Pool, &dbsqlc.IdleUtilizationAveragesParams{
			SessionIds: []uuid.UUID{sid}, Since: []time.Time{now.Add(-w)}, Now: now,
		})
		if err != nil {
			d.Log().Warn("idle check report: utilization", "session", sid, "err", err)
		}
		for _, a := range avgs {
			if sess.Utilization == nil {
				sess.Utilization = map[string]float64{}
			}
			sess.Utilization[a.Metric] = a.Average
		}
	}
	for name, r := range idle.Check(cfg, sess, policy, now).Reports {
		out[name] = r
	}
	return out
}
