package maintenance_test

import (
	"encoding/json"
	"github.com/hangar-run/hangar/jobs/jobstest"
	"github.com/hangar-run/hangar/jobs/maintenance"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/jobs"
)

func sweep(typ string) *asynq.Task { return task(jobs.NewSweepTask(typ, time.Unix(1700000000, 0))) }

func TestAgentLostEndsItsKernelsOnly(t *testing.T) {
	e := newEnv(t, jobstest.Options{RPCTimeout: 5 * time.Second})
	evs := e.Subscribe(t)
	a1, _ := runAgent(t, "i-lost")
	a2, rt2 := runAgent(t, "i-alive")
	e.InsertAgent(t, "i-lost", a1.ListenAddr(), 2, 8*gib)
	e.InsertAgent(t, "i-alive", a2.ListenAddr(), 2, 8*gib)
	// Two sessions of 2 CPU: one lands on each agent.
	s1, k1 := e.InsertPendingSession(t, "s1", "2", "1073741824")
	s2, k2 := e.InsertPendingSession(t, "s2", "2", "1073741824")
	e.Schedule(t)
	e.Start(t, s1)
	e.Start(t, s2)
	onLost := s1
	if e.Kernel(t, k1).Agent != "i-lost" {
		onLost, s2, k1, k2 = s2, s1, k2, k1
	}
	require.Equal(t, "RUNNING", e.Session(t, onLost).Status)

	_, err := e.Pool.Exec(t.Context(), `UPDATE agents SET last_seen = $1`, e.Clock())
	require.NoError(t, err)
	e.Advance(maintenance.DefaultHeartbeatTimeout - time.Second)
	require.NoError(t, e.H.HandleAgentLostCheck(t.Context(), sweep(jobs.TypeAgentLostCheck)))
	require.Equal(t, "RUNNING", e.Session(t, onLost).Status, "not lost before the timeout")

	// i-alive keeps heartbeating; i-lost falls silent past the timeout.
	_, err = e.Pool.Exec(t.Context(), `UPDATE agents SET last_seen = $1 WHERE id = 'i-alive'`, e.Clock())
	require.NoError(t, err)
	e.Advance(2 * time.Second)
	require.NoError(t, e.H.HandleAgentLostCheck(t.Context(), sweep(jobs.TypeAgentLostCheck)))

	var status string
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT status::text FROM agents WHERE id = 'i-lost'`).Scan(&status))
	require.Equal(t, "LOST", status)
	s := e.Session(t, onLost)
	require.Equal(t, "TERMINATED", s.Status)
	require.Equal(t, maintenance.ReasonAgentLost, s.Info)
	k := e.Kernel(t, k1)
	require.Equal(t, "TERMINATED", k.Status)
	require.False(t, k.Reserved)
	require.Equal(t, map[string]string{"cpu": "0", "mem": "0"}, e.Occupied(t, "i-lost"))
	e.RequireConsistent(t)
	ev := waitEvent(t, evs, events.KernelTerminated, onLost)
	require.Equal(t, maintenance.ReasonAgentLost, ev.Reason)
	waitEvent(t, evs, events.SessionTerminated, onLost)

	// The other agent's session and kernel are untouched.
	require.Equal(t, "RUNNING", e.Session(t, s2).Status)
	require.Equal(t, "RUNNING", e.Kernel(t, k2).Status)
	ks, err := rt2.ListKernels(t.Context())
	require.NoError(t, err)
	require.Len(t, ks, 1)

	// Idempotent: a second run releases nothing more.
	require.NoError(t, e.H.HandleAgentLostCheck(t.Context(), sweep(jobs.TypeAgentLostCheck)))
	e.RequireConsistent(t)
	require.Equal(t, "2", e.Occupied(t, "i-alive")["cpu"])
}

func TestAgentSyncReconcilesBothWays(t *testing.T) {
	e := newEnv(t, jobstest.Options{RPCTimeout: 5 * time.Second})
	// The agent's clock follows the test's, so kernel ages are under the test's control.
	var skew atomic.Int64
	agentNow := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	a, rt := runAgentClock(t, "i-sync", agentNow)
	e.InsertAgent(t, "i-sync", a.ListenAddr(), 4, 8*gib)
	gone, goneK := e.InsertPendingSession(t, "gone", "1", "1073741824")
	kept, keptK := e.InsertPendingSession(t, "kept", "1", "1073741824")
	e.Schedule(t)
	e.Start(t, gone)
	e.Start(t, kept)

	// The agent lost one kernel; it also runs one the manager never heard of.
	require.NoError(t, rt.DestroyKernel(t.Context(), goneK))
	_, err := rt.CreateKernel(t.Context(), &agentrpc.KernelConfig{KernelID: "stray", SessionID: "nobody"})
	require.NoError(t, err)

	sync := task(jobs.NewAgentSyncTask(jobs.AgentSyncPayload{AgentID: "i-sync", Reason: "test"}, e.Clock()))
	// Too young on both sides: nothing happens yet.
	require.NoError(t, e.H.HandleAgentSync(t.Context(), sync))
	require.Equal(t, "RUNNING", e.Session(t, gone).Status)
	ks, err := rt.ListKernels(t.Context())
	require.NoError(t, err)
	require.Len(t, ks, 2)

	e.Advance(maintenance.SyncGrace + time.Second)
	skew.Store(int64(2 * time.Minute))
	require.NoError(t, e.H.HandleAgentSync(t.Context(), sync))
	s := e.Session(t, gone)
	require.Equal(t, "TERMINATED", s.Status)
	require.Equal(t, maintenance.ReasonAlreadyTerminated, s.Info)
	require.False(t, e.Kernel(t, goneK).Reserved)
	require.Equal(t, "RUNNING", e.Session(t, kept).Status)
	ks, err = rt.ListKernels(t.Context())
	require.NoError(t, err)
	require.Len(t, ks, 1, "the stray kernel is destroyed, the live one kept")
	require.Equal(t, keptK, ks[0].KernelID)
	require.Equal(t, "1", e.Occupied(t, "i-sync")["cpu"])
	e.RequireConsistent(t)

	// A LOST agent is not synced (the lost check owns its kernels).
	_, err = e.Pool.Exec(t.Context(), `UPDATE agents SET status = 'LOST' WHERE id = 'i-sync'`)
	require.NoError(t, err)
	require.NoError(t, rt.DestroyKernel(t.Context(), keptK))
	e.Advance(time.Minute)
	require.NoError(t, e.H.HandleAgentSync(t.Context(), sync))
	require.Equal(t, "RUNNING", e.Session(t, kept).Status)
}

func TestHangCheckForceEndsStuckSessions(t *testing.T) {
	e := newEnv(t, jobstest.Options{RPCTimeout: 300 * time.Millisecond})
	e.InsertAgent(t, "i-hang", "tcp://127.0.0.1:1", 8, 8*gib)
	prep, _ := e.InsertPendingSession(t, "prep", "1", "1073741824")
	sched, _ := e.InsertPendingSession(t, "sched", "1", "1073741824")
	term, _ := e.InsertPendingSession(t, "term", "1", "1073741824")
	run, _ := e.InsertPendingSession(t, "run", "1", "1073741824")
	e.Schedule(t)
	at := e.Clock()
	for sid, status := range map[string]string{prep: "PREPARING", term: "TERMINATING", run: "RUNNING"} {
		_, err := e.Pool.Exec(t.Context(), `UPDATE sessions SET status = $2::text::session_status, status_changed = $3 WHERE id = $1`, sid, status, at)
		require.NoError(t, err)
	}
	_, err := e.Pool.Exec(t.Context(), `UPDATE sessions SET status_changed = $2 WHERE id = $1`, sched, at)
	require.NoError(t, err)

	insp := asynq.NewInspector(e.RedisOpt)
	defer insp.Close()
	queued := func() map[string]jobs.SessionTerminatePayload {
		out := map[string]jobs.SessionTerminatePayload{}
		tasks, err := insp.ListPendingTasks(jobs.QueueName(e.Prefix, jobs.QueueCritical))
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

	e.Advance(29 * time.Minute)
	require.NoError(t, e.H.HandleSessionHangCheck(t.Context(), sweep(jobs.TypeSessionHangCheck)))
	require.Empty(t, queued())

	// Past 30 minutes: SCHEDULED and TERMINATING are hung; PREPARING (1 h) is not yet.
	e.Advance(2 * time.Minute)
	require.NoError(t, e.H.HandleSessionHangCheck(t.Context(), sweep(jobs.TypeSessionHangCheck)))
	q := queued()
	require.Len(t, q, 2)
	require.Equal(t, jobs.SessionTerminatePayload{SessionID: sched, Reason: maintenance.ReasonHangTimeout, Forced: true}, q[sched])
	require.Contains(t, q, term)
	// Enqueuing again while queued is no error and no duplicate.
	require.NoError(t, e.H.HandleSessionHangCheck(t.Context(), sweep(jobs.TypeSessionHangCheck)))
	require.Len(t, queued(), 2)

	e.Advance(30 * time.Minute)
	require.NoError(t, e.H.HandleSessionHangCheck(t.Context(), sweep(jobs.TypeSessionHangCheck)))
	q = queued()
	require.Len(t, q, 3)
	require.NotContains(t, q, run)

	// Running the queued terminations ends the sessions with the reason, even with the agent
	// unreachable, and releases their slots.
	for _, p := range q {
		require.NoError(t, e.H.HandleSessionTerminate(t.Context(), task(jobs.NewSessionTerminateTask(p))))
	}
	require.Equal(t, "CANCELLED", e.Session(t, sched).Status)
	for _, sid := range []string{prep, term} {
		s := e.Session(t, sid)
		require.Equal(t, "TERMINATED", s.Status, sid)
		require.Equal(t, maintenance.ReasonHangTimeout, s.Info)
	}
	require.Equal(t, "RUNNING", e.Session(t, run).Status)
	require.Equal(t, "1", e.Occupied(t, "i-hang")["cpu"])
	e.RequireConsistent(t)
}

func TestUsageRecalculateFixesDrift(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	e.InsertAgent(t, "i-drift", "tcp://127.0.0.1:1", 8, 8*gib)
	e.InsertPendingSession(t, "s1", "2", "1073741824")
	e.Schedule(t)
	_, err := e.Pool.Exec(t.Context(), `UPDATE agent_slots SET occupied = occupied + 3 WHERE agent_id = 'i-drift' AND slot = 'cpu'`)
	require.NoError(t, err)
	require.NoError(t, e.H.HandleUsageRecalculate(t.Context(), sweep(jobs.TypeUsageRecalculate)))
	require.Equal(t, "2", e.Occupied(t, "i-drift")["cpu"])
	e.RequireConsistent(t)
}

// TestAgentLostCheckAllowsForHeartbeatBacklog: heartbeats waiting in the queue keep their
// agents alive; an agent is lost only when the backlog cannot explain its silence.
func TestAgentLostCheckAllowsForHeartbeatBacklog(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	e.InsertAgent(t, "i-busy", "tcp://127.0.0.1:1", 4, 8*gib)
	_, err := e.Pool.Exec(t.Context(), `UPDATE agents SET last_seen = $1`, e.Clock())
	require.NoError(t, err)

	// A heartbeat that has waited a minute in the queue (its pending time set back).
	client := asynq.NewClient(e.RedisOpt)
	defer client.Close()
	hb := task(jobs.NewAgentHeartbeatTask(jobs.AgentHeartbeatPayload{AgentID: "i-busy", Addr: "tcp://127.0.0.1:1",
		ScalingGroup: "default", Time: e.Clock()}))
	q := jobs.QueueName(e.Prefix, jobs.DefaultsOf(jobs.TypeAgentHeartbeat).Queue)
	info, err := client.Enqueue(hb, asynq.Queue(q))
	require.NoError(t, err)
	require.NoError(t, e.Rdb.HSet(t.Context(), "asynq:{"+q+"}:t:"+info.ID, "pending_since",
		time.Now().Add(-time.Minute).UnixNano()).Err())

	status := func() string {
		var st string
		require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT status::text FROM agents WHERE id = 'i-busy'`).Scan(&st))
		return st
	}
	e.Advance(maintenance.DefaultHeartbeatTimeout + 10*time.Second)
	require.NoError(t, e.H.HandleAgentLostCheck(t.Context(), sweep(jobs.TypeAgentLostCheck)))
	require.Equal(t, "ALIVE", status(), "silence within timeout + backlog")

	// The backlog is gone and the agent still silent: lost.
	insp := asynq.NewInspector(e.RedisOpt)
	defer insp.Close()
	require.NoError(t, insp.DeleteTask(q, info.ID))
	require.NoError(t, e.H.HandleAgentLostCheck(t.Context(), sweep(jobs.TypeAgentLostCheck)))
	require.Equal(t, "LOST", status())
}

