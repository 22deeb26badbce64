package session_test

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/jobs"
	"github.com/hangar-run/hangar/jobs/session"
)

func sweep(typ string) *asynq.Task { return task(jobs.NewSweepTask(typ, time.Unix(1700000000, 0))) }

func TestAgentLostEndsItsKernelsOnly(t *testing.T) {
	e := newEnv(t, session.Options{RPCTimeout: 5 * time.Second})
	evs := e.subscribe(t)
	a1, _ := runAgent(t, "i-lost")
	a2, rt2 := runAgent(t, "i-alive")
	e.insertAgent(t, "i-lost", a1.ListenAddr(), 2, 8*gib)
	e.insertAgent(t, "i-alive", a2.ListenAddr(), 2, 8*gib)
	// Two sessions of 2 CPU: one lands on each agent.
	s1, k1 := e.insertPendingSession(t, "s1", "2", "1073741824")
	s2, k2 := e.insertPendingSession(t, "s2", "2", "1073741824")
	e.schedule(t)
	e.start(t, s1)
	e.start(t, s2)
	onLost := s1
	if e.kernel(t, k1).agent != "i-lost" {
		onLost, s2, k1, k2 = s2, s1, k2, k1
	}
	require.Equal(t, "RUNNING", e.session(t, onLost).status)

	_, err := e.pool.Exec(t.Context(), `UPDATE agents SET last_seen = $1`, e.clock())
	require.NoError(t, err)
	e.advance(session.DefaultHeartbeatTimeout - time.Second)
	require.NoError(t, e.h.HandleAgentLostCheck(t.Context(), sweep(jobs.TypeAgentLostCheck)))
	require.Equal(t, "RUNNING", e.session(t, onLost).status, "not lost before the timeout")

	// i-alive keeps heartbeating; i-lost falls silent past the timeout.
	_, err = e.pool.Exec(t.Context(), `UPDATE agents SET last_seen = $1 WHERE id = 'i-alive'`, e.clock())
	require.NoError(t, err)
	e.advance(2 * time.Second)
	require.NoError(t, e.h.HandleAgentLostCheck(t.Context(), sweep(jobs.TypeAgentLostCheck)))

	var status string
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT status::text FROM agents WHERE id = 'i-lost'`).Scan(&status))
	require.Equal(t, "LOST", status)
	s := e.session(t, onLost)
	require.Equal(t, "TERMINATED", s.status)
	require.Equal(t, session.ReasonAgentLost, s.info)
	k := e.kernel(t, k1)
	require.Equal(t, "TERMINATED", k.status)
	require.False(t, k.reserved)
	require.Equal(t, map[string]string{"cpu": "0", "mem": "0"}, e.occupied(t, "i-lost"))
	e.requireConsistent(t)
	ev := waitEvent(t, evs, events.KernelTerminated, onLost)
	require.Equal(t, session.ReasonAgentLost, ev.Reason)
	waitEvent(t, evs, events.SessionTerminated, onLost)

	// The other agent's session and kernel are untouched.
	require.Equal(t, "RUNNING", e.session(t, s2).status)
	require.Equal(t, "RUNNING", e.kernel(t, k2).status)
	ks, err := rt2.ListKernels(t.Context())
	require.NoError(t, err)
	require.Len(t, ks, 1)

	// Idempotent: a second run releases nothing more.
	require.NoError(t, e.h.HandleAgentLostCheck(t.Context(), sweep(jobs.TypeAgentLostCheck)))
	e.requireConsistent(t)
	require.Equal(t, "2", e.occupied(t, "i-alive")["cpu"])
}

func TestAgentSyncReconcilesBothWays(t *testing.T) {
	e := newEnv(t, session.Options{RPCTimeout: 5 * time.Second})
	// The agent's clock follows the test's, so kernel ages are under the test's control.
	var skew atomic.Int64
	agentNow := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	a, rt := runAgentClock(t, "i-sync", agentNow)
	e.insertAgent(t, "i-sync", a.ListenAddr(), 4, 8*gib)
	gone, goneK := e.insertPendingSession(t, "gone", "1", "1073741824")
	kept, keptK := e.insertPendingSession(t, "kept", "1", "1073741824")
	e.schedule(t)
	e.start(t, gone)
	e.start(t, kept)

	// The agent lost one kernel; it also runs one the manager never heard of.
	require.NoError(t, rt.DestroyKernel(t.Context(), goneK))
	_, err := rt.CreateKernel(t.Context(), &agentrpc.KernelConfig{KernelID: "stray", SessionID: "nobody"})
	require.NoError(t, err)

	sync := task(jobs.NewAgentSyncTask(jobs.AgentSyncPayload{AgentID: "i-sync", Reason: "test"}, e.clock()))
	// Too young on both sides: nothing happens yet.
	require.NoError(t, e.h.HandleAgentSync(t.Context(), sync))
	require.Equal(t, "RUNNING", e.session(t, gone).status)
	ks, err := rt.ListKernels(t.Context())
	require.NoError(t, err)
	require.Len(t, ks, 2)

	e.advance(session.SyncGrace + time.Second)
	skew.Store(int64(2 * time.Minute))
	require.NoError(t, e.h.HandleAgentSync(t.Context(), sync))
	s := e.session(t, gone)
	require.Equal(t, "TERMINATED", s.status)
	require.Equal(t, session.ReasonAlreadyTerminated, s.info)
	require.False(t, e.kernel(t, goneK).reserved)
	require.Equal(t, "RUNNING", e.session(t, kept).status)
	ks, err = rt.ListKernels(t.Context())
	require.NoError(t, err)
	require.Len(t, ks, 1, "the stray kernel is destroyed, the live one kept")
	require.Equal(t, keptK, ks[0].KernelID)
	require.Equal(t, "1", e.occupied(t, "i-sync")["cpu"])
	e.requireConsistent(t)

	// A LOST agent is not synced (the lost check owns its kernels).
	_, err = e.pool.Exec(t.Context(), `UPDATE agents SET status = 'LOST' WHERE id = 'i-sync'`)
	require.NoError(t, err)
	require.NoError(t, rt.DestroyKernel(t.Context(), keptK))
	e.advance(time.Minute)
	require.NoError(t, e.h.HandleAgentSync(t.Context(), sync))
	require.Equal(t, "RUNNING", e.session(t, kept).status)
}

func TestHangCheckForceEndsStuckSessions(t *testing.T) {
	e := newEnv(t, session.Options{RPCTimeout: 300 * time.Millisecond})
	e.insertAgent(t, "i-hang", "tcp://127.0.0.1:1", 8, 8*gib)
	prep, _ := e.insertPendingSession(t, "prep", "1", "1073741824")
	sched, _ := e.insertPendingSession(t, "sched", "1", "1073741824")
	term, _ := e.insertPendingSession(t, "term", "1", "1073741824")
	run, _ := e.insertPendingSession(t, "run", "1", "1073741824")
	e.schedule(t)
	at := e.clock()
	for sid, status := range map[string]string{prep: "PREPARING", term: "TERMINATING", run: "RUNNING"} {
		_, err := e.pool.Exec(t.Context(), `UPDATE sessions SET status = $2::text::session_status, status_changed = $3 WHERE id = $1`, sid, status, at)
		require.NoError(t, err)
	}
	_, err := e.pool.Exec(t.Context(), `UPDATE sessions SET status_changed = $2 WHERE id = $1`, sched, at)
	require.NoError(t, err)

	insp := asynq.NewInspector(e.redisOpt)
	defer insp.Close()
	queued := func() map[string]jobs.SessionTerminatePayload {
		out := map[string]jobs.SessionTerminatePayload{}
		tasks, err := insp.ListPendingTasks(jobs.QueueName(e.prefix, jobs.QueueCritical))
		if err != nil {
			return out
		}
		for _, ti := range tasks {
			if ti.Type != jobs.TypeSessionTerminate {
				continue
			}
			var p jobs.SessionTerminatePayload
			require.NoError(t, json.Unmarshal(ti.Payload, &p))
			out[p.SessionID] = p
		}
		return out
	}

	e.advance(29 * time.Minute)
	require.NoError(t, e.h.HandleSessionHangCheck(t.Context(), sweep(jobs.TypeSessionHangCheck)))
	require.Empty(t, queued())

	// Past 30 minutes: SCHEDULED and TERMINATING are hung; PREPARING (1 h) is not yet.
	e.advance(2 * time.Minute)
	require.NoError(t, e.h.HandleSessionHangCheck(t.Context(), sweep(jobs.TypeSessionHangCheck)))
	q := queued()
	require.Len(t, q, 2)
	require.Equal(t, jobs.SessionTerminatePayload{SessionID: sched, Reason: session.ReasonHangTimeout, Forced: true}, q[sched])
	require.Contains(t, q, term)
	// Enqueuing again while queued is no error and no duplicate.
	require.NoError(t, e.h.HandleSessionHangCheck(t.Context(), sweep(jobs.TypeSessionHangCheck)))
	require.Len(t, queued(), 2)

	e.advance(30 * time.Minute)
	require.NoError(t, e.h.HandleSessionHangCheck(t.Context(), sweep(jobs.TypeSessionHangCheck)))
	q = queued()
	require.Len(t, q, 3)
	require.NotContains(t, q, run)

	// Running the queued terminations ends the sessions with the reason, even with the agent
	// unreachable, and releases their slots.
	for _, p := range q {
		require.NoError(t, e.h.HandleSessionTerminate(t.Context(), task(jobs.NewSessionTerminateTask(p))))
	}
	require.Equal(t, "CANCELLED", e.session(t, sched).status)
	for _, sid := range []string{prep, term} {
		s := e.session(t, sid)
		require.Equal(t, "TERMINATED", s.status, sid)
		require.Equal(t, session.ReasonHangTimeout, s.info)
	}
	require.Equal(t, "RUNNING", e.session(t, run).status)
	require.Equal(t, "1", e.occupied(t, "i-hang")["cpu"])
	e.requireConsistent(t)
}

func TestUsageRecalculateFixesDrift(t *testing.T) {
	e := newEnv(t, session.Options{})
	e.insertAgent(t, "i-drift", "tcp://127.0.0.1:1", 8, 8*gib)
	e.insertPendingSession(t, "s1", "2", "1073741824")
	e.schedule(t)
	_, err := e.pool.Exec(t.Context(), `UPDATE agent_slots SET occupied = occupied + 3 WHERE agent_id = 'i-drift' AND slot = 'cpu'`)
	require.NoError(t, err)
	require.NoError(t, e.h.HandleUsageRecalculate(t.Context(), sweep(jobs.TypeUsageRecalculate)))
	require.Equal(t, "2", e.occupied(t, "i-drift")["cpu"])
	e.requireConsistent(t)
}

func TestScheduleTickRetriesOrphanedStart(t *testing.T) {
	e := newEnv(t, session.Options{StaleAfter: 5 * time.Second})
	e.insertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	sid, _ := e.insertPendingSession(t, "s1", "1", "1073741824")
	e.schedule(t)
	// The start task is active on a worker that died: its TaskID stays taken.
	_, err := e.pool.Exec(t.Context(), `UPDATE sessions SET status = 'PREPARING', status_changed = $2 WHERE id = $1`, sid, e.clock())
	require.NoError(t, err)
	tick := func() {
		require.NoError(t, e.h.HandleScheduleTick(t.Context(), task(jobs.NewScheduleTickTask(jobs.ScheduleTickPayload{Slot: e.clock()}))))
	}
	insp := asynq.NewInspector(e.redisOpt)
	defer insp.Close()
	retries := func() int {
		tasks, err := insp.ListPendingTasks(jobs.QueueName(e.prefix, jobs.QueueCritical))
		require.NoError(t, err)
		n := 0
		for _, ti := range tasks {
			if ti.Type == jobs.TypeSessionStart && ti.ID != jobs.TypeSessionStart+":"+sid {
				n++
			}
		}
		return n
	}
	e.advance(session.PreparingRetryAfter - time.Second)
	tick()
	require.Zero(t, retries(), "a start may still be in flight")
	e.advance(2 * time.Second)
	tick()
	require.Equal(t, 1, retries())
	tick()
	require.Equal(t, 1, retries(), "one retry per period")
}

// TestAgentLostCheckAllowsForHeartbeatBacklog: heartbeats waiting in the queue keep their
// agents alive; an agent is lost only when the backlog cannot explain its silence.
func TestAgentLostCheckAllowsForHeartbeatBacklog(t *testing.T) {
	e := newEnv(t, session.Options{})
	e.insertAgent(t, "i-busy", "tcp://127.0.0.1:1", 4, 8*gib)
	_, err := e.pool.Exec(t.Context(), `UPDATE agents SET last_seen = $1`, e.clock())
	require.NoError(t, err)

	// A heartbeat that has waited a minute in the queue (its pending time set back).
	client := asynq.NewClient(e.redisOpt)
	defer client.Close()
	hb := task(jobs.NewAgentHeartbeatTask(jobs.AgentHeartbeatPayload{AgentID: "i-busy", Addr: "tcp://127.0.0.1:1",
		ScalingGroup: "default", Time: e.clock()}))
	q := jobs.QueueName(e.prefix, jobs.DefaultsOf(jobs.TypeAgentHeartbeat).Queue)
	info, err := client.Enqueue(hb, asynq.Queue(q))
	require.NoError(t, err)
	require.NoError(t, e.rdb.HSet(t.Context(), "asynq:{"+q+"}:t:"+info.ID, "pending_since",
		time.Now().Add(-time.Minute).UnixNano()).Err())

	status := func() string {
		var st string
		require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT status::text FROM agents WHERE id = 'i-busy'`).Scan(&st))
		return st
	}
	e.advance(session.DefaultHeartbeatTimeout + 10*time.Second)
	require.NoError(t, e.h.HandleAgentLostCheck(t.Context(), sweep(jobs.TypeAgentLostCheck)))
	require.Equal(t, "ALIVE", status(), "silence within timeout + backlog")

	// The backlog is gone and the agent still silent: lost.
	insp := asynq.NewInspector(e.redisOpt)
	defer insp.Close()
	require.NoError(t, insp.DeleteTask(q, info.ID))
	require.NoError(t, e.h.HandleAgentLostCheck(t.Context(), sweep(jobs.TypeAgentLostCheck)))
	require.Equal(t, "LOST", status())
}

