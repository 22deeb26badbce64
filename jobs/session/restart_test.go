package session_test

import (
	"context"
	"github.com/hangar-run/hangar/jobs/jobstest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/jobs"
)

// countingAgent is a real agent whose restarts are counted, and fail with fail when set.
type countingAgent struct {
	agentrpc.Handler
	restarts atomic.Int32
	mu       sync.Mutex
	fail     error
}

func (c *countingAgent) RestartKernel(ctx context.Context, req *agentrpc.RestartKernelRequest) (*agentrpc.KernelCreated, error) {
	c.restarts.Add(1)
	c.mu.Lock()
	fail := c.fail
	c.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	return c.Handler.RestartKernel(ctx, req)
}

// serveAgent serves the agent RPC with h on a free local port until the test ends.
func serveAgent(t *testing.T, h agentrpc.Handler) string {
	t.Helper()
	srv, err := agentrpc.NewServer("tcp://127.0.0.1:0", h, agentrpc.ServerOptions{Logger: testLogger()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return srv.Addr()
}

// restartEnv is a RUNNING session on a dummy agent reached through a countingAgent.
type restartEnv struct {
	*testEnv
	Agent    *countingAgent
	sid, kid string
	evs      <-chan events.Event
}

func newRestartEnv(t *testing.T) *restartEnv {
	t.Helper()
	e := newEnv(t, jobstest.Options{RPCTimeout: 5 * time.Second})
	a, _ := runAgent(t, "i-dummy")
	ca := &countingAgent{Handler: a}
	e.InsertAgent(t, "i-dummy", serveAgent(t, ca), 4, 8*gib)
	sid, kid := e.InsertPendingSession(t, "s1", "2", "1073741824")
	e.Schedule(t)
	e.Start(t, sid)
	require.Equal(t, "RUNNING", e.Session(t, sid).Status)
	return &restartEnv{testEnv: e, Agent: ca, sid: sid, kid: kid, evs: e.Subscribe(t)}
}

// beginRestart does what the API does: RUNNING → RESTARTING in one transaction.
func (r *restartEnv) beginRestart(t *testing.T) {
	t.Helper()
	r.Advance(time.Second)
	require.NoError(t, db.InTx(t.Context(), r.Pool, func(tx pgx.Tx) error {
		ok, err := lifecycle.BeginRestart(t.Context(), tx, uuid.MustParse(r.sid), r.Clock())
		require.True(t, ok)
		return err
	}))
	require.Equal(t, "RESTARTING", r.Session(t, r.sid).Status)
	require.Equal(t, "RESTARTING", r.Kernel(t, r.kid).Status)
}

func (r *restartEnv) restart(t *testing.T) {
	t.Helper()
	r.Advance(time.Second)
	require.NoError(t, r.H.HandleSessionRestart(t.Context(),
		task(jobs.NewSessionRestartTask(jobs.SessionRestartPayload{SessionID: r.sid, RestartID: uuid.NewString()}))))
}

func TestRestartJobRunsTheSessionAgain(t *testing.T) {
	r := newRestartEnv(t)
	r.beginRestart(t)
	r.restart(t)
	s := r.Session(t, r.sid)
	require.Equal(t, "RUNNING", s.Status)
	require.Empty(t, s.Info)
	require.Equal(t, lifecycle.FormatTime(r.Clock().Add(-time.Second)), s.History["RESTARTING"])
	require.Equal(t, lifecycle.FormatTime(r.Clock()), s.History["RUNNING"])
	require.Equal(t, "RUNNING", r.Kernel(t, r.kid).Status)
	require.True(t, r.Kernel(t, r.kid).Reserved)
	require.EqualValues(t, 1, r.Agent.restarts.Load())
	waitEvent(t, r.evs, events.SessionStarted, r.sid)

	// A second delivery of the same task restarts nothing.
	r.restart(t)
	require.EqualValues(t, 1, r.Agent.restarts.Load())
	require.Equal(t, "RUNNING", r.Session(t, r.sid).Status)
	r.RequireConsistent(t)
}

func TestRestartJobKernelGoneEndsInError(t *testing.T) {
	r := newRestartEnv(t)
	r.Agent.fail = agentrpc.Errorf(agentrpc.KindNotFound, "no such kernel")
	r.beginRestart(t)
	r.restart(t)
	s := r.Session(t, r.sid)
	require.Equal(t, "ERROR", s.Status)
	require.Equal(t, "kernel-restart-failed", s.Info)
	k := r.Kernel(t, r.kid)
	require.Equal(t, "ERROR", k.Status)
	require.False(t, k.Reserved, "the gone kernel's slots are released")
	require.Equal(t, map[string]string{"cpu": "0", "mem": "0"}, r.Occupied(t, "i-dummy"))
	waitEvent(t, r.evs, events.KernelTerminated, r.sid)
	r.RequireConsistent(t)

	// Destroying the failed session later releases nothing more.
	require.NoError(t, r.H.HandleSessionTerminate(t.Context(), task(jobs.NewSessionTerminateTask(jobs.SessionTerminatePayload{SessionID: r.sid, Forced: true}))))
	r.RequireConsistent(t)
}

func TestRestartJobFailureKeepsRunning(t *testing.T) {
	r := newRestartEnv(t)
	r.Agent.fail = agentrpc.Errorf(agentrpc.KindFailure, "the runtime refused")
	r.beginRestart(t)
	r.restart(t)
	s := r.Session(t, r.sid)
	require.Equal(t, "RUNNING", s.Status)
	require.Equal(t, "kernel-restart-failed", s.Info)
	var repr string
	require.NoError(t, r.Pool.QueryRow(t.Context(), `SELECT status_data #>> '{error,repr}' FROM sessions WHERE id = $1`, r.sid).Scan(&repr))
	require.Equal(t, "the runtime refused", repr)
	require.Equal(t, "RUNNING", r.Kernel(t, r.kid).Status)

	// The next restart that succeeds clears the failure.
	r.Agent.mu.Lock()
	r.Agent.fail = nil
	r.Agent.mu.Unlock()
	r.beginRestart(t)
	r.restart(t)
	s = r.Session(t, r.sid)
	require.Equal(t, "RUNNING", s.Status)
	require.Empty(t, s.Info)
	require.EqualValues(t, 2, r.Agent.restarts.Load())
}

// A session destroyed while its restart runs is left to its termination.
func TestRestartJobLeavesADestroyedSessionAlone(t *testing.T) {
	r := newRestartEnv(t)
	r.beginRestart(t)
	require.NoError(t, db.InTx(t.Context(), r.Pool, func(tx pgx.Tx) error {
		_, err := lifecycle.Session(t.Context(), tx, uuid.MustParse(r.sid), lifecycle.Change{
			From: []string{lifecycle.Restarting}, To: lifecycle.Terminating,
		}, r.Clock())
		return err
	}))
	r.restart(t)
	require.Equal(t, "TERMINATING", r.Session(t, r.sid).Status)
	require.Zero(t, r.Agent.restarts.Load())
}
