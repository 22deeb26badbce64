package agent

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/agentrpc"
)

// call runs one execute call and fails t on an error.
func call(ctx context.Context, t *testing.T, rt Runtime, req *agentrpc.ExecuteRequest) *agentrpc.ExecuteResult {
	t.Helper()
	if req.RunID == "" {
		req.RunID = "r"
	}
	res, err := rt.Execute(ctx, req)
	require.NoError(t, err)
	require.Equal(t, req.RunID, res.RunID)
	return res
}

// settle continues res's run while it answers "continued" and returns the first other
// answer, its console holding everything gathered since res (res's included).
func settle(ctx context.Context, t *testing.T, rt Runtime, kernelID string, res *agentrpc.ExecuteResult) *agentrpc.ExecuteResult {
	t.Helper()
	console := res.Console
	for res.Status == agentrpc.ExecStatusContinued {
		require.NoError(t, ctx.Err(), "the run did not move on before the deadline")
		res = call(ctx, t, rt, &agentrpc.ExecuteRequest{KernelID: kernelID, Mode: agentrpc.ExecModeContinue})
		console = append(console, res.Console...)
	}
	out := *res
	out.Console = console
	return &out
}

// phase is what one phase of a batch run answered.
type phase struct {
	status string
	exit   int
	stdout string
	stderr string
}

// batch starts a batch run with opts and follows it to its end, one phase per answer.
func batch(ctx context.Context, t *testing.T, rt Runtime, kernelID string, opts map[string]any) []phase {
	t.Helper()
	res := call(ctx, t, rt, &agentrpc.ExecuteRequest{KernelID: kernelID, Mode: agentrpc.ExecModeBatch, Options: opts})
	var out []phase
	for {
		res = settle(ctx, t, rt, kernelID, res)
		require.NotNil(t, res.ExitCode, "status %s", res.Status)
		out = append(out, phase{res.Status, *res.ExitCode, text(res.Console, "stdout"), text(res.Console, "stderr")})
		if res.Status == agentrpc.ExecStatusFinished {
			return out
		}
		require.Contains(t, []string{agentrpc.ExecStatusCleanFinished, agentrpc.ExecStatusBuildFinished}, res.Status)
		res = call(ctx, t, rt, &agentrpc.ExecuteRequest{KernelID: kernelID, Mode: agentrpc.ExecModeContinue})
	}
}

func TestProcessBatch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		image agentrpc.ImageRef
		query string
	}{
		{"shell", shellImage, "echo still here"},
		{"python", pythonImage, "print('still here')"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			rt := newProcessRuntime(t)
			_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "kb", SessionID: "s", Image: tc.image,
				Environ: map[string]string{"GREETING": "hello"}})
			require.NoError(t, err)
			require.NoError(t, rt.UploadFile(ctx, "kb", "stale.o", []byte("old")))

			phases := batch(ctx, t, rt, "kb", map[string]any{
				"clean":    "rm stale.o && echo cleaned",
				"build":    "echo built > prog.out; echo building; echo warning >&2",
				"exec":     `cat prog.out; echo "$GREETING $BACKENDAI_KERNEL_ID $(pwd)"; cut -d' ' -f5 /proc/$$/stat; test ! -e stale.o; exit 3`,
				"buildLog": true,
			})
			require.Equal(t, []phase{
				{agentrpc.ExecStatusCleanFinished, 0, "cleaned\n", ""},
				{agentrpc.ExecStatusBuildFinished, 0, "building\n", "warning\n"},
				// In its sandbox the kernel works in /home/work, and its process group is that
				// of the sandbox's init, pid 1 there.
				{agentrpc.ExecStatusFinished, 3, "built\nhello kb " + sandboxWorkDir + "\n1\n", ""},
			}, phases)

			logs, err := rt.Logs(ctx, "kb")
			require.NoError(t, err)
			require.Contains(t, logs, "building\n")
			require.Contains(t, logs, "warning\n")

			// A clean or build that fails ends the run.
			require.Equal(t, []phase{{agentrpc.ExecStatusFinished, 2, "compiling\n", ""}},
				batch(ctx, t, rt, "kb", map[string]any{"build": "echo compiling; exit 2", "exec": "echo never"}))
			require.Equal(t, []phase{{agentrpc.ExecStatusFinished, 1, "", ""}},
				batch(ctx, t, rt, "kb", map[string]any{"clean": "false", "build": "echo never", "exec": "echo never"}))

			// Empty and absent phases are skipped; without exec the last phase ends the run.
			require.Equal(t, []phase{{agentrpc.ExecStatusFinished, 0, "only\n", ""}},
				batch(ctx, t, rt, "kb", map[string]any{"clean": "", "build": nil, "exec": "echo only"}))
			require.Equal(t, []phase{
				{agentrpc.ExecStatusCleanFinished, 0, "c\n", ""},
				{agentrpc.ExecStatusFinished, 0, "b\n", ""},
			}, batch(ctx, t, rt, "kb", map[string]any{"clean": "echo c", "build": "echo b"}))
			require.Equal(t, []phase{{agentrpc.ExecStatusFinished, 0, "", ""}}, batch(ctx, t, rt, "kb", nil))

			// The kernel still answers queries.
			console, exit := execute(ctx, t, rt, "kb", tc.query)
			require.Equal(t, 0, exit)
			require.Equal(t, "still here\n", text(console, "stdout"))

			_, err = rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "kb", Mode: agentrpc.ExecModeBatch, Options: map[string]any{"exec": 1}})
			var re *agentrpc.RemoteError
			require.ErrorAs(t, err, &re)
			require.Equal(t, agentrpc.KindInvalidInput, re.Kind)
		})
	}
}

