package session_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
	"github.com/hangar-run/hangar/jobs/session"
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
	agent    *countingAgent
	sid, kid string
	evs      <-chan events.Event
}

func newRestartEnv(t *testing.T) *restartEnv {
	t.Helper()
	e := newEnv(t, session.Options{RPCTimeout: 5 * time.Second})
	a, _ := runAgent(t, "i-dummy")
	ca := &countingAgent{Handler: a}
	e.insertAgent(t, "i-dummy", serveAgent(t, ca), 4, 8*gib)
	sid, kid := e.insertPendingSession(t, "s1", "2", "1073741824")
	e.schedule(t)
	e.start(t, sid)
	require.Equal(t, "RUNNING", e.session(t, sid).status)
	return &restartEnv{testEnv: e, agent: ca, sid: sid, kid: kid, evs: e.subscribe(t)}
}

// beginRestart does what the API does: RUNNING → RESTARTING in one transaction.
func (r *restartEnv) beginRestart(t *testing.T) {
	t.Helper()
	r.advance(time.Second)
	require.NoError(t, db.InTx(t.Context(), r.pool, func(tx pgx.Tx) error {
		ok, err := lifecycle.BeginRestart(t.Context(), tx, uuid.MustParse(r.sid), r.clock())
		require.True(t, ok)
		return err
	}))
	require.Equal(t, "RESTARTING", r.session(t, r.sid).status)
	require.Equal(t, "RESTARTING", r.kernel(t, r.kid).status)
}

func (r *restartEnv) restart(t *testing.T) {
	t.Helper()
	r.advance(time.Second)
	require.NoError(t, r.h.HandleSessionRestart(t.Context(),
		task(jobs.NewSessionRestartTask(jobs.SessionRestartPayload{SessionID: r.sid, RestartID: uuid.NewString()}))))
}

func TestRestartJobRunsTheSessionAgain(t *testing.T) {
	r := newRestartEnv(t)
	r.beginRestart(t)
	r.restart(t)
	s := r.session(t, r.sid)
	require.Equal(t, "RUNNING", s.status)
	require.Empty(t, s.info)
	require.Equal(t, lifecycle.FormatTime(r.clock().Add(-time.Second)), s.history["RESTARTING"])
	require.Equal(t, lifecycle.FormatTime(r.clock()), s.history["RUNNING"])
	require.Equal(t, "RUNNING", r.kernel(t, r.kid).status)
	require.True(t, r.kernel(t, r.kid).reserved)
	require.EqualValues(t, 1, r.agent.restarts.Load())
	waitEvent(t, r.evs, events.SessionStarted, r.sid)

	// A second delivery of the same task restarts nothing.
	r.restart(t)
	require.EqualValues(t, 1, r.agent.restarts.Load())
	require.Equal(t, "RUNNING", r.session(t, r.sid).status)
	r.requireConsistent(t)
}

func TestRestartJobKernelGoneEndsInError(t *testing.T) {
	r := newRestartEnv(t)
	r.agent.fail = agentrpc.Errorf(agentrpc.KindNotFound, "no such kernel")
	r.beginRestart(t)
	r.restart(t)
	s := r.session(t, r.sid)
	require.Equal(t, "ERROR", s.status)
	require.Equal(t, "kernel-restart-failed", s.info)
	k := r.kernel(t, r.kid)
	require.Equal(t, "ERROR", k.status)
	require.False(t, k.reserved, "the gone kernel's slots are released")
	require.Equal(t, map[string]string{"cpu": "0", "mem": "0"}, r.occupied(t, "i-dummy"))
	waitEvent(t, r.evs, events.KernelTerminated, r.sid)
	r.requireConsistent(t)

	// Destroying the failed session later releases nothing more.
	require.NoError(t, r.h.HandleSessionTerminate(t.Context(), task(jobs.NewSessionTerminateTask(jobs.SessionTerminatePayload{SessionID: r.sid, Forced: true}))))
	r.requireConsistent(t)
}

func TestRestartJobFailureKeepsRunning(t *testing.T) {
	r := newRestartEnv(t)
	r.agent.fail = agentrpc.Errorf(agentrpc.KindFailure, "the runtime refused")
	r.beginRestart(t)
	r.restart(t)
	s := r.session(t, r.sid)
	require.Equal(t, "RUNNING", s.status)
	require.Equal(t, "kernel-restart-failed", s.info)
	var repr string
	require.NoError(t, r.pool.QueryRow(t.Context(), `SELECT status_data #>> '{error,repr}' FROM sessions WHERE id = $1`, r.sid).Scan(&repr))
	require.Equal(t, "the runtime refused", repr)
	require.Equal(t, "RUNNING", r.kernel(t, r.kid).status)

	// The next restart that succeeds clears the failure.
	r.agent.mu.Lock()
	r.agent.fail = nil
	r.agent.mu.Unlock()
	r.beginRestart(t)
	r.restart(t)
	s = r.session(t, r.sid)
	require.Equal(t, "RUNNING", s.status)
	require.Empty(t, s.info)
	require.EqualValues(t, 2, r.agent.restarts.Load())
}

// A session destroyed while its restart runs is left to its termination.
func TestRestartJobLeavesADestroyedSessionAlone(t *testing.T) {
	r := newRestartEnv(t)
	r.beginRestart(t)
	require.NoError(t, db.InTx(t.Context(), r.pool, func(tx pgx.Tx) error {
		_, err := lifecycle.Session(t.Context(), tx, uuid.MustParse(r.sid), lifecycle.Change{
			From: []string{lifecycle.Restarting}, To: lifecycle.Terminating,
		}, r.clock())
		return err
	}))
	r.restart(t)
	require.Equal(t, "TERMINATING", r.session(t, r.sid).status)
	require.Zero(t, r.agent.restarts.Load())
}

// A schedule pass reads its time (SCHEDULED in the history) while it holds the scaling
// group's lock, not before it takes it.
func TestScheduledTimeReadUnderTheLock(t *testing.T) {
	e := newEnv(t, session.Options{})
	e.insertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	sid, _ := e.insertPendingSession(t, "s1", "1", "1073741824")
	ctx := t.Context()
	// A clock that tells, for each time it gives, whether the lock was held then.
	var mu sync.Mutex
	held := map[time.Time]bool{}
	clock := func() time.Time {
		var n int
		require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND granted
			  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n))
		e.advance(time.Millisecond)
		now := e.clock()
		mu.Lock()
		held[now] = n > 0
		mu.Unlock()
		return now
	}
	client := asynq.NewClient(e.redisOpt)
	t.Cleanup(func() { _ = client.Close() })
	h, err := session.New(&worker.Deps{
		Pool: e.pool, Redis: e.rdb, Enqueuer: jobs.NewEnqueuer(client, e.prefix), Logger: testLogger(), Now: clock,
	}, session.Options{})
	require.NoError(t, err)
	require.NoError(t, h.HandleScheduleScalingGroup(ctx, task(jobs.NewScheduleScalingGroupTask("default", e.clock()))))

	s := e.session(t, sid)
	require.Equal(t, "SCHEDULED", s.status)
	at, err := time.Parse(time.RFC3339Nano, s.history["SCHEDULED"])
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	wasHeld, ok := held[at.UTC()]
	require.True(t, ok, "SCHEDULED %s is not a time the pass read", at)
	require.True(t, wasHeld, "the pass read its time before taking the lock")
}
