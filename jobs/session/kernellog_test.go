package session_test

import (
	"context"
	"github.com/hangar-run/hangar/jobs/jobstest"
	"path/filepath"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	agentd "github.com/hangar-run/hangar/internal/agent"
	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/jobs"
)

// chanEnqueuer hands the tasks an agent enqueues to the test.
type chanEnqueuer chan *asynq.Task

func (c chanEnqueuer) Enqueue(_ context.Context, t *asynq.Task, _ ...asynq.Option) (*asynq.TaskInfo, error) {
	select {
	case c <- t:
	default: // heartbeats nobody reads
	}
	return &asynq.TaskInfo{}, nil
}

// runProcessAgent runs an agent with the process runtime until the test ends; the tasks it
// enqueues (kernel events) arrive on the returned channel.
func runProcessAgent(t *testing.T, id string) (*agentd.Agent, *agentd.ProcessRuntime, <-chan *asynq.Task) {
	t.Helper()
	cfg, err := agentd.Parse([]byte("[resource]\nslots = { cpu = \"4\", mem = \"8g\" }\n"), agentd.Host{Hostname: id, NumCPU: 4, MemTotal: 8 << 30})
	require.NoError(t, err)
	cfg.Agent.ID = id
	cfg.Agent.RPCListenAddr = config.HostPort{Host: "127.0.0.1", Port: 0}
	rt, err := agentd.NewProcessRuntime(filepath.Join(t.TempDir(), "scratches"), nil)
	require.NoError(t, err)
	rt.SetKillGrace(200 * time.Millisecond)
	tasks := make(chanEnqueuer, 64)
	a, err := agentd.New(cfg, rt, tasks, agentd.Options{Logger: testLogger(), Tick: make(chan time.Time)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	t.Cleanup(func() {
		ks, _ := rt.ListKernels(context.Background())
		for _, k := range ks {
			_ = rt.DestroyKernel(context.Background(), k.KernelID)
		}
	})
	return a, rt, tasks
}

func (e *testEnv) containerLog(t *testing.T, kid string) *string {
	t.Helper()
	var b []byte
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT container_log FROM kernels WHERE id = $1`, kid).Scan(&b))
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

func TestTerminateKeepsKernelLog(t *testing.T) {
	e := newEnv(t, jobstest.Options{RPCTimeout: 5 * time.Second})
	a, rt, _ := runProcessAgent(t, "i-proc")
	e.InsertAgent(t, "i-proc", a.ListenAddr(), 4, 8*gib)
	sid, kid := e.InsertPendingSession(t, "s1", "1", "1073741824")
	e.Schedule(t)
	e.Start(t, sid)
	require.Equal(t, "RUNNING", e.Session(t, sid).Status)

	c, err := agentrpc.Dial(a.ListenAddr(), agentrpc.ClientOptions{Logger: testLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	res, err := c.Execute(t.Context(), &agentrpc.ExecuteRequest{SessionID: sid, KernelID: kid, RunID: "r", Mode: agentrpc.ExecModeQuery,
		Code: "print('last words')", FlushTimeout: 10 * time.Second})
	require.NoError(t, err)
	require.Equal(t, agentrpc.ExecStatusFinished, res.Status)
	require.Nil(t, e.containerLog(t, kid))

	require.NoError(t, e.H.HandleSessionTerminate(t.Context(), task(jobs.NewSessionTerminateTask(jobs.SessionTerminatePayload{SessionID: sid, Reason: "user-requested"}))))
	require.Equal(t, "TERMINATED", e.Session(t, sid).Status)
	ks, err := rt.ListKernels(t.Context())
	require.NoError(t, err)
	require.Empty(t, ks, "the kernel is destroyed")
	logs := e.containerLog(t, kid)
	require.NotNil(t, logs)
	require.Contains(t, *logs, "last words\n")
}

func TestSelfTerminatedKernelKeepsLog(t *testing.T) {
	e := newEnv(t, jobstest.Options{RPCTimeout: 5 * time.Second})
	a, _, tasks := runProcessAgent(t, "i-proc")
	e.InsertAgent(t, "i-proc", a.ListenAddr(), 4, 8*gib)
	sid, kid := e.InsertPendingSession(t, "batch", "1", "1073741824")
	_, err := e.Pool.Exec(t.Context(), `UPDATE kernels SET session_type = 'BATCH', startup_command = 'echo batch output; exit 0' WHERE id = $1`, kid)
	require.NoError(t, err)
	_, err = e.Pool.Exec(t.Context(), `UPDATE sessions SET session_type = 'BATCH' WHERE id = $1`, sid)
	require.NoError(t, err)
	e.Schedule(t)
	e.Start(t, sid)

	// Wait for the agent's report of the batch command's exit, and apply it.
	deadline := time.After(30 * time.Second)
	for {
		var tk *asynq.Task
		select {
		case tk = <-tasks:
		case <-deadline:
			t.Fatal("the agent reported no exit of the batch kernel")
		}
		if tk.Type() != jobs.TypeKernelEvent {
			continue
		}
		var p jobs.KernelEventPayload
		require.NoError(t, jobs.Decode(tk, &p))
		if p.Event != jobs.KernelEventTerminated {
			continue
		}
		require.NotNil(t, p.ExitCode)
		require.NoError(t, e.H.HandleKernelEvent(t.Context(), task(tk, nil)))
		break
	}
	s := e.Session(t, sid)
	require.Equal(t, "TERMINATED", s.Status)
	require.Equal(t, "SUCCESS", s.Result)
	logs := e.containerLog(t, kid)
	require.NotNil(t, logs)
	require.Contains(t, *logs, "batch output\n")
}