func TestProcessBatchDefaults(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	for id, img := range map[string]agentrpc.ImageRef{"kp": pythonImage, "ks": shellImage} {
		_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: id, SessionID: "s", Image: img})
		require.NoError(t, err)
	}
	require.NoError(t, rt.UploadFile(ctx, "kp", "main.py", []byte("import sys\nprint('main.py ran', sys.argv[0])\nsys.exit(5)\n")))
	require.NoError(t, rt.UploadFile(ctx, "ks", "main.sh", []byte("echo main.sh ran\nexit 6\n")))

	// build "*" has nothing to do; exec "*" runs main.py with the kernel's Python, main.sh
	// with the shell.
	require.Equal(t, []phase{
		{agentrpc.ExecStatusBuildFinished, 0, "", ""},
		{agentrpc.ExecStatusFinished, 5, "main.py ran main.py\n", ""},
	}, batch(ctx, t, rt, "kp", map[string]any{"build": "*", "exec": "*"}))
	require.Equal(t, []phase{{agentrpc.ExecStatusFinished, 6, "main.sh ran\n", ""}},
		batch(ctx, t, rt, "ks", map[string]any{"clean": "", "exec": "*"}))
}

func TestProcessBatchLongRunning(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "kl", SessionID: "s", Image: pythonImage})
	require.NoError(t, err)
	k, err := rt.kernel("kl")
	require.NoError(t, err)

	res := call(ctx, t, rt, &agentrpc.ExecuteRequest{KernelID: "kl", Mode: agentrpc.ExecModeBatch, FlushTimeout: 20 * time.Millisecond,
		Options: map[string]any{"build": "echo ready", "exec": "echo started; exec tail -f /dev/null"}})
	res = settle(ctx, t, rt, "kl", res)
	require.Equal(t, agentrpc.ExecStatusBuildFinished, res.Status)
	require.Equal(t, "ready\n", text(res.Console, "stdout"))

	// The exec phase flushes like a query: "continued" while it runs.
	var console [][2]string
	for !strings.Contains(text(console, "stdout"), "started\n") || !groupHas(k.pgid, "tail") {
		require.NoError(t, ctx.Err(), "the exec phase did not start before the deadline")
		res = call(ctx, t, rt, &agentrpc.ExecuteRequest{KernelID: "kl", Mode: agentrpc.ExecModeContinue, FlushTimeout: 20 * time.Millisecond})
		require.Equal(t, agentrpc.ExecStatusContinued, res.Status)
		console = append(console, res.Console...)
	}

	// Neither a query nor another batch starts while the batch runs.
	var re *agentrpc.RemoteError
	for _, mode := range []string{agentrpc.ExecModeQuery, agentrpc.ExecModeBatch} {
		_, err = rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "kl", Mode: mode, Code: "1", Options: map[string]any{"exec": "true"}})
		require.ErrorAs(t, err, &re, mode)
		require.Equal(t, agentrpc.KindInvalidInput, re.Kind)
		require.Contains(t, re.Message, "still running")
	}
	// Nor does it wait for input.
	_, err = rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "kl", RunID: "r", Mode: agentrpc.ExecModeInput, Code: "x"})
	require.ErrorAs(t, err, &re)
	require.Equal(t, agentrpc.KindInvalidInput, re.Kind)

	// An interrupt ends the phase and so the run.
	require.NoError(t, rt.Interrupt(ctx, "kl"))
	res = settle(ctx, t, rt, "kl", call(ctx, t, rt, &agentrpc.ExecuteRequest{KernelID: "kl", Mode: agentrpc.ExecModeContinue}))
	require.Equal(t, agentrpc.ExecStatusFinished, res.Status)
	require.Equal(t, 128+2, *res.ExitCode)
	console, exit := execute(ctx, t, rt, "kl", "print('after')")
	require.Equal(t, 0, exit)
	require.Equal(t, "after\n", text(console, "stdout"))
}

