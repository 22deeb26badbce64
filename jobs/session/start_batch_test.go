package session_test

import (
	"context"
	"fmt"
	"github.com/hangar-run/hangar/jobs/jobstest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	agentd "github.com/hangar-run/hangar/internal/agent"
	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/jobs"
)

// countingRuntime is a dummy runtime that counts the kernel creations it is asked for. When
// hold is set, its first holdN creations report on entered and wait for hold to close.
type countingRuntime struct {
	*agentd.DummyRuntime
	creates atomic.Int64
	hold    chan struct{}
	holdN   int64
	entered chan struct{}
}

func (r *countingRuntime) CreateKernel(ctx context.Context, cfg *agentrpc.KernelConfig) (*agentrpc.KernelCreated, error) {
	if n := r.creates.Add(1); r.hold != nil && n <= r.holdN {
		r.entered <- struct{}{}
		<-r.hold
	}
	return r.DummyRuntime.CreateKernel(ctx, cfg)
}

// runCountingAgent runs an agent like runAgent whose runtime counts its creations, and
// registers it in the database with 4 CPUs.
func (e *testEnv) runCountingAgent(t *testing.T, id string) *countingRuntime {
	t.Helper()
	cfg, err := agentd.Parse([]byte("[resource]\nslots = { cpu = \"4\", mem = \"8g\" }\n"), agentd.Host{Hostname: id, NumCPU: 4, MemTotal: 8 << 30})
	require.NoError(t, err)
	cfg.Agent.ID = id
	cfg.Agent.RPCListenAddr = config.HostPort{Host: "127.0.0.1", Port: 0}
	rt := &countingRuntime{DummyRuntime: agentd.NewDummyRuntime(nil)}
	a, err := agentd.New(cfg, rt, nopEnqueuer{}, agentd.Options{Logger: testLogger(), Tick: make(chan time.Time)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	e.InsertAgent(t, id, a.ListenAddr(), 4, 8*gib)
	return rt
}

// startBatches returns the start batches queued for e, as a worker would receive them.
func (e *testEnv) startBatches(t *testing.T) []*asynq.Task {
	t.Helper()
	insp := asynq.NewInspector(e.RedisOpt)
	defer insp.Close()
	tasks, err := insp.ListPendingTasks(jobs.QueueName(e.Prefix, jobs.DefaultsOf(jobs.TypeSessionStartBatch).Queue))
	require.NoError(t, err)
	var out []*asynq.Task
	for _, ti := range tasks {
		if ti.Type == jobs.TypeSessionStartBatch {
			out = append(out, asynq.NewTask(ti.Type, ti.Payload))
		}
	}
	return out
}

// placeBatch inserts n sessions of one CPU, runs one schedule pass and returns the sessions
// with their kernels, and the one start batch the pass queued.
func (e *testEnv) placeBatch(t *testing.T, n int) (sids, kids []string, batch *asynq.Task) {
	t.Helper()
	for i := range n {
		sid, kid := e.InsertPendingSession(t, fmt.Sprintf("b%d", i), "1", "1073741824")
		sids = append(sids, sid)
		kids = append(kids, kid)
	}
	e.Schedule(t)
	for _, sid := range sids {
		require.Equal(t, "SCHEDULED", e.Session(t, sid).Status)
	}
	batches := e.startBatches(t)
	require.Len(t, batches, 1, "one start task per pass")
	var p jobs.SessionStartBatchPayload
	require.NoError(t, jobs.Decode(batches[0], &p))
	require.ElementsMatch(t, sids, p.SessionIDs)
	return sids, kids, batches[0]
}

func TestStartBatchStartsAll(t *testing.T) {
	e := newEnv(t, jobstest.Options{RPCTimeout: 5 * time.Second})
	evs := e.Subscribe(t)
	rts := []*countingRuntime{e.runCountingAgent(t, "i-b1"), e.runCountingAgent(t, "i-b2")}
	sids, kids, batch := e.placeBatch(t, 8)

	require.NoError(t, e.H.HandleSessionStartBatch(t.Context(), batch))
	for i, sid := range sids {
		s := e.Session(t, sid)
		require.Equal(t, "RUNNING", s.Status)
		require.Contains(t, s.History, "PREPARING")
		require.Contains(t, s.History, "RUNNING")
		k := e.Kernel(t, kids[i])
		require.Equal(t, "RUNNING", k.Status)
		require.NotEmpty(t, k.ContainerID)
		require.True(t, k.Reserved)
	}
	waitEvents(t, evs, events.SessionStarted, sids)
	require.Equal(t, int64(8), rts[0].creates.Load()+rts[1].creates.Load())
	require.Equal(t, "4", e.Occupied(t, "i-b1")["cpu"])
	require.Equal(t, "4", e.Occupied(t, "i-b2")["cpu"])
	e.RequireConsistent(t)
}

// TestStartBatchDeliveredTwiceStartsOnce: while one delivery of a batch waits on its agent,
// a second delivery of the batch and the tick's single start of one of its sessions start
// nothing; each kernel is created once.
func TestStartBatchDeliveredTwiceStartsOnce(t *testing.T) {
	e := newEnv(t, jobstest.Options{RPCTimeout: 10 * time.Second})
	rt := e.runCountingAgent(t, "i-b1")
	rt.hold, rt.holdN, rt.entered = make(chan struct{}), 4, make(chan struct{}, 4)
	sids, kids, batch := e.placeBatch(t, 4)

	first := make(chan error, 1)
	go func() { first <- e.H.HandleSessionStartBatch(context.Background(), batch) }()
	deadline := time.After(5 * time.Second)
	for range 4 {
		select {
		case <-rt.entered:
		case <-deadline:
			t.Fatal("the first delivery did not call the agent")
		}
	}
	// The first delivery holds the sessions, PREPARING, and waits on the agent.
	for _, sid := range sids {
		require.Equal(t, "PREPARING", e.Session(t, sid).Status)
	}
	require.NoError(t, e.H.HandleSessionStartBatch(t.Context(), batch))
	require.NoError(t, e.H.HandleSessionStart(t.Context(), task(jobs.NewSessionStartTask(sids[0]))))
	require.Equal(t, int64(4), rt.creates.Load(), "the duplicates call no agent")
	close(rt.hold)
	require.NoError(t, <-first)
	// A late redelivery finds nothing to do.
	require.NoError(t, e.H.HandleSessionStartBatch(t.Context(), batch))

	require.Equal(t, int64(4), rt.creates.Load(), "one create call per kernel")
	for i, sid := range sids {
		require.Equal(t, "RUNNING", e.Session(t, sid).Status)
		require.Equal(t, "RUNNING", e.Kernel(t, kids[i]).Status)
	}
	require.Equal(t, "4", e.Occupied(t, "i-b1")["cpu"])
	e.RequireConsistent(t)
}

// TestStartBatchOneAgentFails: the session placed on an unreachable agent ends in ERROR with
// its slots back; the others of the batch run.
func TestStartBatchOneAgentFails(t *testing.T) {
	e := newEnv(t, jobstest.Options{RPCTimeout: 500 * time.Millisecond})
	evs := e.Subscribe(t)
	e.runCountingAgent(t, "i-b1")
	// Nothing listens on port 1; its one CPU takes exactly one session.
	e.InsertAgent(t, "i-gone", "tcp://127.0.0.1:1", 1, 8*gib)
	sids, kids, batch := e.placeBatch(t, 5)
	require.Equal(t, "1", e.Occupied(t, "i-gone")["cpu"])

	require.NoError(t, e.H.HandleSessionStartBatch(t.Context(), batch))
	var failed string
	running := 0
	for i, sid := range sids {
		s := e.Session(t, sid)
		k := e.Kernel(t, kids[i])
		switch k.Agent {
		case "i-gone":
			failed = sid
			require.Equal(t, "ERROR", s.Status)
			require.Equal(t, "failed-to-start", s.Info)
			require.Equal(t, "ERROR", k.Status)
			require.False(t, k.Reserved)
		default:
			running++
			require.Equal(t, "RUNNING", s.Status)
			require.Equal(t, "RUNNING", k.Status)
			require.True(t, k.Reserved)
		}
	}
	require.NotEmpty(t, failed)
	require.Equal(t, 4, running)
	require.Equal(t, "0", e.Occupied(t, "i-gone")["cpu"], "the failed session's slots are back")
	require.Equal(t, "4", e.Occupied(t, "i-b1")["cpu"])
	e.RequireConsistent(t)
	waitEvent(t, evs, events.SessionCancelled, failed)

	// A redelivery releases nothing more and starts nothing again.
	require.NoError(t, e.H.HandleSessionStartBatch(t.Context(), batch))
	require.Equal(t, "0", e.Occupied(t, "i-gone")["cpu"])
	e.RequireConsistent(t)
}

// waitEvents waits for an event named name of each session of sids, in any order.
func waitEvents(t *testing.T, ch <-chan events.Event, name string, sids []string) {
	t.Helper()
	want := map[string]bool{}
	for _, sid := range sids {
		want[sid] = true
	}
	deadline := time.After(5 * time.Second)
	for len(want) > 0 {
		select {
		case ev := <-ch:
			if ev.Name == name {
				delete(want, ev.SessionID)
			}
		case <-deadline:
			t.Fatalf("no %s event for sessions %v", name, want)
		}
	}
}
