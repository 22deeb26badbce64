package agent

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/jobs"
)

func TestProcessRestartKeepsFilesLosesState(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	exits := make(chan KernelExit, 4)
	rt.SetExitHandler(func(e KernelExit) { exits <- e })
	before, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "kr", SessionID: "s", Image: pythonImage,
		Environ: map[string]string{"GREETING": "hi"}})
	require.NoError(t, err)

	_, exit := execute(ctx, t, rt, "kr", "x = 41\nopen('kept.txt', 'w').write('data')\nprint('first life')")
	require.Equal(t, 0, exit)

	after, err := rt.RestartKernel(ctx, "kr", nil)
	require.NoError(t, err)
	require.Equal(t, "kr", after.KernelID)
	require.NotEqual(t, before.ContainerID, after.ContainerID, "a new process group runs the kernel")

	console, exit := execute(ctx, t, rt, "kr", "print(open('kept.txt').read())\nimport os\nprint(os.environ['GREETING'])")
	require.Equal(t, 0, exit)
	require.Equal(t, "data\nhi\n", text(console, "stdout"))
	console, exit = execute(ctx, t, rt, "kr", "print(x)")
	require.Equal(t, 1, exit)
	require.Contains(t, text(console, "stderr"), "NameError")

	logs, err := rt.Logs(ctx, "kr")
	require.NoError(t, err)
	require.Contains(t, logs, "first life\n", "the log survives the restart")

	ks, err := rt.ListKernels(ctx)
	require.NoError(t, err)
	require.Len(t, ks, 1)
	select {
	case e := <-exits:
		t.Fatalf("the restart was reported as the kernel's exit: %+v", e)
	default:
	}

	_, err = rt.RestartKernel(ctx, "nope", nil)
	require.ErrorIs(t, err, ErrKernelNotFound)
	require.NoError(t, rt.DestroyKernel(ctx, "kr"))
	_, err = rt.RestartKernel(ctx, "kr", nil)
	require.ErrorIs(t, err, ErrKernelNotFound)
}

func TestProcessRestartEndsRunningQuery(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "kb", SessionID: "s", Image: pythonImage})
	require.NoError(t, err)
	res, err := rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "kb", RunID: "r", Mode: agentrpc.ExecModeQuery,
		Code: "import time\nwhile True: time.sleep(0.05)", FlushTimeout: 50 * time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, agentrpc.ExecStatusContinued, res.Status)

	_, err = rt.RestartKernel(ctx, "kb", nil)
	require.NoError(t, err)
	console, exit := execute(ctx, t, rt, "kb", "print('again')")
	require.Equal(t, 0, exit)
	require.Equal(t, "again\n", text(console, "stdout"))
}

func TestProcessRestartShellKeepsFiles(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "ks", SessionID: "s", Image: shellImage})
	require.NoError(t, err)
	_, exit := execute(ctx, t, rt, "ks", "echo kept > f.txt")
	require.Equal(t, 0, exit)
	_, err = rt.RestartKernel(ctx, "ks", nil)
	require.NoError(t, err)
	console, exit := execute(ctx, t, rt, "ks", "cat f.txt")
	require.Equal(t, 0, exit)
	require.Equal(t, "kept\n", text(console, "stdout"))
}

func TestAgentRestartKernelRPC(t *testing.T) {
	ctx := testCtx(t)
	enq := newFakeEnqueuer()
	rt := NewDummyRuntime(nil)
	a, err := New(localConfig(t, "i-restart"), rt, enq, Options{Logger: testLogger(), Tick: make(chan time.Time)})
	require.NoError(t, err)
	runAgent(t, a)
	c, err := agentrpc.Dial(a.ListenAddr(), agentrpc.ClientOptions{Logger: testLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })

	_, err = c.CreateKernels(ctx, &agentrpc.CreateKernelsRequest{SessionID: "s",
		Kernels: []agentrpc.KernelConfig{{KernelID: "k1", SessionID: "s"}}})
	require.NoError(t, err)
	enq.waitTries(ctx, t, 1) // the first heartbeat (a create sends no event)
	tries, _ := enq.snapshot()

	k, err := c.RestartKernel(ctx, &agentrpc.RestartKernelRequest{SessionID: "s", KernelID: "k1"})
	require.NoError(t, err)
	require.Equal(t, "k1", k.KernelID)
	require.Equal(t, a.Addr(), k.AgentAddr)

	_, err = c.RestartKernel(ctx, &agentrpc.RestartKernelRequest{SessionID: "s", KernelID: "missing"})
	var re *agentrpc.RemoteError
	require.True(t, errors.As(err, &re), "err: %v", err)
	require.Equal(t, agentrpc.KindNotFound, re.Kind)

	// A restart sends no kernel event.
	after, tasks := enq.snapshot()
	require.Equal(t, tries, after, "a restart enqueues nothing")
	for _, tk := range tasks {
		require.NotEqual(t, jobs.TypeKernelEvent, tk.Type())
	}
}
