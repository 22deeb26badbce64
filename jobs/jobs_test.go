package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/halfstack"
)

const testRedisAddr = "127.0.0.1:8110"

// testQueues returns a queue prefix no other test uses and an Inspector; the prefixed
// queues are deleted when the test ends.
func testQueues(t *testing.T) (string, *asynq.Client, *asynq.Inspector) {
	t.Helper()
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	prefix := "test-" + hex.EncodeToString(b) + "-"
	opt := asynq.RedisClientOpt{Addr: testRedisAddr, Password: halfstack.RedisPassword()}
	client := asynq.NewClient(opt)
	require.NoError(t, client.Ping(), "Redis on %s (is the halfstack up?)", testRedisAddr)
	insp := asynq.NewInspector(opt)
	t.Cleanup(func() {
		require.NoError(t, insp.Close())
		require.NoError(t, client.Close())
		deleteQueues(t, prefix)
	})
	return prefix, client, insp
}

// deleteQueues removes every Redis key of the queues under prefix, statistics and
// completed tasks included (asynq's Inspector.DeleteQueue leaves those behind).
func deleteQueues(t *testing.T, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: testRedisAddr, Password: halfstack.RedisPassword()})
	defer rdb.Close()
	for q := range Queues(prefix) {
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

func TestQueues(t *testing.T) {
	t.Parallel()
	require.Equal(t, map[string]int{"critical": 3, "default": 2, "low": 1}, Queues(""))
	require.Equal(t, map[string]int{"t1-critical": 3, "t1-default": 2, "t1-low": 1}, Queues("t1-"))
	require.True(t, StrictPriority)
}

// TestQueuePriorities: what a user waits for goes to the critical queue, which workers serve
// first; heartbeats and passes wait behind it.
func TestQueuePriorities(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{TypeSessionStart, TypeSessionTerminate, TypeKernelEvent} {
		require.Equal(t, QueueCritical, DefaultsOf(typ).Queue, typ)
		require.Equal(t, SessionMaxRetry, DefaultsOf(typ).MaxRetry, typ)
	}
	for _, typ := range []string{TypeAgentHeartbeat, TypeScheduleScalingGroup, TypeScheduleTick, TypeAgentLostCheck, TypeSessionHangCheck} {
		require.Equal(t, QueueDefault, DefaultsOf(typ).Queue, typ)
	}
	// Wake-ups and sweeps are retried over a short outage rather than dropped.
	for _, typ := range []string{TypeScheduleScalingGroup, TypeScheduleTick, TypeAgentLostCheck, TypeSessionHangCheck, TypeUsageRecalculate, TypeIdleCheck} {
		require.Equal(t, PeriodicMaxRetry, DefaultsOf(typ).MaxRetry, typ)
	}
}

// TestRetryDelay: short, doubling, capped and jittered by at most half.
func TestRetryDelay(t *testing.T) {
	t.Parallel()
	require.Equal(t, RetryBaseDelay, RetryDelay(1, 0))
	require.Greater(t, RetryDelay(1, 0.9999), RetryBaseDelay/2)
	require.Less(t, RetryDelay(1, 0.9999), RetryBaseDelay)
	require.Equal(t, 2*RetryBaseDelay, RetryDelay(2, 0))
	require.Equal(t, 4*RetryBaseDelay, RetryDelay(3, 0))
	require.Equal(t, RetryMaxDelay, RetryDelay(10, 0))
	require.Equal(t, RetryMaxDelay, RetryDelay(1000, 0))
	require.Equal(t, 3*RetryMaxDelay/4, RetryDelay(1000, 0.5))
	require.Equal(t, RetryBaseDelay, RetryDelay(0, 0))
	var total time.Duration
	for n := 1; n <= SessionMaxRetry; n++ {
		d := RetryDelay(n, 0.5)
		require.Positive(t, d)
		require.LessOrEqual(t, d, RetryMaxDelay)
		total += d
	}
	// The session path rides out about a minute of outage before a task is archived.
	require.Greater(t, total, 30*time.Second)
}

func TestDecode(t *testing.T) {
	t.Parallel()

	task, err := NewLeaderHeartbeatTask(LeaderHeartbeatPayload{LeaderID: "w1", Slot: time.Unix(1700000010, 0).UTC()})
	require.NoError(t, err)
	require.Equal(t, TypeLeaderHeartbeat, task.Type())
	var p LeaderHeartbeatPayload
	require.NoError(t, Decode(task, &p))
	require.Equal(t, "w1", p.LeaderID)
	require.True(t, p.Slot.Equal(time.Unix(1700000010, 0)))

	err = Decode(asynq.NewTask(TypeLeaderHeartbeat, []byte("{not json")), &p)
	require.ErrorIs(t, err, asynq.SkipRetry)
	require.ErrorContains(t, err, TypeLeaderHeartbeat)

	err = Invalid(task, "no slot")
	require.ErrorIs(t, err, asynq.SkipRetry)
}

func TestEnqueuer(t *testing.T) {
	t.Parallel()

	t.Run("DefaultsAndPrefix", func(t *testing.T) {
		t.Parallel()
		prefix, client, insp := testQueues(t)
		e := NewEnqueuer(client, prefix)
		require.Equal(t, prefix, e.Prefix())

		task, err := NewLeaderHeartbeatTask(LeaderHeartbeatPayload{LeaderID: "w1", Slot: time.Unix(10, 0)})
		require.NoError(t, err)
		info, err := e.Enqueue(t.Context(), task)
		require.NoError(t, err)
		d := DefaultsOf(TypeLeaderHeartbeat)
		require.Equal(t, prefix+d.Queue, info.Queue)
		require.Equal(t, d.MaxRetry, info.MaxRetry)
		require.Equal(t, d.Timeout, info.Timeout)

		pending, err := insp.ListPendingTasks(prefix + QueueDefault)
		require.NoError(t, err)
		require.Len(t, pending, 1)
		require.Equal(t, info.ID, pending[0].ID)
	})

	t.Run("QueueOverrideAndDuplicate", func(t *testing.T) {
		t.Parallel()
		prefix, client, _ := testQueues(t)
		e := NewEnqueuer(client, prefix)

		task, err := NewLeaderHeartbeatTask(LeaderHeartbeatPayload{LeaderID: "w1", Slot: time.Unix(10, 0)}, asynq.MaxRetry(3))
		require.NoError(t, err)
		info, err := e.Enqueue(t.Context(), task, asynq.Queue(QueueCritical), asynq.TaskID("hb:10"))
		require.NoError(t, err)
		require.Equal(t, prefix+QueueCritical, info.Queue)
		require.Equal(t, 3, info.MaxRetry)
		require.Equal(t, "hb:10", info.ID)

		_, err = e.Enqueue(t.Context(), task, asynq.Queue(QueueCritical), asynq.TaskID("hb:10"))
		require.Error(t, err)
		require.True(t, IsDuplicate(err), "%v", err)
		require.False(t, IsDuplicate(errors.New("other")))
	})
}

func TestPeriodic(t *testing.T) {
	t.Parallel()

	p := Periodic{Name: "x:y", Every: 10 * time.Second, Task: func(time.Time) (*asynq.Task, error) { return nil, nil }}
	require.NoError(t, p.Validate())

	for _, tc := range []struct {
		now, slot int64
	}{
		{1700000010, 1700000010},
		{1700000019, 1700000010},
		{1700000020, 1700000020},
		{-1, -10},
		{0, 0},
	} {
		got := p.Slot(time.Unix(tc.now, 999_000_000))
		require.Equal(t, tc.slot, got.Unix(), "slot of %d", tc.now)
		require.Equal(t, 0, got.Nanosecond())
	}
	require.Equal(t, "x:y:1700000010", p.TaskID(time.Unix(1700000010, 0)))
	require.Equal(t, time.Minute, p.Retention())
	require.Equal(t, 4*time.Minute, Periodic{Every: 2 * time.Minute}.Retention())

	bad := []Periodic{
		{Every: time.Second, Task: p.Task},
		{Name: "a", Every: 1500 * time.Millisecond, Task: p.Task},
		{Name: "a", Every: 0, Task: p.Task},
		{Name: "a", Every: time.Second},
	}
	for _, b := range bad {
		require.Error(t, b.Validate(), "%+v", b)
	}
	require.NoError(t, ValidatePeriodic([]Periodic{p}))
	require.ErrorContains(t, ValidatePeriodic([]Periodic{p, p}), "defined twice")

	built := BuiltinPeriodic(PeriodicOpts{LeaderID: "w1"})
	require.NoError(t, ValidatePeriodic(built))
	require.Equal(t, TypeLeaderHeartbeat, built[0].Name)
	require.Equal(t, TypeScheduleTick, built[1].Name)
	byName := map[string]Periodic{}
	for _, p := range built {
		byName[p.Name] = p
	}
	for name, every := range map[string]time.Duration{
		TypeAgentLostCheck: DefaultAgentLostCheckEvery, TypeSessionHangCheck: DefaultHangCheckEvery,
		TypeUsageRecalculate: DefaultUsageRecalculateEvery,
	} {
		require.Equal(t, every, byName[name].Every, name)
		require.NotEmpty(t, byName[name].IntervalKey, name)
		st, err := byName[name].Task(time.Unix(1700000010, 0))
		require.NoError(t, err)
		require.Equal(t, name, st.Type())
	}
	require.Equal(t, DefaultScheduleTickEvery, built[1].Every)
	require.Equal(t, ScheduleTickIntervalKey, built[1].IntervalKey)
	tick, err := built[1].Task(time.Unix(1700000010, 0))
	require.NoError(t, err)
	require.Equal(t, TypeScheduleTick, tick.Type())
	require.Equal(t, DefaultLeaderHeartbeatEvery, built[0].Every)
	slot := time.Unix(1700000010, 0)
	task, err := built[0].Task(slot)
	require.NoError(t, err)
	require.Equal(t, TypeLeaderHeartbeat, task.Type())
	var hb LeaderHeartbeatPayload
	require.NoError(t, Decode(task, &hb))
	require.Equal(t, LeaderHeartbeatPayload{LeaderID: "w1", Slot: slot.UTC()}, hb)

	require.Equal(t, 3*time.Second, BuiltinPeriodic(PeriodicOpts{LeaderHeartbeatEvery: 3 * time.Second})[0].Every)
}

func TestPeriodicWithInterval(t *testing.T) {
	t.Parallel()
	p := BuiltinPeriodic(PeriodicOpts{LeaderID: "w1"})[0]
	require.Equal(t, LeaderHeartbeatIntervalKey, p.IntervalKey)
	lookup := func(v time.Duration) func(string, time.Duration) time.Duration {
		return func(key string, def time.Duration) time.Duration {
			require.Equal(t, LeaderHeartbeatIntervalKey, key)
			if v == 0 {
				return def
			}
			return v
		}
	}
	require.Equal(t, 30*time.Second, p.WithInterval(lookup(30*time.Second)).Every)
	require.Equal(t, DefaultLeaderHeartbeatEvery, p.WithInterval(lookup(0)).Every)
	// Periods that are not whole seconds are ignored, keeping the default.
	require.Equal(t, DefaultLeaderHeartbeatEvery, p.WithInterval(lookup(1500*time.Millisecond)).Every)
	require.Equal(t, DefaultLeaderHeartbeatEvery, p.WithInterval(nil).Every)
	slot := p.WithInterval(lookup(time.Minute)).Slot(time.Unix(1700000075, 0))
	require.Equal(t, int64(1700000040), slot.Unix())
}
