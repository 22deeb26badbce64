package session_test

import (
	"testing"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/metricstest"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
	"github.com/hangar-run/hangar/jobs/session"
)

func TestScheduleMetrics(t *testing.T) {
	e := newEnv(t, session.Options{})
	reg := prometheus.NewRegistry()
	client := asynq.NewClient(e.redisOpt)
	t.Cleanup(func() { _ = client.Close() })
	h, err := session.New(&worker.Deps{
		Pool: e.pool, Redis: e.rdb, Enqueuer: jobs.NewEnqueuer(client, e.prefix),
		Logger: testLogger(), Now: e.clock, Registry: reg,
	}, session.Options{})
	require.NoError(t, err)
	// A second instance on the same registry shares the collectors.
	_, err = session.New(&worker.Deps{
		Pool: e.pool, Enqueuer: jobs.NewEnqueuer(client, e.prefix), Registry: reg,
	}, session.Options{})
	require.NoError(t, err)

	e.insertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	e.insertPendingSession(t, "s1", "1", "1073741824")
	e.insertPendingSession(t, "s2", "1", "1073741824")
	pass := func() {
		require.NoError(t, h.HandleScheduleScalingGroup(t.Context(), task(jobs.NewScheduleScalingGroupTask("default", e.clock()))))
	}
	pass()
	pass() // nothing left to place

	fams := metricstest.ScrapeRegistry(t, reg)
	require.Equal(t, 2.0, fams.Value(t, "hangar_schedule_placements_total", map[string]string{"scaling_group": "default"}))
	require.Equal(t, 2.0, fams.Value(t, "hangar_schedule_pass_duration_seconds",
		map[string]string{"scaling_group": "default", "result": "ok"}), "two passes timed")
}
