package worker_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/halfstack"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
)

// TestRetryIsPrompt: a task that fails (as every task does while PostgreSQL is down) runs
// again within a few hundred milliseconds, not after asynq's default 15 s or more.
func TestRetryIsPrompt(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 30*time.Second)
	prefix, _ := testQueues(t)
	var (
		mu   sync.Mutex
		runs []time.Time
	)
	done := make(chan struct{})
	start(t, "worker-retry", worker.Config{
		Etcd: testEtcd(t, randomName(t, "test-")), QueuePrefix: prefix, Periodic: []jobs.Periodic{},
		Handlers: func(mux *asynq.ServeMux, _ *worker.Deps) error {
			mux.HandleFunc("test:flaky", func(context.Context, *asynq.Task) error {
				mu.Lock()
				defer mu.Unlock()
				runs = append(runs, time.Now())
				if len(runs) < 3 {
					return errors.New("database unavailable")
				}
				close(done)
				return nil
			})
			return nil
		},
	})
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: testRedisAddr, Password: halfstack.RedisPassword()})
	defer client.Close()
	_, err := jobs.NewEnqueuer(client, prefix).Enqueue(ctx, asynq.NewTask("test:flaky", nil), asynq.MaxRetry(5))
	require.NoError(t, err)
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the task did not succeed on its third run")
	}
	mu.Lock()
	defer mu.Unlock()
	total := runs[2].Sub(runs[0])
	t.Logf("two retries took %v", total)
	// Backoff 100 ms + 200 ms at most, plus forwarding and polling; asynq's default would
	// wait at least 30 s.
	require.Less(t, total, 3*time.Second)
}

// TestCriticalFirst: with one worker slot and a backlog in every queue, the critical queue
// is drained before any default or low task runs.
func TestCriticalFirst(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 30*time.Second)
	prefix, _ := testQueues(t)
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: testRedisAddr, Password: halfstack.RedisPassword()})
	defer client.Close()
	enq := jobs.NewEnqueuer(client, prefix)
	const perQueue = 10
	for i := range perQueue {
		for _, q := range []string{jobs.QueueLow, jobs.QueueDefault, jobs.QueueCritical} {
			_, err := enq.Enqueue(ctx, asynq.NewTask("test:order", []byte(q)), asynq.Queue(q))
			require.NoError(t, err, i)
		}
	}
	var (
		mu    sync.Mutex
		order []string
	)
	done := make(chan struct{})
	start(t, "worker-order", worker.Config{
		Etcd: testEtcd(t, randomName(t, "test-")), QueuePrefix: prefix, Periodic: []jobs.Periodic{}, Concurrency: 1,
		Handlers: func(mux *asynq.ServeMux, _ *worker.Deps) error {
			mux.HandleFunc("test:order", func(_ context.Context, task *asynq.Task) error {
				mu.Lock()
				defer mu.Unlock()
				order = append(order, string(task.Payload()))
				if len(order) == 3*perQueue {
					close(done)
				}
				return nil
			})
			return nil
		},
	})
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the tasks did not all run")
	}
	mu.Lock()
	defer mu.Unlock()
	for i, q := range order {
		want := []string{jobs.QueueCritical, jobs.QueueDefault, jobs.QueueLow}[i/perQueue]
		require.Equal(t, want, q, "task %d of %v", i, order)
	}
}
