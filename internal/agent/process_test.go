package agent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/jobs"
)

var (
	pythonImage = agentrpc.ImageRef{Canonical: "cr.backend.ai/stable/python:3.11-ubuntu22.04",
		Labels: map[string]string{LabelRuntimeType: "python", LabelRuntimePath: "/opt/backend.ai/bin/python"}}
	shellImage = agentrpc.ImageRef{Canonical: "cr.backend.ai/stable/ubuntu:22.04",
		Labels: map[string]string{LabelRuntimeType: "shell"}}
)

// newProcessRuntime returns a ProcessRuntime under a temporary root whose kernels are
// destroyed when the test ends.
func newProcessRuntime(t *testing.T) *ProcessRuntime {
	t.Helper()
	rt, err := NewProcessRuntime(filepath.Join(t.TempDir(), "scratches"), nil)
	require.NoError(t, err)
	rt.SetKillGrace(2 * time.Second)
	t.Cleanup(func() {
		ks, _ := rt.ListKernels(context.Background())
		for _, k := range ks {
			_ = rt.DestroyKernel(context.Background(), k.KernelID)
		}
	})
	return rt
}

// execute runs code in mode query and continues until the run finishes, returning the
// whole console and the exit code.
func execute(ctx context.Context, t *testing.T, rt Runtime, kernelID, code string) ([][2]string, int) {
	t.Helper()
	res, err := rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: kernelID, RunID: "r", Mode: agentrpc.ExecModeQuery, Code: code})
	require.NoError(t, err)
	return finish(ctx, t, rt, kernelID, res)
}

// finish continues res's run until it finishes.
func finish(ctx context.Context, t *testing.T, rt Runtime, kernelID string, res *agentrpc.ExecuteResult) ([][2]string, int) {
	t.Helper()
	console := res.Console
	for res.Status == agentrpc.ExecStatusContinued {
		require.NoError(t, ctx.Err(), "run did not finish before the deadline")
		var err error
		res, err = rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: kernelID, RunID: "r", Mode: agentrpc.ExecModeContinue})
		require.NoError(t, err)
		console = append(console, res.Console...)
	}
	require.Equal(t, agentrpc.ExecStatusFinished, res.Status)
	require.NotNil(t, res.ExitCode)
	return console, *res.ExitCode
}

func text(console [][2]string, stream string) string {
	var b strings.Builder
	for _, c := range console {
		if c[0] == stream {
			b.WriteString(c[1])
		}
	}
	return b.String()
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestProcessPythonQuery(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	kc, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "kp", SessionID: "s1", Image: pythonImage,
		Environ: map[string]string{"GREETING": "hello"}})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(kc.ContainerID, "pgid-"))

	console, exit := execute(ctx, t, rt, "kp", "print(1)")
	require.Equal(t, [][2]string{{"stdout", "1\n"}}, console)
	require.Equal(t, 0, exit)

	_, exit = execute(ctx, t, rt, "kp", "x = 41")
	require.Equal(t, 0, exit)
	console, _ = execute(ctx, t, rt, "kp", "print(x + 1)")
	require.Equal(t, [][2]string{{"stdout", "42\n"}}, console)

	console, exit = execute(ctx, t, rt, "kp", "import sys\nsys.stderr.write('oops\\n')")
	require.Equal(t, [][2]string{{"stderr", "oops\n"}}, console)
	require.Equal(t, 0, exit)

	console, exit = execute(ctx, t, rt, "kp", "print('before')\n1/0")
	require.Equal(t, 1, exit)
	require.Equal(t, "before\n", text(console, "stdout"))
	require.Contains(t, text(console, "stderr"), "ZeroDivisionError")

	console, _ = execute(ctx, t, rt, "kp", "import os\nprint(os.environ['GREETING'], os.environ['BACKENDAI_KERNEL_ID'], os.environ['BACKENDAI_SESSION_ID'], os.getcwd() == os.environ['HOME'])")
	require.Equal(t, "hello kp s1 True\n", text(console, "stdout"))

	// exit() ends the run, not the kernel.
	_, exit = execute(ctx, t, rt, "kp", "raise SystemExit(4)")
	require.Equal(t, 4, exit)
	console, _ = execute(ctx, t, rt, "kp", "print(x)")
	require.Equal(t, "41\n", text(console, "stdout"))

	logs, err := rt.Logs(ctx, "kp")
	require.NoError(t, err)
	require.Contains(t, logs, "before\n")

	_, err = rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "nope", Mode: agentrpc.ExecModeQuery, Code: "1"})
	require.ErrorIs(t, err, ErrKernelNotFound)
}

