package session_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/scheduler"
	"github.com/hangar-run/hangar/jobs"
	"github.com/hangar-run/hangar/jobs/session"
)

const gib = int64(1) << 30

// pendingTask returns the queued task of type typ with TaskID id, failing when absent.
func (e *testEnv) requireQueued(t *testing.T, typ, id string) {
	t.Helper()
	insp := asynq.NewInspector(e.redisOpt)
	defer insp.Close()
	info, err := insp.GetTaskInfo(jobs.QueueName(e.prefix, jobs.DefaultsOf(typ).Queue), id)
	require.NoError(t, err, "task %s", id)
	require.Equal(t, typ, info.Type)
}

func TestSchedulePlacesPendingSession(t *testing.T) {
	e := newEnv(t, session.Options{})
	evs := e.subscribe(t)
	e.insertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	sid, kid := e.insertPendingSession(t, "s1", "1", "1073741824")

	e.schedule(t)

	s := e.session(t, sid)
	require.Equal(t, "SCHEDULED", s.status)
	require.Contains(t, s.history, "PENDING")
	require.Contains(t, s.history, "SCHEDULED")
	k := e.kernel(t, kid)
	require.Equal(t, "SCHEDULED", k.status)
	require.Equal(t, "i-a1", k.agent)
	require.True(t, k.reserved)
	require.Equal(t, map[string]string{"cpu": "1", "mem": "1073741824"}, k.occupied)
	require.Equal(t, map[string]string{"cpu": "1", "mem": "1073741824"}, e.occupied(t, "i-a1"))
	e.requireConsistent(t)
	var placedAt time.Time
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT status_changed FROM sessions WHERE id = $1`, sid).Scan(&placedAt))
	e.requireQueued(t, jobs.TypeSessionStartBatch, jobs.SessionStartBatchTaskID("default", placedAt))
	waitEvent(t, evs, events.SessionScheduled, sid)

	// A second pass has nothing to do and changes nothing.
	e.schedule(t)
	require.Equal(t, map[string]string{"cpu": "1", "mem": "1073741824"}, e.occupied(t, "i-a1"))
}

func TestScheduleOverCapacityStaysPending(t *testing.T) {
	e := newEnv(t, session.Options{})
	e.insertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	sid, kid := e.insertPendingSession(t, "big", "8", "1073741824")

	e.schedule(t)

	s := e.session(t, sid)
	require.Equal(t, "PENDING", s.status)
	require.Equal(t, scheduler.StatusNoAvailableInstances, s.info)
	require.False(t, e.kernel(t, kid).reserved)
	require.Equal(t, map[string]string{"cpu": "0", "mem": "0"}, e.occupied(t, "i-a1"))
}

func TestScheduleOwnerLimits(t *testing.T) {
	e := newEnv(t, session.Options{})
	e.insertAgent(t, "i-a1", "tcp://127.0.0.1:1", 8, 32*gib)
	ctx := t.Context()

	// The project allows 2 CPUs in all: the first session fits, the second waits for it.
	_, err := e.pool.Exec(ctx, `UPDATE groups SET total_resource_slots = '{"cpu": "2"}' WHERE id = $1`, projectID)
	require.NoError(t, err)
	first, _ := e.insertPendingSession(t, "p1", "2", "1073741824")
	second, _ := e.insertPendingSession(t, "p2", "1", "1073741824")
	e.schedule(t)
	require.Equal(t, "SCHEDULED", e.session(t, first).status)
	s := e.session(t, second)
	require.Equal(t, "PENDING", s.status)
	require.Equal(t, scheduler.StatusPredicateChecksFailed, s.info)
	require.Contains(t, e.statusData(t, second), "user_group_resource_limit")

	// A domain limit holds the same way once the project allows more.
	_, err = e.pool.Exec(ctx, `UPDATE groups SET total_resource_slots = '{}' WHERE id = $1`, projectID)
	require.NoError(t, err)
	_, err = e.pool.Exec(ctx, `UPDATE domains SET total_resource_slots = '{"cpu": "2.5"}' WHERE name = 'default'`)
	require.NoError(t, err)
	e.schedule(t)
	require.Equal(t, "PENDING", e.session(t, second).status)
	require.Contains(t, e.statusData(t, second), "domain_resource_limit")

	// A user without a main access key cannot start sessions (Backend.AI's rule).
	_, err = e.pool.Exec(ctx, `UPDATE domains SET total_resource_slots = '{}' WHERE name = 'default'`)
	require.NoError(t, err)
	_, err = e.pool.Exec(ctx, `UPDATE users SET main_access_key = NULL WHERE uuid = $1`, userUUID)
	require.NoError(t, err)
	e.schedule(t)
	require.Equal(t, "PENDING", e.session(t, second).status)
	require.Contains(t, e.statusData(t, second), "user_resource_limit")

	_, err = e.pool.Exec(ctx, `UPDATE users SET main_access_key = $2 WHERE uuid = $1`, userUUID, userAccessKey)
	require.NoError(t, err)
	e.schedule(t)
	require.Equal(t, "SCHEDULED", e.session(t, second).status)
	e.requireConsistent(t)
}

func TestRoundRobinResumesAcrossPasses(t *testing.T) {
	e := newEnv(t, session.Options{})
	_, err := e.pool.Exec(t.Context(), `UPDATE scaling_groups SET scheduler_opts = '{"roundrobin": true}' WHERE name = 'default'`)
	require.NoError(t, err)
	for _, id := range []string{"i-a1", "i-a2", "i-a3"} {
		e.insertAgent(t, id, "tcp://127.0.0.1:1", 8, 32*gib)
	}
	// One session per pass: each pass resumes where the previous one stopped, so the
	// sessions go to every agent in turn (one pass alone would always start at the first).
	var got []string
	for i := range 4 {
		_, kid := e.insertPendingSession(t, fmt.Sprintf("rr%d", i), "1", "1073741824")
		e.schedule(t)
		got = append(got, e.kernel(t, kid).agent)
	}
	require.Equal(t, []string{"i-a1", "i-a2", "i-a3", "i-a1"}, got)
	e.requireConsistent(t)
}

// statusData returns a session's status_data as text.
func (e *testEnv) statusData(t *testing.T, sid string) string {
	t.Helper()
	var data string
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT COALESCE(status_data::text, '') FROM sessions WHERE id = $1`, sid).Scan(&data))
	return data
}

