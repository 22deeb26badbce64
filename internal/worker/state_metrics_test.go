package worker_test

import (
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/dbtest"
	"github.com/hangar-run/hangar/internal/fixture"
	"github.com/hangar-run/hangar/internal/metricstest"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
)

// TestStateMetrics scrapes the worker's registry as Prometheus does: queue depth per queue
// and state, and sessions and agents by status counted in PostgreSQL.
func TestStateMetrics(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 30*time.Second)
	prefix, _ := testQueues(t)
	d := dbtest.NewDatabase(t)
	require.NoError(t, fixture.LoadExamples(ctx, d.Pool, fixture.Options{BcryptCost: 4}))
	_, err := d.Pool.Exec(ctx, `INSERT INTO agents (id, status, addr) VALUES
		('i-a', 'ALIVE', 'tcp://127.0.0.1:1'), ('i-b', 'ALIVE', 'tcp://127.0.0.1:2'), ('i-c', 'LOST', 'tcp://127.0.0.1:3')`)
	require.NoError(t, err)

	var deps *worker.Deps
	r := start(t, "worker-m", worker.Config{
		Etcd:        testEtcd(t, randomName(t, "test-")),
		QueuePrefix: prefix,
		Periodic:    []jobs.Periodic{},
		Pool:        d.Pool,
		Handlers: func(_ *asynq.ServeMux, dd *worker.Deps) error {
			deps = dd
			return nil
		},
	})
	r.waitLeader(ctx, t, true)
	// Tasks on the low queue, scheduled an hour ahead, so that nobody takes them.
	for range 3 {
		_, err := deps.Enqueuer.Enqueue(ctx, asynq.NewTask("test:later", nil), asynq.Queue(jobs.QueueLow),
			asynq.ProcessIn(time.Hour))
		require.NoError(t, err)
	}

	fams := metricstest.ScrapeRegistry(t, r.reg)
	low := jobs.QueueName(prefix, jobs.QueueLow)
	require.Equal(t, 3.0, fams.Value(t, "hangar_queue_tasks", map[string]string{"queue": low, "state": "scheduled"}))
	require.Equal(t, 0.0, fams.Value(t, "hangar_queue_tasks", map[string]string{"queue": low, "state": "pending"}))
	require.Equal(t, 0.0, fams.Value(t, "hangar_queue_tasks",
		map[string]string{"queue": jobs.QueueName(prefix, jobs.QueueCritical), "state": "pending"}), "a queue never used reads 0")
	require.Equal(t, 0.0, fams.Value(t, "hangar_queue_paused", map[string]string{"queue": low}))
	require.True(t, fams.Has("hangar_queue_latency_seconds"))
	require.Equal(t, 2.0, fams.Value(t, "hangar_agents", map[string]string{"status": "ALIVE"}))
	require.Equal(t, 1.0, fams.Value(t, "hangar_agents", map[string]string{"status": "LOST"}))
	require.Equal(t, 0.0, fams.Value(t, "hangar_agents", map[string]string{"status": "TERMINATED"}))
	require.Equal(t, 0.0, fams.Value(t, "hangar_sessions", map[string]string{"status": "RUNNING"}))
	require.Equal(t, 0.0, fams.Value(t, "hangar_sessions", map[string]string{"status": "PENDING"}))
	require.Equal(t, 1.0, fams.Value(t, "hangar_state_scrape_up", map[string]string{"source": "redis"}))
	require.Equal(t, 1.0, fams.Value(t, "hangar_state_scrape_up", map[string]string{"source": "postgres"}))
	// The worker's own series are there too.
	require.True(t, fams.Has("hangar_leader"))
	r.stop(ctx, t)
}