func TestProcessBatchDestroyed(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "kd", SessionID: "s", Image: shellImage})
	require.NoError(t, err)
	k, err := rt.kernel("kd")
	require.NoError(t, err)
	res := call(ctx, t, rt, &agentrpc.ExecuteRequest{KernelID: "kd", Mode: agentrpc.ExecModeBatch, FlushTimeout: time.Millisecond,
		Options: map[string]any{"build": "exec tail -f /dev/null", "exec": "echo never"}})
	require.Equal(t, agentrpc.ExecStatusContinued, res.Status)
	// (The shell kernel's group leader is a sleep: look for the build's own command.)
	for !groupHas(k.pgid, "tail") {
		require.NoError(t, ctx.Err(), "the build did not start before the deadline")
		runtime.Gosched()
	}
	// Destroying the kernel kills the phase and starts no other.
	require.NoError(t, rt.DestroyKernel(ctx, "kd"))
	require.False(t, groupAlive(k.pgid))
	k.mu.Lock()
	cur := k.cur
	k.mu.Unlock()
	cur.mu.Lock()
	done, exit := cur.done, cur.exit
	cur.mu.Unlock()
	require.True(t, done)
	require.Equal(t, 128+15, exit)
}

// waitingInput runs code in mode query until it asks for input, and returns that answer.
func waitingInput(ctx context.Context, t *testing.T, rt Runtime, kernelID, code string) *agentrpc.ExecuteResult {
	t.Helper()
	// A long flush timeout: the answer must come when the prompt is written, not after it.
	res := call(ctx, t, rt, &agentrpc.ExecuteRequest{KernelID: kernelID, Mode: agentrpc.ExecModeQuery, Code: code, FlushTimeout: time.Hour})
	require.Equal(t, agentrpc.ExecStatusWaitingInput, res.Status, "console %v", res.Console)
	require.Nil(t, res.ExitCode)
	return res
}

// follow continues the run until stop accepts an answer and the console gathered so far,
// and returns both.
func follow(ctx context.Context, t *testing.T, rt Runtime, kernelID string, stop func(*agentrpc.ExecuteResult, [][2]string) bool) (*agentrpc.ExecuteResult, [][2]string) {
	t.Helper()
	var console [][2]string
	for {
		require.NoError(t, ctx.Err(), "the run did not get there before the deadline: %v", console)
		res := call(ctx, t, rt, &agentrpc.ExecuteRequest{KernelID: kernelID, Mode: agentrpc.ExecModeContinue, FlushTimeout: 100 * time.Millisecond})
		console = append(console, res.Console...)
		if stop(res, console) {
			return res, console
		}
	}
}