// TestAgentLostCheckForgivesTheManagersOwnOutage: when the check could not run for longer
// than twice its period (PostgreSQL or Redis away), heartbeats were not applied either, so the
// agents get one heartbeat timeout from the check's return before any is taken for lost; one
// that stays silent after that is lost as usual.
func TestAgentLostCheckForgivesTheManagersOwnOutage(t *testing.T) {
	e := newEnv(t, session.Options{})
	e.insertAgent(t, "i-heard", "tcp://127.0.0.1:1", 4, 8*gib)
	e.insertAgent(t, "i-silent", "tcp://127.0.0.1:2", 4, 8*gib)
	_, err := e.pool.Exec(t.Context(), `UPDATE agents SET last_seen = $1`, e.clock())
	require.NoError(t, err)
	status := func(id string) string {
		var st string
		require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT status::text FROM agents WHERE id = $1`, id).Scan(&st))
		return st
	}
	check := func() { require.NoError(t, e.h.HandleAgentLostCheck(t.Context(), sweep(jobs.TypeAgentLostCheck))) }
	check()

	// An outage of two heartbeat timeouts: no check ran, no heartbeat was applied.
	e.advance(2 * session.DefaultHeartbeatTimeout)
	check()
	require.Equal(t, "ALIVE", status("i-heard"), "the manager's outage is not the agents' silence")
	require.Equal(t, "ALIVE", status("i-silent"))

	// Checks resume every few seconds; i-heard's heartbeats arrive again, i-silent stays silent.
	for elapsed := time.Duration(0); elapsed < session.DefaultHeartbeatTimeout-5*time.Second; elapsed += 5 * time.Second {
		e.advance(5 * time.Second)
		_, err := e.pool.Exec(t.Context(), `UPDATE agents SET last_seen = $1 WHERE id = 'i-heard'`, e.clock())
		require.NoError(t, err)
		check()
		require.Equal(t, "ALIVE", status("i-silent"), "within one timeout of the check's return")
	}
	e.advance(10 * time.Second)
	_, err = e.pool.Exec(t.Context(), `UPDATE agents SET last_seen = $1 WHERE id = 'i-heard'`, e.clock())
	require.NoError(t, err)
	check()
	require.Equal(t, "LOST", status("i-silent"))
	require.Equal(t, "ALIVE", status("i-heard"))
}

// TestSchedulePassCatchesLateArrivals: a session committed while a pass runs (its wake-up
// found the pass's task taken) is placed by the same task, not left for the next tick.
func TestSchedulePassCatchesLateArrivals(t *testing.T) {
	var late func()
	e := newEnv(t, session.Options{AfterSnapshot: func() {
		if f := late; f != nil {
			late = nil
			f()
		}
	}})
	e.insertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	first, _ := e.insertPendingSession(t, "first", "1", "1073741824")
	var second string
	late = func() { second, _ = e.insertPendingSession(t, "second", "1", "1073741824") }
	e.schedule(t)
	require.NotEmpty(t, second)
	require.Equal(t, "SCHEDULED", e.session(t, first).status)
	require.Equal(t, "SCHEDULED", e.session(t, second).status)
	e.requireConsistent(t)
}
