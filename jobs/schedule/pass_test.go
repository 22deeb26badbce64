package schedule_test

import (
	"context"
	"fmt"
	"github.com/hangar-run/hangar/jobs/jobstest"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/scheduler"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
	"github.com/hangar-run/hangar/jobs/schedule"
)

// pendingTask returns the queued task of type typ with TaskID id, failing when absent.
func (e *testEnv) requireQueued(t *testing.T, typ, id string) {
	t.Helper()
	insp := asynq.NewInspector(e.RedisOpt)
	defer insp.Close()
	info, err := insp.GetTaskInfo(jobs.QueueName(e.Prefix, jobs.DefaultsOf(typ).Queue), id)
	require.NoError(t, err, "task %s", id)
	require.Equal(t, typ, info.Type)
}

func TestSchedulePlacesPendingSession(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	evs := e.Subscribe(t)
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	sid, kid := e.InsertPendingSession(t, "s1", "1", "1073741824")

	e.Schedule(t)

	s := e.Session(t, sid)
	require.Equal(t, "SCHEDULED", s.Status)
	require.Contains(t, s.History, "PENDING")
	require.Contains(t, s.History, "SCHEDULED")
	k := e.Kernel(t, kid)
	require.Equal(t, "SCHEDULED", k.Status)
	require.Equal(t, "i-a1", k.Agent)
	require.True(t, k.Reserved)
	require.Equal(t, map[string]string{"cpu": "1", "mem": "1073741824"}, k.Occupied)
	require.Equal(t, map[string]string{"cpu": "1", "mem": "1073741824"}, e.Occupied(t, "i-a1"))
	e.RequireConsistent(t)
	var placedAt time.Time
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT status_changed FROM sessions WHERE id = $1`, sid).Scan(&placedAt))
	e.requireQueued(t, jobs.TypeSessionStartBatch, jobs.SessionStartBatchTaskID("default", placedAt))
	waitEvent(t, evs, events.SessionScheduled, sid)

	// A second pass has nothing to do and changes nothing.
	e.Schedule(t)
	require.Equal(t, map[string]string{"cpu": "1", "mem": "1073741824"}, e.Occupied(t, "i-a1"))
}

func TestScheduleOverCapacityStaysPending(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	sid, kid := e.InsertPendingSession(t, "big", "8", "1073741824")

	e.Schedule(t)

	s := e.Session(t, sid)
	require.Equal(t, "PENDING", s.Status)
	require.Equal(t, scheduler.StatusNoAvailableInstances, s.Info)
	require.False(t, e.Kernel(t, kid).Reserved)
	require.Equal(t, map[string]string{"cpu": "0", "mem": "0"}, e.Occupied(t, "i-a1"))
}

func TestScheduleOwnerLimits(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 8, 32*gib)
	ctx := t.Context()

	// The project allows 2 CPUs in all: the first session fits, the second waits for it.
	_, err := e.Pool.Exec(ctx, `UPDATE groups SET total_resource_slots = '{"cpu": "2"}' WHERE id = $1`, projectID)
	require.NoError(t, err)
	first, _ := e.InsertPendingSession(t, "p1", "2", "1073741824")
	second, _ := e.InsertPendingSession(t, "p2", "1", "1073741824")
	e.Schedule(t)
	require.Equal(t, "SCHEDULED", e.Session(t, first).Status)
	s := e.Session(t, second)
	require.Equal(t, "PENDING", s.Status)
	require.Equal(t, scheduler.StatusPredicateChecksFailed, s.Info)
	require.Contains(t, e.statusData(t, second), "user_group_resource_limit")

	// A domain limit holds the same way once the project allows more.
	_, err = e.Pool.Exec(ctx, `UPDATE groups SET total_resource_slots = '{}' WHERE id = $1`, projectID)
	require.NoError(t, err)
	_, err = e.Pool.Exec(ctx, `UPDATE domains SET total_resource_slots = '{"cpu": "2.5"}' WHERE name = 'default'`)
	require.NoError(t, err)
	e.Schedule(t)
	require.Equal(t, "PENDING", e.Session(t, second).Status)
	require.Contains(t, e.statusData(t, second), "domain_resource_limit")

	// A user without a main access key cannot start sessions (Backend.AI's rule).
	_, err = e.Pool.Exec(ctx, `UPDATE domains SET total_resource_slots = '{}' WHERE name = 'default'`)
	require.NoError(t, err)
	_, err = e.Pool.Exec(ctx, `UPDATE users SET main_access_key = NULL WHERE uuid = $1`, userUUID)
	require.NoError(t, err)
	e.Schedule(t)
	require.Equal(t, "PENDING", e.Session(t, second).Status)
	require.Contains(t, e.statusData(t, second), "user_resource_limit")

	_, err = e.Pool.Exec(ctx, `UPDATE users SET main_access_key = $2 WHERE uuid = $1`, userUUID, userAccessKey)
	require.NoError(t, err)
	e.Schedule(t)
	require.Equal(t, "SCHEDULED", e.Session(t, second).Status)
	e.RequireConsistent(t)
}

func TestRoundRobinResumesAcrossPasses(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	_, err := e.Pool.Exec(t.Context(), `UPDATE scaling_groups SET scheduler_opts = '{"roundrobin": true}' WHERE name = 'default'`)
	require.NoError(t, err)
	for _, id := range []string{"i-a1", "i-a2", "i-a3"} {
		e.InsertAgent(t, id, "tcp://127.0.0.1:1", 8, 32*gib)
	}
	// One session per pass: each pass resumes where the previous one stopped, so the
	// sessions go to every agent in turn (one pass alone would always start at the first).
	var got []string
	for i := range 4 {
		_, kid := e.InsertPendingSession(t, fmt.Sprintf("rr%d", i), "1", "1073741824")
		e.Schedule(t)
		got = append(got, e.Kernel(t, kid).Agent)
	}
	require.Equal(t, []string{"i-a1", "i-a2", "i-a3", "i-a1"}, got)
	e.RequireConsistent(t)
}

// statusData returns a session's status_data as text.
func (e *testEnv) statusData(t *testing.T, sid string) string {
	t.Helper()
	var data string
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT COALESCE(status_data::text, '') FROM sessions WHERE id = $1`, sid).Scan(&data))
	return data
}