// answer sends text as the input of the waiting run and returns the next answer other than
// "continued".
func answer(ctx context.Context, t *testing.T, rt Runtime, kernelID, text string) *agentrpc.ExecuteResult {
	t.Helper()
	res := call(ctx, t, rt, &agentrpc.ExecuteRequest{KernelID: kernelID, Mode: agentrpc.ExecModeInput, Code: text, FlushTimeout: time.Hour})
	return settle(ctx, t, rt, kernelID, res)
}

func TestProcessInput(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "kn", SessionID: "s", Image: pythonImage})
	require.NoError(t, err)

	res := waitingInput(ctx, t, rt, "kn", "print('asking')\nname = input('Name? ')\nprint('hi', name)\nage = input()\nprint(int(age) + 1)")
	require.Equal(t, [][2]string{{"stdout", "asking\nName? "}}, res.Console)
	require.Equal(t, map[string]any{"is_password": false}, res.Options)
	// Continuing a run that waits for input answers waiting-input again.
	res = call(ctx, t, rt, &agentrpc.ExecuteRequest{KernelID: "kn", Mode: agentrpc.ExecModeContinue, FlushTimeout: time.Hour})
	require.Equal(t, agentrpc.ExecStatusWaitingInput, res.Status)
	require.Equal(t, [][2]string{}, res.Console)

	res = answer(ctx, t, rt, "kn", "Bob")
	require.Equal(t, agentrpc.ExecStatusWaitingInput, res.Status)
	require.Equal(t, [][2]string{{"stdout", "hi Bob\n"}}, res.Console)
	// input() drops the line's newline.
	res = answer(ctx, t, rt, "kn", "41\n")
	require.Equal(t, agentrpc.ExecStatusFinished, res.Status)
	require.Equal(t, 0, *res.ExitCode)
	require.Equal(t, [][2]string{{"stdout", "42\n"}}, res.Console)
	// The variables stay.
	console, _ := execute(ctx, t, rt, "kn", "print(name, age)")
	require.Equal(t, "Bob 41\n", text(console, "stdout"))

	// getpass asks for a password.
	res = waitingInput(ctx, t, rt, "kn", "import getpass\npw = getpass.getpass()\nfrom getpass import getpass\npw2 = getpass('Again: ')\nprint(len(pw), pw == pw2)")
	require.Equal(t, [][2]string{{"stdout", "Password: "}}, res.Console)
	require.Equal(t, map[string]any{"is_password": true}, res.Options)
	res = answer(ctx, t, rt, "kn", "secret")
	require.Equal(t, agentrpc.ExecStatusWaitingInput, res.Status)
	require.Equal(t, [][2]string{{"stdout", "Again: "}}, res.Console)
	require.Equal(t, map[string]any{"is_password": true}, res.Options)
	res = answer(ctx, t, rt, "kn", "secret")
	require.Equal(t, agentrpc.ExecStatusFinished, res.Status)
	require.Equal(t, "6 True\n", text(res.Console, "stdout"))

	// Input is refused when no run waits for it: after a run, during one, in a shell kernel.
	var re *agentrpc.RemoteError
	_, err = rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "kn", RunID: "r", Mode: agentrpc.ExecModeInput, Code: "x"})
	require.ErrorAs(t, err, &re)
	require.Equal(t, agentrpc.KindInvalidInput, re.Kind)
	res = call(ctx, t, rt, &agentrpc.ExecuteRequest{KernelID: "kn", Mode: agentrpc.ExecModeQuery,
		Code: "import time\nprint('go', flush=True)\nwhile True: time.sleep(0.01)", FlushTimeout: time.Millisecond})
	// Once the code runs (it printed), it takes interrupts.
	for running := res.Console; text(running, "stdout") != "go\n"; running = append(running, res.Console...) {
		require.NoError(t, ctx.Err(), "the code did not print before the deadline")
		require.Equal(t, agentrpc.ExecStatusContinued, res.Status)
		res = call(ctx, t, rt, &agentrpc.ExecuteRequest{KernelID: "kn", Mode: agentrpc.ExecModeContinue, FlushTimeout: 100 * time.Millisecond})
	}
	_, err = rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "kn", RunID: "r", Mode: agentrpc.ExecModeInput, Code: "x"})
	require.ErrorAs(t, err, &re)
	require.Equal(t, agentrpc.KindInvalidInput, re.Kind)
	require.NoError(t, rt.Interrupt(ctx, "kn"))
	res, _ = follow(ctx, t, rt, "kn", func(res *agentrpc.ExecuteResult, _ [][2]string) bool {
		return res.Status == agentrpc.ExecStatusFinished
	})
	require.Equal(t, 1, *res.ExitCode)

	_, err = rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "ks", SessionID: "s", Image: shellImage})
	require.NoError(t, err)
	// A shell command reads /dev/null: read gets end of file at once.
	console, exit := execute(ctx, t, rt, "ks", "read line; echo $?")
	require.Equal(t, 0, exit)
	require.Equal(t, "1\n", text(console, "stdout"))
	_, err = rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "ks", RunID: "r", Mode: agentrpc.ExecModeInput, Code: "x"})
	require.ErrorAs(t, err, &re)
	require.Equal(t, agentrpc.KindInvalidInput, re.Kind)
}

