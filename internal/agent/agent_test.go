package agent

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/jobs"
)

func testLogger() *slog.Logger {
	if os.Getenv("HANGAR_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fakeEnqueuer records the tasks enqueued and fails while fail is set.
type fakeEnqueuer struct {
	mu    sync.Mutex
	fail  bool
	tries int
	tasks []*asynq.Task
	added chan struct{}
}

func newFakeEnqueuer() *fakeEnqueuer { return &fakeEnqueuer{added: make(chan struct{}, 100)} }

func (f *fakeEnqueuer) Enqueue(_ context.Context, t *asynq.Task, _ ...asynq.Option) (*asynq.TaskInfo, error) {
	f.mu.Lock()
	defer func() {
		f.mu.Unlock()
		f.added <- struct{}{}
	}()
	f.tries++
	if f.fail {
		return nil, errors.New("redis is down")
	}
	f.tasks = append(f.tasks, t)
	return &asynq.TaskInfo{}, nil
}

func (f *fakeEnqueuer) setFail(v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = v
}

func (f *fakeEnqueuer) snapshot() (int, []*asynq.Task) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tries, append([]*asynq.Task(nil), f.tasks...)
}

// waitTries waits until the enqueuer has been called n times in all.
func (f *fakeEnqueuer) waitTries(ctx context.Context, t *testing.T, n int) {
	t.Helper()
	for {
		if tries, _ := f.snapshot(); tries >= n {
			return
		}
		select {
		case <-f.added:
		case <-ctx.Done():
			t.Fatalf("enqueuer not called %d times before the deadline", n)
		}
	}
}

func localConfig(t *testing.T, id string) *Config {
	t.Helper()
	cfg, err := Parse([]byte("[resource]\nslots = { cpu = \"4\", mem = \"8g\" }\n"), testHost(nil))
	require.NoError(t, err)
	cfg.Agent.ID = id
	cfg.Agent.RPCListenAddr = config.HostPort{Host: "127.0.0.1", Port: 0}
	return cfg
}

// runAgent runs a until the test ends.
func runAgent(t *testing.T, a *Agent) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

// clock returns a clock that advances by one second per call, from start.
func clock(start time.Time) func() time.Time {
	var mu sync.Mutex
	now := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
}

func TestAgentRPC(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	enq := newFakeEnqueuer()
	// The clock moves on before the sync, so that the kernels are older than SyncKeepYounger.
	base := time.Now()
	var offset atomic.Int64
	now := func() time.Time { return base.Add(time.Duration(offset.Load())) }
	a, err := New(localConfig(t, "i-rpc"), NewDummyRuntime(now), enq, Options{Logger: testLogger(), Tick: make(chan time.Time), Now: now})
	require.NoError(t, err)
	require.Regexp(t, `^tcp://127\.0\.0\.1:\d+$`, a.Addr())
	runAgent(t, a)

	c, err := agentrpc.Dial(a.Addr(), agentrpc.ClientOptions{Logger: testLogger()})
	require.NoError(t, err)
	defer c.Close()

	pong, err := c.Ping(ctx, &agentrpc.PingRequest{Payload: "hello"})
	require.NoError(t, err)
	require.Equal(t, "hello", pong.Payload)
	require.Equal(t, "i-rpc", pong.AgentID)

	rep, err := c.CreateKernels(ctx, &agentrpc.CreateKernelsRequest{
		SessionID: "s1",
		Kernels: []agentrpc.KernelConfig{
			{KernelID: "k1", ResourceSlots: map[string]string{"cpu": "1"}},
			{KernelID: "k2"},
			{KernelID: "k3"},
		},
	})
	require.NoError(t, err)
	require.Len(t, rep.Kernels, 3)
	require.Equal(t, "k1", rep.Kernels[0].KernelID)
	require.Equal(t, a.Addr(), rep.Kernels[0].AgentAddr)
	require.Equal(t, "default", rep.Kernels[0].ScalingGroup)

	res, err := c.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "k1", RunID: "r", Mode: agentrpc.ExecModeQuery})
	require.NoError(t, err)
	require.Equal(t, agentrpc.ExecStatusFinished, res.Status)

	require.NoError(t, c.DestroyKernel(ctx, &agentrpc.DestroyKernelRequest{KernelID: "k2", SessionID: "s1"}))
	err = c.DestroyKernel(ctx, &agentrpc.DestroyKernelRequest{KernelID: "k2", SessionID: "s1"})
	var re *agentrpc.RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, agentrpc.KindNotFound, re.Kind)

	// The manager knows k1 and k9; k3 is unknown to it and gets destroyed. k4 is unknown too,
	// but so young that the manager's list may predate it: it stays.
	offset.Store(int64(2 * SyncKeepYounger))
	_, err = c.CreateKernels(ctx, &agentrpc.CreateKernelsRequest{SessionID: "s4", Kernels: []agentrpc.KernelConfig{{KernelID: "k4"}}})
	require.NoError(t, err)
	sync, err := c.SyncKernels(ctx, &agentrpc.SyncKernelsRequest{Kernels: []agentrpc.KernelRef{
		{KernelID: "k1", SessionID: "s1"}, {KernelID: "k9", SessionID: "s1"},
	}})
	require.NoError(t, err)
	require.Equal(t, []string{"k1"}, sync.Alive)
	require.Equal(t, []string{"k9"}, sync.Missing)
	require.Equal(t, []string{"k3"}, sync.Unknown)
	ks, err := a.Runtime().ListKernels(ctx)
	require.NoError(t, err)
	require.Len(t, ks, 2)
	ids := []string{ks[0].KernelID, ks[1].KernelID}
	slices.Sort(ids)
	require.Equal(t, []string{"k1", "k4"}, ids)
	require.NoError(t, a.Runtime().DestroyKernel(ctx, "k4"))

	logs, err := c.GetLogs(ctx, &agentrpc.GetLogsRequest{KernelID: "k1"})
	require.NoError(t, err)
	require.Empty(t, logs.Logs)
	err = c.InterruptKernel(ctx, &agentrpc.InterruptKernelRequest{KernelID: "k1"})
	require.ErrorAs(t, err, &re)
	require.Equal(t, agentrpc.KindUnknownMethod, re.Kind)
	require.Contains(t, re.Message, "dummy runtime")
	_, err = c.ListFiles(ctx, &agentrpc.ListFilesRequest{KernelID: "k9"})
	require.ErrorAs(t, err, &re)
	require.Equal(t, agentrpc.KindNotFound, re.Kind)
}