func TestProcessContinueAndInterrupt(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "ki", SessionID: "s", Image: pythonImage})
	require.NoError(t, err)

	res, err := rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "ki", RunID: "r", Mode: agentrpc.ExecModeQuery,
		Code: "print('spinning', flush=True)\nwhile True: pass", FlushTimeout: 100 * time.Millisecond})
	require.NoError(t, err)
	console := res.Console
	// The loop never ends by itself: every flush answers continued.
	for !strings.HasSuffix(text(console, "stdout"), "\n") {
		require.Equal(t, agentrpc.ExecStatusContinued, res.Status)
		require.NoError(t, ctx.Err())
		res, err = rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "ki", RunID: "r", Mode: agentrpc.ExecModeContinue, FlushTimeout: 100 * time.Millisecond})
		require.NoError(t, err)
		console = append(console, res.Console...)
	}
	require.Equal(t, agentrpc.ExecStatusContinued, res.Status)
	require.Equal(t, "spinning\n", text(console, "stdout"))

	// A second query is refused while the first runs.
	_, err = rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "ki", Mode: agentrpc.ExecModeQuery, Code: "1"})
	var re *agentrpc.RemoteError
	require.ErrorAs(t, err, &re)

	require.NoError(t, rt.Interrupt(ctx, "ki"))
	res, err = rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "ki", RunID: "r", Mode: agentrpc.ExecModeContinue})
	require.NoError(t, err)
	console, exit := finish(ctx, t, rt, "ki", res)
	require.Equal(t, 1, exit)
	require.Contains(t, text(console, "stderr"), "KeyboardInterrupt")

	// The kernel survives the interrupt.
	console, _ = execute(ctx, t, rt, "ki", "print('alive')")
	require.Equal(t, [][2]string{{"stdout", "alive\n"}}, console)
}

func TestProcessShellQuery(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "ks", SessionID: "s", Image: shellImage})
	require.NoError(t, err)
	console, exit := execute(ctx, t, rt, "ks", "echo state > f; echo out; echo err >&2; exit 2")
	require.Equal(t, 2, exit)
	require.Equal(t, "out\n", text(console, "stdout"))
	require.Equal(t, "err\n", text(console, "stderr"))
	console, exit = execute(ctx, t, rt, "ks", "cat f; echo $BACKENDAI_KERNEL_ID")
	require.Equal(t, 0, exit)
	require.Equal(t, [][2]string{{"stdout", "state\nks\n"}}, console)

	// Interrupt ends a running command; the kernel stays.
	res, err := rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "ks", RunID: "r", Mode: agentrpc.ExecModeQuery, Code: "exec tail -f /dev/null", FlushTimeout: time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, agentrpc.ExecStatusContinued, res.Status)
	// The shell takes a SIGINT that arrives before it runs the command as pending, so wait
	// until the command runs.
	k, err := rt.kernel("ks")
	require.NoError(t, err)
	for !groupHas(k.pgid, "tail") {
		require.NoError(t, ctx.Err(), "the command did not start before the deadline")
		runtime.Gosched()
	}
	require.NoError(t, rt.Interrupt(ctx, "ks"))
	_, exit = finish(ctx, t, rt, "ks", res)
	require.Equal(t, 128+int(syscall.SIGINT), exit)
	console, _ = execute(ctx, t, rt, "ks", "echo again")
	require.Equal(t, "again\n", text(console, "stdout"))
}

