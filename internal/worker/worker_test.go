package worker_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/halfstack"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
	"github.com/hangar-run/hangar/jobs/maintenance"
)

// slotTime is the time of a tick inside the i-th heartbeat slot after an arbitrary base.
func slotTime(i int) time.Time {
	return time.Unix(1_700_000_000, 0).Add(time.Duration(i)*jobs.DefaultLeaderHeartbeatEvery + 3*time.Second)
}

// heartbeats is the number of leader heartbeats the runners processed together.
func heartbeats(t *testing.T, rs ...*runner) int {
	t.Helper()
	var n float64
	for _, r := range rs {
		n += metric(t, r.reg, "hangar_leader_heartbeats_total")
	}
	return int(n)
}

// waitDrained waits until the runners processed want heartbeats and the default queue holds
// exactly want completed tasks and nothing else, then checks that nothing failed.
func waitDrained(ctx context.Context, t *testing.T, insp *asynq.Inspector, prefix string, want int, rs ...*runner) {
	t.Helper()
	q := jobs.QueueName(prefix, jobs.QueueDefault)
	var info *asynq.QueueInfo
	waitFor(ctx, t, fmt.Sprintf("%d heartbeats processed", want), func() bool {
		got := heartbeats(t, rs...)
		require.LessOrEqual(t, got, want, "more heartbeats than slots")
		if got != want {
			return false
		}
		var err error
		info, err = insp.GetQueueInfo(q)
		require.NoError(t, err)
		require.LessOrEqual(t, info.Completed+info.Pending+info.Active, want, "more tasks than slots: %+v", info)
		return info.Completed == want
	})
	require.Zero(t, info.Pending+info.Active+info.Scheduled+info.Retry+info.Archived, "%+v", info)
	require.Equal(t, want, heartbeats(t, rs...), "no extra heartbeat")
	for _, r := range rs {
		require.Zero(t, metric(t, r.reg, "hangar_jobs_failed_total", "type", jobs.TypeLeaderHeartbeat), r.name)
	}
}

func heartbeatHandlers(mux *asynq.ServeMux, deps *worker.Deps) error {
	return maintenance.Register(mux, deps)
}

func TestLeaderFailover(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 30*time.Second)
	ns := randomName(t, "test-")
	prefix, insp := testQueues(t)
	cfg := func() worker.Config {
		return worker.Config{Etcd: testEtcd(t, ns), QueuePrefix: prefix, Handlers: heartbeatHandlers, LeaderTTL: 5}
	}
	a := start(t, "worker-a", cfg())
	b := start(t, "worker-b", cfg())

	// Exactly one of the two becomes leader.
	var leader, follower *runner
	select {
	case v := <-a.leader:
		require.True(t, v)
		leader, follower = a, b
	case v := <-b.leader:
		require.True(t, v)
		leader, follower = b, a
	case <-ctx.Done():
		t.Fatal("nobody became leader")
	}
	require.InDelta(t, 1, metric(t, leader.reg, "hangar_leader"), 0)
	require.InDelta(t, 0, metric(t, follower.reg, "hangar_leader"), 0)

	// N ticks on both workers: exactly N heartbeats, all enqueued by the leader.
	const n = 5
	for i := range n {
		leader.sendTick(ctx, t, slotTime(i))
		follower.sendTick(ctx, t, slotTime(i))
	}
	// Once a loop takes another tick it has finished the previous one; a repeated slot
	// enqueues nothing.
	leader.sendTick(ctx, t, slotTime(n-1))
	follower.sendTick(ctx, t, slotTime(n-1))
	waitDrained(ctx, t, insp, prefix, n, a, b)
	require.InDelta(t, n, metric(t, leader.reg, "hangar_periodic_enqueues_total", "name", jobs.TypeLeaderHeartbeat, "result", "enqueued"), 0)
	require.InDelta(t, 0, metric(t, follower.reg, "hangar_periodic_enqueues_total", "name", jobs.TypeLeaderHeartbeat, "result", "enqueued"), 0)
	require.InDelta(t, 0, metric(t, follower.reg, "hangar_leader"), 0)

	// The leader shuts down gracefully; the follower takes over.
	leader.stop(ctx, t)
	require.InDelta(t, 0, metric(t, leader.reg, "hangar_leader"), 0)
	follower.waitLeader(ctx, t, true)
	require.InDelta(t, 1, metric(t, follower.reg, "hangar_leader"), 0)

	// The new leader first sees the last slot the old one enqueued: its TaskID is still
	// retained, so it is not enqueued again. Then the heartbeat goes on.
	const m = 3
	for i := n - 1; i < n+m; i++ {
		follower.sendTick(ctx, t, slotTime(i))
	}
	follower.sendTick(ctx, t, slotTime(n+m-1))
	waitDrained(ctx, t, insp, prefix, n+m, a, b)
	require.InDelta(t, 1, metric(t, follower.reg, "hangar_periodic_enqueues_total", "name", jobs.TypeLeaderHeartbeat, "result", "duplicate"), 0)
	require.InDelta(t, m, metric(t, follower.reg, "hangar_periodic_enqueues_total", "name", jobs.TypeLeaderHeartbeat, "result", "enqueued"), 0)

	follower.stop(ctx, t)
	require.InDelta(t, 0, metric(t, follower.reg, "hangar_leader"), 0)
}

