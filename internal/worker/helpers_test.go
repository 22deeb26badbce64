package worker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/halfstack"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
)

const (
	testRedisAddr = "127.0.0.1:8110"
	testEtcdAddr  = "127.0.0.1:8120"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// randomName returns prefix followed by random hex.
func randomName(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return prefix + hex.EncodeToString(b)
}

// testEtcd connects to the halfstack etcd in namespace ns; the namespace is emptied and the
// client closed when the test ends.
func testEtcd(t *testing.T, ns string) *config.Etcd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e, err := config.DialEtcd(ctx, testEtcdAddr, ns, halfstack.EtcdUser(), halfstack.EtcdPassword())
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, e.DeletePrefix(ctx, ""))
		require.NoError(t, e.Close())
	})
	return e
}

// testQueues returns a queue prefix no other test uses and an Inspector; the prefixed
// queues are deleted when the test ends.
func testQueues(t *testing.T) (string, *asynq.Inspector) {
	t.Helper()
	prefix := randomName(t, "test-") + "-"
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: testRedisAddr, Password: halfstack.RedisPassword()})
	t.Cleanup(func() {
		require.NoError(t, insp.Close())
		deleteQueues(t, prefix)
	})
	return prefix, insp
}

// deleteQueues removes every Redis key of the queues under prefix, statistics and
// completed tasks included (asynq's Inspector.DeleteQueue leaves those behind).
func deleteQueues(t *testing.T, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: testRedisAddr, Password: halfstack.RedisPassword()})
	defer rdb.Close()
	for q := range jobs.Queues(prefix) {
		var keys []string
		iter := rdb.Scan(ctx, 0, "asynq:{"+q+"}:*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		require.NoError(t, iter.Err())
		if len(keys) > 0 {
			require.NoError(t, rdb.Del(ctx, keys...).Err())
		}
		require.NoError(t, rdb.SRem(ctx, "asynq:queues", q).Err())
	}
}

// testLogger logs to stderr at debug level when HANGAR_TEST_LOG is set, else discards.
func testLogger() *slog.Logger {
	if os.Getenv("HANGAR_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// runner is one worker run by a test.
type runner struct {
	name     string
	reg      *prometheus.Registry
	tick     chan time.Time
	leader   chan bool
	cancel   context.CancelFunc
	done     chan error
	finished bool
}

// start runs a worker with cfg (RedisOpt, Registry, Tick, OnLeadership, ID and Logger are
// filled in) until stop or the end of the test.
func start(t *testing.T, name string, cfg worker.Config) *runner {
	t.Helper()
	r := &runner{
		name:   name,
		reg:    prometheus.NewRegistry(),
		tick:   make(chan time.Time),
		leader: make(chan bool, 16),
		done:   make(chan error, 1),
	}
	cfg.RedisOpt = asynq.RedisClientOpt{Addr: testRedisAddr, Password: halfstack.RedisPassword()}
	cfg.ID = name
	cfg.Registry = r.reg
	cfg.Tick = r.tick
	cfg.Logger = testLogger().With("test", t.Name())
	cfg.OnLeadership = func(v bool) { r.leader <- v }
	if cfg.Periodic == nil {
		// These tests count leader heartbeats; the other built-in jobs would only add tasks.
		cfg.Periodic = jobs.BuiltinPeriodic(jobs.PeriodicOpts{LeaderID: name, LeaderHeartbeatEvery: cfg.HeartbeatEvery})[:1]
	}
	if cfg.TaskCheckInterval == 0 {
		cfg.TaskCheckInterval = 20 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- worker.Run(ctx, cfg) }()
	t.Cleanup(func() {
		if !r.finished {
			r.cancel()
			<-r.done
		}
	})
	return r
}

// stop cancels the worker's context and requires Run to return nil before ctx ends.
func (r *runner) stop(ctx context.Context, t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.finished = true
		require.NoError(t, err, r.name)
	case <-ctx.Done():
		t.Fatalf("%s: Run did not return after cancel", r.name)
	}
}

// sendTick hands now to the worker's loop, failing when it does not take it before ctx ends.
func (r *runner) sendTick(ctx context.Context, t *testing.T, now time.Time) {
	t.Helper()
	select {
	case r.tick <- now:
	case err := <-r.done:
		r.finished = true
		t.Fatalf("%s: Run returned early: %v", r.name, err)
	case <-ctx.Done():
		t.Fatalf("%s: tick not taken before the deadline", r.name)
	}
}

// waitLeader waits until the worker reports leadership v.
func (r *runner) waitLeader(ctx context.Context, t *testing.T, v bool) {
	t.Helper()
	for {
		select {
		case got := <-r.leader:
			if got == v {
				return
			}
		case err := <-r.done:
			r.finished = true
			t.Fatalf("%s: Run returned early: %v", r.name, err)
		case <-ctx.Done():
			t.Fatalf("%s: leadership did not become %v before the deadline", r.name, v)
		}
	}
}

// metric returns the value of the counter or gauge name with the given label values
// (name=value pairs) gathered from reg, or 0 when it has none.
func metric(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	require.Zero(t, len(labels)%2)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// waitFor polls cond until it holds, failing with what when ctx ends first.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// testCtx returns a context that ends with the test or after d.
func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