func TestProcessInputInterrupt(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "ki", SessionID: "s", Image: pythonImage})
	require.NoError(t, err)

	// An interrupt while waiting ends the run with KeyboardInterrupt. (Until the interpreter
	// takes the interrupt, the run still answers waiting-input.)
	waitingInput(ctx, t, rt, "ki", "x = input('x? ')")
	require.NoError(t, rt.Interrupt(ctx, "ki"))
	res, console := follow(ctx, t, rt, "ki", func(res *agentrpc.ExecuteResult, _ [][2]string) bool {
		return res.Status == agentrpc.ExecStatusFinished
	})
	require.Equal(t, 1, *res.ExitCode)
	require.Contains(t, text(console, "stderr"), "KeyboardInterrupt")
	// The late answer is refused, and the kernel goes on.
	_, err = rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "ki", RunID: "r", Mode: agentrpc.ExecModeInput, Code: "late"})
	var re *agentrpc.RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, agentrpc.KindInvalidInput, re.Kind)
	console, exit := execute(ctx, t, rt, "ki", "print('alive')")
	require.Equal(t, 0, exit)
	require.Equal(t, [][2]string{{"stdout", "alive\n"}}, console)

	// Code that catches the interrupt may ask again; the next answer goes to the new prompt.
	for i := range 3 {
		waitingInput(ctx, t, rt, "ki", "try:\n    input('a? ')\nexcept KeyboardInterrupt:\n    print('caught')\nprint('got', input('b? '))")
		require.NoError(t, rt.Interrupt(ctx, "ki"), i)
		res, console = follow(ctx, t, rt, "ki", func(res *agentrpc.ExecuteResult, console [][2]string) bool {
			return res.Status != agentrpc.ExecStatusContinued && strings.HasSuffix(text(console, "stdout"), "b? ")
		})
		require.Equal(t, agentrpc.ExecStatusWaitingInput, res.Status, i)
		require.Equal(t, "caught\nb? ", text(console, "stdout"), i)
		res = answer(ctx, t, rt, "ki", "z")
		require.Equal(t, agentrpc.ExecStatusFinished, res.Status, i)
		require.Equal(t, "got z\n", text(res.Console, "stdout"), i)
	}
}

func TestProcessRestartEndsWaitingInput(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "kw", SessionID: "s", Image: pythonImage})
	require.NoError(t, err)
	waitingInput(ctx, t, rt, "kw", "input()")
	old, err := rt.kernel("kw")
	require.NoError(t, err)

	_, err = rt.RestartKernel(ctx, "kw", nil)
	require.NoError(t, err)
	require.True(t, old.cur.isDone(), "the restart ended the waiting run")
	_, err = rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "kw", RunID: "r", Mode: agentrpc.ExecModeInput, Code: "x"})
	var re *agentrpc.RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, agentrpc.KindInvalidInput, re.Kind)
	console, exit := execute(ctx, t, rt, "kw", "print('new life')")
	require.Equal(t, 0, exit)
	require.Equal(t, "new life\n", text(console, "stdout"))
}
