package stacktest

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProcStopAndOutput(t *testing.T) {
	t.Parallel()
	// A process that handles SIGTERM stops cleanly and keeps its output.
	p := startProc(t, "clean", exec.Command("/bin/sh", "-c", `trap 'echo bye; exit 0' TERM; echo hello; while :; do sleep 0.05; done`))
	Eventually(t, 10*time.Second, func() (bool, string) { return p.Output() == "hello\n", p.Output() })
	require.NoError(t, p.Stop())
	require.Equal(t, "hello\nbye\n", p.Output())
	ok, err := p.Exited()
	require.True(t, ok)
	require.NoError(t, err)
	require.Error(t, p.Signal(syscall.SIGTERM), "signalling an exited process")

	// A process that dies of a signal reports it.
	q := startProc(t, "crash", exec.Command("/bin/sh", "-c", "kill -KILL $$"))
	<-q.done
	require.Error(t, q.Stop())
}

func TestProcOutputKeepsTail(t *testing.T) {
	t.Parallel()
	p := &Proc{Name: "big", done: make(chan struct{})}
	chunk := make([]byte, 100<<10)
	for i := range chunk {
		chunk[i] = 'x'
	}
	for range 4 {
		_, _ = p.Write(chunk)
	}
	_, _ = p.Write([]byte("END"))
	out := p.Output()
	require.Equal(t, "[...]\n", out[:6])
	require.Len(t, out, 6+maxLog)
	require.Equal(t, "END", out[len(out)-3:])
}

func TestKillUnder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A process group working under dir (as a kernel of a process-runtime agent does) and
	// one elsewhere.
	inside := exec.Command("/bin/sh", "-c", "exec sleep 1000")
	inside.Dir = dir
	inside.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, inside.Start())
	outside := exec.Command("/bin/sh", "-c", "exec sleep 1000")
	outside.Dir = t.TempDir()
	outside.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, outside.Start())
	t.Cleanup(func() { _ = outside.Process.Kill(); _ = outside.Wait() })

	n, err := killUnder(dir)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	err = inside.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, syscall.SIGKILL, ee.Sys().(syscall.WaitStatus).Signal())
	require.NoError(t, outside.Process.Signal(syscall.Signal(0)), "the process outside dir was killed")
}
