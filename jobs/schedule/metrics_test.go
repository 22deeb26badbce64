package schedule_test

import (
	"github.com/hangar-run/hangar/jobs/jobstest"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/metricstest"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
	"github.com/hangar-run/hangar/jobs/schedule"
)

func TestScheduleMetrics(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	reg := prometheus.NewRegistry()
	client := asynq.NewClient(e.RedisOpt)
	t.Cleanup(func() { _ = client.Close() })
	h, err := schedule.New(&worker.Deps{
		Pool: e.Pool, Redis: e.Rdb, Enqueuer: jobs.NewEnqueuer(client, e.Prefix),
		Logger: testLogger(), Now: e.Clock, Registry: reg,
	}, schedule.Options{})
	require.NoError(t, err)
	// A second instance on the same registry shares the collectors.
	_, err = schedule.New(&worker.Deps{
		Pool: e.Pool, Enqueuer: jobs.NewEnqueuer(client, e.Prefix), Registry: reg,
	}, schedule.Options{})
	require.NoError(t, err)

	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	e.InsertPendingSession(t, "s1", "1", "1073741824")
	e.InsertPendingSession(t, "s2", "1", "1073741824")
	pass := func() {
		require.NoError(t, h.HandleScheduleScalingGroup(t.Context(), task(jobs.NewScheduleScalingGroupTask("default", e.Clock()))))
	}
	pass()
	pass() // nothing left to place

	fams := metricstest.ScrapeRegistry(t, reg)
	require.Equal(t, 2.0, fams.Value(t, "hangar_schedule_placements_total", map[string]string{"scaling_group": "default"}))
	require.Equal(t, 2.0, fams.Value(t, "hangar_schedule_pass_duration_seconds",
		map[string]string{"scaling_group": "default", "result": "ok"}), "two passes timed")
}