// groupHas reports whether a live process named comm is in group pgid.
func groupHas(pgid int, comm string) bool {
	found := false
	eachProc(func(p procStatus) {
		if p.pgrp != pgid || p.state == "Z" {
			return
		}
		if b, err := os.ReadFile("/proc/" + p.pid + "/comm"); err == nil && strings.TrimSpace(string(b)) == comm {
			found = true
		}
	})
	return found
}

// groupPid returns the (host) pid of a live process named comm in group pgid, 0 when there
// is none.
func groupPid(pgid int, comm string) int {
	pid := 0
	eachProc(func(p procStatus) {
		if p.pgrp != pgid || p.state == "Z" {
			return
		}
		if b, err := os.ReadFile("/proc/" + p.pid + "/comm"); err == nil && strings.TrimSpace(string(b)) == comm {
			pid, _ = strconv.Atoi(p.pid)
		}
	})
	return pid
}

// alive reports whether pid is a live (non-zombie) process.
func alive(pid int) bool {
	p, ok := readProcStat(strconv.Itoa(pid))
	return ok && p.live()
}

func TestProcessDestroyKillsGroup(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "kd", SessionID: "s", Image: pythonImage})
	require.NoError(t, err)
	console, exit := execute(ctx, t, rt, "kd", "import subprocess\nsubprocess.check_call(['/bin/sh', '-c', 'sleep 1000 >/dev/null 2>&1 &'])")
	require.Equal(t, 0, exit, console)
	k, err := rt.kernel("kd")
	require.NoError(t, err)
	var pid int
	for pid == 0 {
		require.NoError(t, ctx.Err(), "the background child did not start")
		pid = groupPid(k.pgid, "sleep")
	}
	require.True(t, alive(pid))
	dir := filepath.Join(rt.root, "kd")
	require.DirExists(t, dir)

	require.NoError(t, rt.DestroyKernel(ctx, "kd"))
	require.False(t, alive(pid), "the kernel's background child survived")
	require.NoDirExists(t, dir)
	ks, err := rt.ListKernels(ctx)
	require.NoError(t, err)
	require.Empty(t, ks)
	require.ErrorIs(t, rt.DestroyKernel(ctx, "kd"), ErrKernelNotFound)
}

// kernelEvents returns the kernel events among the tasks enqueued so far.
func kernelEvents(t *testing.T, enq *fakeEnqueuer) []jobs.KernelEventPayload {
	t.Helper()
	_, tasks := enq.snapshot()
	var out []jobs.KernelEventPayload
	for _, task := range tasks {
		if task.Type() != jobs.TypeKernelEvent {
			continue
		}
		var p jobs.KernelEventPayload
		require.NoError(t, json.Unmarshal(task.Payload(), &p))
		out = append(out, p)
	}
	return out
}

// waitEvents waits until n kernel events were enqueued.
func waitEvents(ctx context.Context, t *testing.T, enq *fakeEnqueuer, n int) []jobs.KernelEventPayload {
	t.Helper()
	for {
		if evs := kernelEvents(t, enq); len(evs) >= n {
			return evs
		}
		select {
		case <-enq.added:
		case <-ctx.Done():
			t.Fatalf("%d kernel events not enqueued before the deadline: %+v", n, kernelEvents(t, enq))
		}
	}
}