// TestAgentLostCheckForgivesTheManagersOwnOutage: when the check could not run for longer
// than twice its period (PostgreSQL or Redis away), heartbeats were not applied either, so the
// agents get one heartbeat timeout from the check's return before any is taken for lost; one
// that stays silent after that is lost as usual.
func TestAgentLostCheckForgivesTheManagersOwnOutage(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	e.InsertAgent(t, "i-heard", "tcp://127.0.0.1:1", 4, 8*gib)
	e.InsertAgent(t, "i-silent", "tcp://127.0.0.1:2", 4, 8*gib)
	_, err := e.Pool.Exec(t.Context(), `UPDATE agents SET last_seen = $1`, e.Clock())
	require.NoError(t, err)
	status := func(id string) string {
		var st string
		require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT status::text FROM agents WHERE id = $1`, id).Scan(&st))
		return st
	}
	check := func() { require.NoError(t, e.H.HandleAgentLostCheck(t.Context(), sweep(jobs.TypeAgentLostCheck))) }
	check()

	// An outage of two heartbeat timeouts: no check ran, no heartbeat was applied.
	e.Advance(2 * maintenance.DefaultHeartbeatTimeout)
	check()
	require.Equal(t, "ALIVE", status("i-heard"), "the manager's outage is not the agents' silence")
	require.Equal(t, "ALIVE", status("i-silent"))

	// Checks resume every few seconds; i-heard's heartbeats arrive again, i-silent stays silent.
	for elapsed := time.Duration(0); elapsed < maintenance.DefaultHeartbeatTimeout-5*time.Second; elapsed += 5 * time.Second {
		e.Advance(5 * time.Second)
		_, err := e.Pool.Exec(t.Context(), `UPDATE agents SET last_seen = $1 WHERE id = 'i-heard'`, e.Clock())
		require.NoError(t, err)
		check()
		require.Equal(t, "ALIVE", status("i-silent"), "within one timeout of the check's return")
	}
	e.Advance(10 * time.Second)
	_, err = e.Pool.Exec(t.Context(), `UPDATE agents SET last_seen = $1 WHERE id = 'i-heard'`, e.Clock())
	require.NoError(t, err)
	check()
	require.Equal(t, "LOST", status("i-silent"))
	require.Equal(t, "ALIVE", status("i-heard"))
}