func TestConcurrentPassesNeverOvercommit(t *testing.T) {
	e := newEnv(t, session.Options{})
	e.insertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	e.insertAgent(t, "i-a2", "tcp://127.0.0.1:2", 4, 8*gib)
	const n = 20
	ids := make([]string, n)
	for i := range n {
		ids[i], _ = e.insertPendingSession(t, fmt.Sprintf("s%02d", i), "1", "1073741824")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			errs <- e.h.HandleScheduleScalingGroup(context.Background(), task(jobs.NewScheduleScalingGroupTask("default", e.clock())))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	scheduled := 0
	for _, id := range ids {
		switch st := e.session(t, id).status; st {
		case "SCHEDULED":
			scheduled++
		case "PENDING":
		default:
			t.Fatalf("session %s: unexpected status %s", id, st)
		}
	}
	require.Equal(t, 8, scheduled)
	require.Equal(t, "4", e.occupied(t, "i-a1")["cpu"])
	require.Equal(t, "4", e.occupied(t, "i-a2")["cpu"])
	e.requireConsistent(t)
}

func TestStartAndTerminateOnDummyAgent(t *testing.T) {
	e := newEnv(t, session.Options{RPCTimeout: 5 * time.Second})
	evs := e.subscribe(t)
	a, rt := runAgent(t, "i-dummy")
	e.insertAgent(t, "i-dummy", a.ListenAddr(), 4, 8*gib)
	sid, kid := e.insertPendingSession(t, "s1", "2", "1073741824")
	e.schedule(t)

	e.start(t, sid)
	s := e.session(t, sid)
	require.Equal(t, "RUNNING", s.status)
	require.Contains(t, s.history, "PREPARING")
	require.Contains(t, s.history, "RUNNING")
	k := e.kernel(t, kid)
	require.Equal(t, "RUNNING", k.status)
	require.NotEmpty(t, k.containerID)
	ks, err := rt.ListKernels(t.Context())
	require.NoError(t, err)
	require.Len(t, ks, 1)
	require.Equal(t, kid, ks[0].KernelID)
	waitEvent(t, evs, events.KernelStarted, sid)
	waitEvent(t, evs, events.SessionStarted, sid)

	// A redelivered start changes nothing.
	e.start(t, sid)
	require.Equal(t, "RUNNING", e.session(t, sid).status)

	require.NoError(t, e.h.HandleSessionTerminate(t.Context(), task(jobs.NewSessionTerminateTask(jobs.SessionTerminatePayload{SessionID: sid, Reason: "user-requested"}))))
	s = e.session(t, sid)
	require.Equal(t, "TERMINATED", s.status)
	require.Contains(t, s.history, "TERMINATING")
	require.Contains(t, s.history, "TERMINATED")
	k = e.kernel(t, kid)
	require.Equal(t, "TERMINATED", k.status)
	require.False(t, k.reserved)
	require.Equal(t, map[string]string{"cpu": "0", "mem": "0"}, e.occupied(t, "i-dummy"))
	ks, err = rt.ListKernels(t.Context())
	require.NoError(t, err)
	require.Empty(t, ks)
	var terminatedAt *time.Time
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT terminated_at FROM sessions WHERE id = $1`, sid).Scan(&terminatedAt))
	require.NotNil(t, terminatedAt)
	waitEvent(t, evs, events.KernelTerminated, sid)
	waitEvent(t, evs, events.SessionTerminated, sid)

	// A redelivered termination changes nothing.
	require.NoError(t, e.h.HandleSessionTerminate(t.Context(), task(jobs.NewSessionTerminateTask(jobs.SessionTerminatePayload{SessionID: sid}))))
	require.Equal(t, map[string]string{"cpu": "0", "mem": "0"}, e.occupied(t, "i-dummy"))
}

func TestStartOnUnreachableAgentReleasesSlots(t *testing.T) {
	e := newEnv(t, session.Options{RPCTimeout: 300 * time.Millisecond})
	// Nothing listens on port 1.
	e.insertAgent(t, "i-gone", "tcp://127.0.0.1:1", 4, 8*gib)
	sid, kid := e.insertPendingSession(t, "s1", "1", "1073741824")
	other, _ := e.insertPendingSession(t, "s2", "1", "1073741824")
	e.schedule(t)
	require.Equal(t, "2", e.occupied(t, "i-gone")["cpu"])

	e.start(t, sid)
	s := e.session(t, sid)
	require.Equal(t, "ERROR", s.status)
	require.Equal(t, "failed-to-start", s.info)
	k := e.kernel(t, kid)
	require.Equal(t, "ERROR", k.status)
	require.False(t, k.reserved)
	require.Equal(t, "1", e.occupied(t, "i-gone")["cpu"], "only the failed session's slots are released")
	e.requireConsistent(t)
	require.Equal(t, "SCHEDULED", e.session(t, other).status)

	// Terminating the failed session later releases nothing more.
	require.NoError(t, e.h.HandleSessionTerminate(t.Context(), task(jobs.NewSessionTerminateTask(jobs.SessionTerminatePayload{SessionID: sid, Forced: true}))))
	require.Equal(t, "1", e.occupied(t, "i-gone")["cpu"])
}

func TestDuplicateTerminatedEventReleasesOnce(t *testing.T) {
	e := newEnv(t, session.Options{})
	evs := e.subscribe(t)
	e.insertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	sid, kid := e.insertPendingSession(t, "batch", "1", "1073741824")
	other, _ := e.insertPendingSession(t, "other", "1", "1073741824")
	e.schedule(t)
	require.Equal(t, "2", e.occupied(t, "i-a1")["cpu"])

	zero := 0
	ev := task(jobs.NewKernelEventTask(jobs.KernelEventPayload{
		AgentID: "i-a1", KernelID: kid, SessionID: sid, Event: jobs.KernelEventTerminated,
		ExitCode: &zero, Reason: "task-done", Time: e.clock(),
	}))
	require.NoError(t, e.h.HandleKernelEvent(t.Context(), ev))
	require.NoError(t, e.h.HandleKernelEvent(t.Context(), ev))

	s := e.session(t, sid)
	require.Equal(t, "TERMINATED", s.status)
	require.Equal(t, "SUCCESS", s.result)
	require.Equal(t, "TERMINATED", e.kernel(t, kid).status)
	require.Equal(t, "1", e.occupied(t, "i-a1")["cpu"])
	require.Equal(t, "SCHEDULED", e.session(t, other).status)
	e.requireConsistent(t)
	waitEvent(t, evs, events.SessionSuccess, sid)
	waitEvent(t, evs, events.SessionTerminated, sid)
}

func TestTerminatePendingSessionCancels(t *testing.T) {
	e := newEnv(t, session.Options{})
	sid, kid := e.insertPendingSession(t, "s1", "1", "1073741824")
	require.NoError(t, e.h.HandleSessionTerminate(t.Context(), task(jobs.NewSessionTerminateTask(jobs.SessionTerminatePayload{SessionID: sid, Reason: "user-requested"}))))
	require.Equal(t, "CANCELLED", e.session(t, sid).status)
	require.Equal(t, "CANCELLED", e.kernel(t, kid).status)
}

func TestScheduleTickEnqueuesWakeups(t *testing.T) {
	e := newEnv(t, session.Options{StaleAfter: 5 * time.Second})
	e.insertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	sid, _ := e.insertPendingSession(t, "s1", "1", "1073741824")
	e.schedule(t)
	pending, _ := e.insertPendingSession(t, "s2", "1", "1073741824")
	require.Equal(t, "PENDING", e.session(t, pending).status)

	// Drop the start task the pass enqueued: its wake-up is lost.
	insp := asynq.NewInspector(e.redisOpt)
	defer insp.Close()
	var placedAt time.Time
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT status_changed FROM sessions WHERE id = $1`, sid).Scan(&placedAt))
	q := jobs.QueueName(e.prefix, jobs.DefaultsOf(jobs.TypeSessionStartBatch).Queue)
	require.NoError(t, insp.DeleteTask(q, jobs.SessionStartBatchTaskID("default", placedAt)))
	// The session was scheduled at the injected time; the tick runs well after it.
	_, err := e.pool.Exec(t.Context(), `UPDATE sessions SET status_changed = $2 WHERE id = $1`, sid, e.clock())
	require.NoError(t, err)
	e.advance(time.Minute)

	tick := task(jobs.NewScheduleTickTask(jobs.ScheduleTickPayload{Slot: e.clock()}))
	require.NoError(t, e.h.HandleScheduleTick(t.Context(), tick))
	e.requireQueued(t, jobs.TypeSessionStart, jobs.TypeSessionStart+":"+sid)
	bucket := e.clock().UnixNano() / int64(jobs.ScheduleWakeupBucket)
	e.requireQueued(t, jobs.TypeScheduleScalingGroup, fmt.Sprintf("%s:default:%d", jobs.TypeScheduleScalingGroup, bucket))
}