func TestConcurrentPassesNeverOvercommit(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	e.InsertAgent(t, "i-a2", "tcp://127.0.0.1:2", 4, 8*gib)
	const n = 20
	ids := make([]string, n)
	for i := range n {
		ids[i], _ = e.InsertPendingSession(t, fmt.Sprintf("s%02d", i), "1", "1073741824")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			errs <- e.H.HandleScheduleScalingGroup(context.Background(), task(jobs.NewScheduleScalingGroupTask("default", e.Clock())))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	scheduled := 0
	for _, id := range ids {
		switch st := e.Session(t, id).Status; st {
		case "SCHEDULED":
			scheduled++
		case "PENDING":
		default:
			t.Fatalf("session %s: unexpected status %s", id, st)
		}
	}
	require.Equal(t, 8, scheduled)
	require.Equal(t, "4", e.Occupied(t, "i-a1")["cpu"])
	require.Equal(t, "4", e.Occupied(t, "i-a2")["cpu"])
	e.RequireConsistent(t)
}

// A schedule pass reads its time (SCHEDULED in the history) while it holds the scaling
// group's lock, not before it takes it.
func TestScheduledTimeReadUnderTheLock(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	sid, _ := e.InsertPendingSession(t, "s1", "1", "1073741824")
	ctx := t.Context()
	// A clock that tells, for each time it gives, whether the lock was held then.
	var mu sync.Mutex
	held := map[time.Time]bool{}
	clock := func() time.Time {
		var n int
		require.NoError(t, e.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND granted
			  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n))
		e.Advance(time.Millisecond)
		now := e.Clock()
		mu.Lock()
		held[now] = n > 0
		mu.Unlock()
		return now
	}
	client := asynq.NewClient(e.RedisOpt)
	t.Cleanup(func() { _ = client.Close() })
	h, err := schedule.New(&worker.Deps{
		Pool: e.Pool, Redis: e.Rdb, Enqueuer: jobs.NewEnqueuer(client, e.Prefix), Logger: testLogger(), Now: clock,
	}, schedule.Options{})
	require.NoError(t, err)
	require.NoError(t, h.HandleScheduleScalingGroup(ctx, task(jobs.NewScheduleScalingGroupTask("default", e.Clock()))))

	s := e.Session(t, sid)
	require.Equal(t, "SCHEDULED", s.Status)
	at, err := time.Parse(time.RFC3339Nano, s.History["SCHEDULED"])
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	wasHeld, ok := held[at.UTC()]
	require.True(t, ok, "SCHEDULED %s is not a time the pass read", at)
	require.True(t, wasHeld, "the pass read its time before taking the lock")
}

// TestSchedulePassCatchesLateArrivals: a session committed while a pass runs (its wake-up
// found the pass's task taken) is placed by the same task, not left for the next tick.
func TestSchedulePassCatchesLateArrivals(t *testing.T) {
	var late func()
	e := newEnv(t, jobstest.Options{AfterSnapshot: func() {
		if f := late; f != nil {
			late = nil
			f()
		}
	}})
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	first, _ := e.InsertPendingSession(t, "first", "1", "1073741824")
	var second string
	late = func() { second, _ = e.InsertPendingSession(t, "second", "1", "1073741824") }
	e.Schedule(t)
	require.NotEmpty(t, second)
	require.Equal(t, "SCHEDULED", e.Session(t, first).Status)
	require.Equal(t, "SCHEDULED", e.Session(t, second).Status)
	e.RequireConsistent(t)
}