// Two workers that both lead (here: elected in different etcd namespaces, as in a
// split-brain failover) still enqueue each slot once, thanks to the per-slot TaskID.
func TestDoubleLeaderEnqueuesOncePerSlot(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 30*time.Second)
	prefix, insp := testQueues(t)
	a := start(t, "worker-a", worker.Config{Etcd: testEtcd(t, randomName(t, "test-")), QueuePrefix: prefix, Handlers: heartbeatHandlers})
	b := start(t, "worker-b", worker.Config{Etcd: testEtcd(t, randomName(t, "test-")), QueuePrefix: prefix, Handlers: heartbeatHandlers})
	a.waitLeader(ctx, t, true)
	b.waitLeader(ctx, t, true)

	const n = 6
	for i := range n {
		a.sendTick(ctx, t, slotTime(i))
		b.sendTick(ctx, t, slotTime(i))
	}
	a.sendTick(ctx, t, slotTime(n-1))
	b.sendTick(ctx, t, slotTime(n-1))
	waitDrained(ctx, t, insp, prefix, n, a, b)

	var enqueued, duplicate float64
	for _, r := range []*runner{a, b} {
		enqueued += metric(t, r.reg, "hangar_periodic_enqueues_total", "name", jobs.TypeLeaderHeartbeat, "result", "enqueued")
		duplicate += metric(t, r.reg, "hangar_periodic_enqueues_total", "name", jobs.TypeLeaderHeartbeat, "result", "duplicate")
	}
	require.InDelta(t, n, enqueued, 0)
	require.InDelta(t, n, duplicate, 0)

	a.stop(ctx, t)
	b.stop(ctx, t)
}

func TestGracefulShutdownAndMetrics(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 30*time.Second)
	prefix, insp := testQueues(t)

	started := make(chan struct{})
	release := make(chan struct{})
	var finished atomic.Bool
	var deps *worker.Deps
	r := start(t, "worker-a", worker.Config{
		Etcd:        testEtcd(t, randomName(t, "test-")),
		QueuePrefix: prefix,
		Periodic:    []jobs.Periodic{},
		Handlers: func(mux *asynq.ServeMux, d *worker.Deps) error {
			deps = d
			mux.HandleFunc("test:block", func(ctx context.Context, _ *asynq.Task) error {
				close(started)
				select {
				case <-release:
					finished.Store(true)
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			mux.HandleFunc("test:fail", func(context.Context, *asynq.Task) error {
				return fmt.Errorf("always: %w", asynq.SkipRetry)
			})
			return nil
		},
	})
	r.waitLeader(ctx, t, true)
	require.NotNil(t, deps)
	require.Equal(t, "worker-a", deps.WorkerID)
	require.Equal(t, prefix, deps.Enqueuer.Prefix())
	require.NotNil(t, deps.Now)

	// Failures and unknown types are counted.
	_, err := deps.Enqueuer.Enqueue(ctx, asynq.NewTask("test:fail", nil))
	require.NoError(t, err)
	_, err = deps.Enqueuer.Enqueue(ctx, asynq.NewTask("test:nobody", nil), asynq.MaxRetry(0))
	require.NoError(t, err)
	waitFor(ctx, t, "failed tasks counted", func() bool {
		return metric(t, r.reg, "hangar_jobs_failed_total", "type", "test:fail") == 1 &&
			metric(t, r.reg, "hangar_jobs_failed_total", "type", "unknown") == 1
	})
	require.InDelta(t, 1, metric(t, r.reg, "hangar_jobs_processed_total", "type", "test:fail"), 0)

	// A task in flight when the context ends is finished before Run returns.
	_, err = deps.Enqueuer.Enqueue(ctx, asynq.NewTask("test:block", nil))
	require.NoError(t, err)
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("blocking task never started")
	}
	r.cancel()
	// Leadership is given up before the server drains.
	r.waitLeader(ctx, t, false)
	select {
	case err := <-r.done:
		t.Fatalf("Run returned while a task was in flight: %v", err)
	default:
	}
	close(release)
	r.stop(ctx, t)
	require.True(t, finished.Load())
	require.InDelta(t, 1, metric(t, r.reg, "hangar_jobs_processed_total", "type", "test:block"), 0)
	require.InDelta(t, 0, metric(t, r.reg, "hangar_jobs_failed_total", "type", "test:block"), 0)
	info, err := insp.GetQueueInfo(jobs.QueueName(prefix, jobs.QueueDefault))
	require.NoError(t, err)
	require.Zero(t, info.Pending+info.Active, "%+v", info)
}

func TestRunConfigErrors(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 10*time.Second)
	etcd := testEtcd(t, randomName(t, "test-"))
	redis := asynq.RedisClientOpt{Addr: testRedisAddr, Password: halfstack.RedisPassword()}

	require.ErrorContains(t, worker.Run(ctx, worker.Config{Etcd: etcd}), "Redis")
	require.ErrorContains(t, worker.Run(ctx, worker.Config{RedisOpt: redis}), "etcd")
	err := worker.Run(ctx, worker.Config{RedisOpt: redis, Etcd: etcd, Periodic: []jobs.Periodic{{Name: "x"}}})
	require.ErrorContains(t, err, "periodic job x")
	err = worker.Run(ctx, worker.Config{RedisOpt: redis, Etcd: etcd, Logger: testLogger(),
		Handlers: func(*asynq.ServeMux, *worker.Deps) error { return errors.New("boom") }})
	require.ErrorContains(t, err, "boom")
	err = worker.Run(ctx, worker.Config{RedisOpt: asynq.RedisClientOpt{Addr: "127.0.0.1:1"}, Etcd: etcd, Logger: testLogger()})
	require.ErrorContains(t, err, "redis")
}