func TestProcessBatchExitEvent(t *testing.T) {
	ctx := testCtx(t)
	enq := newFakeEnqueuer()
	rt := newProcessRuntime(t)
	a, err := New(localConfig(t, "i-batch"), rt, enq, Options{Logger: testLogger(), Tick: make(chan time.Time)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })

	_, err = a.CreateKernels(ctx, &agentrpc.CreateKernelsRequest{SessionID: "sb", Kernels: []agentrpc.KernelConfig{{
		KernelID: "kb", SessionType: agentrpc.SessionTypeBatch, Image: pythonImage,
		StartupCommand: "echo task output; echo task error >&2; exit 3",
	}}})
	require.NoError(t, err)
	// The create reply says the kernel started; the only event is its end.
	evs := waitEvents(ctx, t, enq, 1)
	require.Len(t, evs, 1)
	require.Equal(t, jobs.KernelEventTerminated, evs[0].Event)
	require.Equal(t, "i-batch", evs[0].AgentID)
	require.Equal(t, "sb", evs[0].SessionID)
	require.Equal(t, "kb", evs[0].KernelID)
	require.NotNil(t, evs[0].ExitCode)
	require.Equal(t, 3, *evs[0].ExitCode)
	require.Equal(t, "self-terminated", evs[0].Reason)
	require.False(t, evs[0].Time.IsZero())

	logs, err := a.GetLogs(ctx, &agentrpc.GetLogsRequest{KernelID: "kb"})
	require.NoError(t, err)
	require.Contains(t, logs.Logs, "task output\n")
	require.Contains(t, logs.Logs, "task error\n")

	// Destroying the finished kernel sends no second terminated event.
	require.NoError(t, a.DestroyKernel(ctx, &agentrpc.DestroyKernelRequest{KernelID: "kb", SessionID: "sb"}))
	require.Len(t, kernelEvents(t, enq), 1)

	// A task that succeeds is task-done.
	_, err = a.CreateKernels(ctx, &agentrpc.CreateKernelsRequest{SessionID: "sb2", Kernels: []agentrpc.KernelConfig{{
		KernelID: "kb2", SessionType: agentrpc.SessionTypeBatch, Image: shellImage, StartupCommand: "true",
	}}})
	require.NoError(t, err)
	evs = waitEvents(ctx, t, enq, 2)
	require.Equal(t, jobs.KernelEventTerminated, evs[1].Event)
	require.Equal(t, 0, *evs[1].ExitCode)
	require.Equal(t, "task-done", evs[1].Reason)
}