func TestAgentHeartbeats(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	enq := newFakeEnqueuer()
	enq.setFail(true)
	tick := make(chan time.Time)
	start := time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC)
	rt := NewDummyRuntime(nil)
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "k1"})
	require.NoError(t, err)
	a, err := New(localConfig(t, "i-hb"), rt, enq, Options{Logger: testLogger(), Tick: tick, Now: clock(start), Version: "test"})
	require.NoError(t, err)
	runAgent(t, a)

	// The first heartbeat, sent at start, fails; the RPC keeps answering.
	enq.waitTries(ctx, t, 1)
	c, err := agentrpc.Dial(a.Addr(), agentrpc.ClientOptions{Logger: testLogger()})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Ping(ctx, &agentrpc.PingRequest{})
	require.NoError(t, err)
	_, tasks := enq.snapshot()
	require.Empty(t, tasks)

	// The next tick retries and succeeds.
	enq.setFail(false)
	select {
	case tick <- time.Now():
	case <-ctx.Done():
		t.Fatal("tick not taken")
	}
	enq.waitTries(ctx, t, 2)
	_, tasks = enq.snapshot()
	require.Len(t, tasks, 1)
	require.Equal(t, jobs.TypeAgentHeartbeat, tasks[0].Type())
	var p jobs.AgentHeartbeatPayload
	require.NoError(t, jobs.Decode(tasks[0], &p))
	require.Equal(t, jobs.AgentHeartbeatPayload{
		AgentID:      "i-hb",
		Addr:         a.Addr(),
		Region:       "local",
		ScalingGroup: "default",
		Architecture: Architecture(runtime.GOARCH),
		Version:      "test",
		Slots: map[string]jobs.AgentSlot{
			"cpu": {Type: "count", Amount: "4"},
			"mem": {Type: "bytes", Amount: "8589934592"},
		},
		KernelIDs: []string{"k1"},
		Time:      start.Add(2 * time.Second),
	}, p)
}

func TestArchitecture(t *testing.T) {
	require.Equal(t, "x86_64", Architecture("amd64"))
	require.Equal(t, "aarch64", Architecture("arm64"))
	require.Equal(t, "riscv64", Architecture("riscv64"))
}

func TestSimulatePorts(t *testing.T) {
	cfg := localConfig(t, "i-sim")
	cfg.Agent.RPCListenAddr.Port = freePortRange(t, 3)
	sim, err := Simulate(cfg, 3, newFakeEnqueuer(), Options{Logger: testLogger()})
	require.NoError(t, err)
	defer sim.Close()
	require.Len(t, sim.Agents(), 3)
	for k, a := range sim.Agents() {
		require.Equal(t, "i-sim-sim-"+string(rune('1'+k)), a.ID())
		port, err := endpointPort(a.Addr())
		require.NoError(t, err)
		require.Equal(t, cfg.Agent.RPCListenAddr.Port+k, port)
	}
	_, err = Simulate(cfg, 0, newFakeEnqueuer(), Options{})
	require.Error(t, err)
}
