package session_test

import (
	"github.com/hangar-run/hangar/jobs/jobstest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/jobs"
)

func TestStartAndTerminateOnDummyAgent(t *testing.T) {
	e := newEnv(t, jobstest.Options{RPCTimeout: 5 * time.Second})
	evs := e.Subscribe(t)
	a, rt := runAgent(t, "i-dummy")
	e.InsertAgent(t, "i-dummy", a.ListenAddr(), 4, 8*gib)
	sid, kid := e.InsertPendingSession(t, "s1", "2", "1073741824")
	e.Schedule(t)

	e.Start(t, sid)
	s := e.Session(t, sid)
	require.Equal(t, "RUNNING", s.Status)
	require.Contains(t, s.History, "PREPARING")
	require.Contains(t, s.History, "RUNNING")
	k := e.Kernel(t, kid)
	require.Equal(t, "RUNNING", k.Status)
	require.NotEmpty(t, k.ContainerID)
	ks, err := rt.ListKernels(t.Context())
	require.NoError(t, err)
	require.Len(t, ks, 1)
	require.Equal(t, kid, ks[0].KernelID)
	waitEvent(t, evs, events.KernelStarted, sid)
	waitEvent(t, evs, events.SessionStarted, sid)

	// A redelivered start changes nothing.
	e.Start(t, sid)
	require.Equal(t, "RUNNING", e.Session(t, sid).Status)

	require.NoError(t, e.H.HandleSessionTerminate(t.Context(), task(jobs.NewSessionTerminateTask(jobs.SessionTerminatePayload{SessionID: sid, Reason: "user-requested"}))))
	s = e.Session(t, sid)
	require.Equal(t, "TERMINATED", s.Status)
	require.Contains(t, s.History, "TERMINATING")
	require.Contains(t, s.History, "TERMINATED")
	k = e.Kernel(t, kid)
	require.Equal(t, "TERMINATED", k.Status)
	require.False(t, k.Reserved)
	require.Equal(t, map[string]string{"cpu": "0", "mem": "0"}, e.Occupied(t, "i-dummy"))
	ks, err = rt.ListKernels(t.Context())
	require.NoError(t, err)
	require.Empty(t, ks)
	var terminatedAt *time.Time
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT terminated_at FROM sessions WHERE id = $1`, sid).Scan(&terminatedAt))
	require.NotNil(t, terminatedAt)
	waitEvent(t, evs, events.KernelTerminated, sid)
	waitEvent(t, evs, events.SessionTerminated, sid)

	// A redelivered termination changes nothing.
	require.NoError(t, e.H.HandleSessionTerminate(t.Context(), task(jobs.NewSessionTerminateTask(jobs.SessionTerminatePayload{SessionID: sid}))))
	require.Equal(t, map[string]string{"cpu": "0", "mem": "0"}, e.Occupied(t, "i-dummy"))
}

func TestStartOnUnreachableAgentReleasesSlots(t *testing.T) {
	e := newEnv(t, jobstest.Options{RPCTimeout: 300 * time.Millisecond})
	// Nothing listens on port 1.
	e.InsertAgent(t, "i-gone", "tcp://127.0.0.1:1", 4, 8*gib)
	sid, kid := e.InsertPendingSession(t, "s1", "1", "1073741824")
	other, _ := e.InsertPendingSession(t, "s2", "1", "1073741824")
	e.Schedule(t)
	require.Equal(t, "2", e.Occupied(t, "i-gone")["cpu"])

	e.Start(t, sid)
	s := e.Session(t, sid)
	require.Equal(t, "ERROR", s.Status)
	require.Equal(t, "failed-to-start", s.Info)
	k := e.Kernel(t, kid)
	require.Equal(t, "ERROR", k.Status)
	require.False(t, k.Reserved)
	require.Equal(t, "1", e.Occupied(t, "i-gone")["cpu"], "only the failed session's slots are released")
	e.RequireConsistent(t)
	require.Equal(t, "SCHEDULED", e.Session(t, other).Status)

	// Terminating the failed session later releases nothing more.
	require.NoError(t, e.H.HandleSessionTerminate(t.Context(), task(jobs.NewSessionTerminateTask(jobs.SessionTerminatePayload{SessionID: sid, Forced: true}))))
	require.Equal(t, "1", e.Occupied(t, "i-gone")["cpu"])
}

func TestDuplicateTerminatedEventReleasesOnce(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	evs := e.Subscribe(t)
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	sid, kid := e.InsertPendingSession(t, "batch", "1", "1073741824")
	other, _ := e.InsertPendingSession(t, "other", "1", "1073741824")
	e.Schedule(t)
	require.Equal(t, "2", e.Occupied(t, "i-a1")["cpu"])

	zero := 0
	ev := task(jobs.NewKernelEventTask(jobs.KernelEventPayload{
		AgentID: "i-a1", KernelID: kid, SessionID: sid, Event: jobs.KernelEventTerminated,
		ExitCode: &zero, Reason: "task-done", Time: e.Clock(),
	}))
	require.NoError(t, e.H.HandleKernelEvent(t.Context(), ev))
	require.NoError(t, e.H.HandleKernelEvent(t.Context(), ev))

	s := e.Session(t, sid)
	require.Equal(t, "TERMINATED", s.Status)
	require.Equal(t, "SUCCESS", s.Result)
	require.Equal(t, "TERMINATED", e.Kernel(t, kid).Status)
	require.Equal(t, "1", e.Occupied(t, "i-a1")["cpu"])
	require.Equal(t, "SCHEDULED", e.Session(t, other).Status)
	e.RequireConsistent(t)
	waitEvent(t, evs, events.SessionSuccess, sid)
	waitEvent(t, evs, events.SessionTerminated, sid)
}

func TestTerminatePendingSessionCancels(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	sid, kid := e.InsertPendingSession(t, "s1", "1", "1073741824")
	require.NoError(t, e.H.HandleSessionTerminate(t.Context(), task(jobs.NewSessionTerminateTask(jobs.SessionTerminatePayload{SessionID: sid, Reason: "user-requested"}))))
	require.Equal(t, "CANCELLED", e.Session(t, sid).Status)
	require.Equal(t, "CANCELLED", e.Kernel(t, kid).Status)
}