func TestProcessAgentRPC(t *testing.T) {
	ctx := testCtx(t)
	enq := newFakeEnqueuer()
	rt := newProcessRuntime(t)
	a, err := New(localConfig(t, "i-proc"), rt, enq, Options{Logger: testLogger(), Tick: make(chan time.Time)})
	require.NoError(t, err)
	runAgent(t, a)
	c, err := agentrpc.Dial(a.Addr(), agentrpc.ClientOptions{Logger: testLogger()})
	require.NoError(t, err)
	defer c.Close()

	rep, err := c.CreateKernels(ctx, &agentrpc.CreateKernelsRequest{SessionID: "s1", Kernels: []agentrpc.KernelConfig{
		{KernelID: "k1", Image: pythonImage},
	}})
	require.NoError(t, err)
	require.Len(t, rep.Kernels, 1)
	res, err := c.Execute(ctx, &agentrpc.ExecuteRequest{SessionID: "s1", KernelID: "k1", RunID: "r1", Mode: agentrpc.ExecModeQuery, Code: "print(1)"})
	require.NoError(t, err)
	require.Equal(t, agentrpc.ExecStatusFinished, res.Status)
	require.Equal(t, "r1", res.RunID)
	require.Equal(t, [][2]string{{"stdout", "1\n"}}, res.Console)
	require.Equal(t, 0, *res.ExitCode)

	require.NoError(t, c.UploadFile(ctx, &agentrpc.UploadFileRequest{KernelID: "k1", Path: "in.txt", Data: []byte("abc")}))
	res, err = c.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "k1", RunID: "r2", Mode: agentrpc.ExecModeQuery, Code: "print(open('in.txt').read().upper())"})
	require.NoError(t, err)
	require.Equal(t, [][2]string{{"stdout", "ABC\n"}}, res.Console)
	ls, err := c.ListFiles(ctx, &agentrpc.ListFilesRequest{KernelID: "k1", Path: "."})
	require.NoError(t, err)
	require.Len(t, ls.Files, 1)
	dl, err := c.ReadFile(ctx, &agentrpc.ReadFileRequest{KernelID: "k1", Path: "in.txt"})
	require.NoError(t, err)
	require.Equal(t, "abc", string(dl.Data))
	logs, err := c.GetLogs(ctx, &agentrpc.GetLogsRequest{KernelID: "k1"})
	require.NoError(t, err)
	require.Contains(t, logs.Logs, "ABC\n")
	require.NoError(t, c.InterruptKernel(ctx, &agentrpc.InterruptKernelRequest{KernelID: "k1"}))
	err = c.UploadFile(ctx, &agentrpc.UploadFileRequest{KernelID: "k1", Path: "../x", Data: []byte("x")})
	var re *agentrpc.RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, agentrpc.KindInvalidInput, re.Kind)

	require.NoError(t, c.DestroyKernel(ctx, &agentrpc.DestroyKernelRequest{KernelID: "k1", SessionID: "s1", Reason: "user-requested"}))
	evs := waitEvents(ctx, t, enq, 1)
	require.Len(t, evs, 1)
	require.Equal(t, jobs.KernelEventTerminated, evs[0].Event)
	require.Nil(t, evs[0].ExitCode)
	require.Equal(t, "user-requested", evs[0].Reason)
	require.Equal(t, "s1", evs[0].SessionID)
	_, err = os.Stat(filepath.Join(rt.root, "k1"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestCgroupLimits(t *testing.T) {
	cpu, mem := cgroupLimits(map[string]string{"cpu": "1.5", "mem": "1073741824"})
	require.Equal(t, "150000 100000", cpu)
	require.Equal(t, "1073741824", mem)
	cpu, mem = cgroupLimits(map[string]string{"cuda.shares": "1"})
	require.Empty(t, cpu)
	require.Empty(t, mem)
	// Without a writable cgroup v2 hierarchy the cgroup is empty and its methods no-ops.
	var none kernelCgroup
	none.add(1)
	require.NoError(t, none.remove())
}

func TestProcessCreateErrors(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	var re *agentrpc.RemoteError
	for _, id := range []string{"", "../x", "a/b"} {
		_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: id, Image: shellImage})
		require.ErrorAs(t, err, &re, id)
		require.Equal(t, agentrpc.KindInvalidInput, re.Kind)
	}
	// An image whose interpreter this host lacks is refused.
	t.Setenv("PATH", "")
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "kx", Image: pythonImage})
	require.ErrorAs(t, err, &re)
	require.Contains(t, re.Message, "python3")
	require.NoDirExists(t, filepath.Join(rt.root, "kx"))
	ks, err := rt.ListKernels(ctx)
	require.NoError(t, err)
	require.Empty(t, ks)
}

// TestProcessLeftoversReaped: an agent process that died left a kernel running in its scratch
// root; the next runtime on that root kills the kernel's processes and removes its directory,
// and a second live runtime may not share the root.
func TestProcessLeftoversReaped(t *testing.T) {
	ctx := testCtx(t)
	root := filepath.Join(t.TempDir(), "scratches")
	old, err := NewProcessRuntime(root, nil)
	require.NoError(t, err)
	_, err = old.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "left", SessionID: "s", Image: shellImage,
		StartupCommand: "sleep 600"})
	require.NoError(t, err)
	ks, err := old.ListKernels(ctx)
	require.NoError(t, err)
	require.Len(t, ks, 1)
	pgid, err := strconv.Atoi(strings.TrimPrefix(ks[0].ContainerID, "pgid-"))
	require.NoError(t, err)
	require.True(t, groupAlive(pgid))

	_, err = NewProcessRuntime(root, nil)
	require.ErrorContains(t, err, "in use by another agent process")

	// The old agent process is gone (its lock with it); its kernel is not.
	require.NoError(t, old.Close())
	next, err := NewProcessRuntime(root, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = next.Close() })
	require.Equal(t, []string{"left"}, next.Reaped())
	require.True(t, waitGroupGone(pgid, 10*time.Second), "the leftover kernel's processes are killed")
	_, err = os.Stat(filepath.Join(root, "left"))
	require.ErrorIs(t, err, os.ErrNotExist)
	ks, err = next.ListKernels(ctx)
	require.NoError(t, err)
	require.Empty(t, ks)
}
