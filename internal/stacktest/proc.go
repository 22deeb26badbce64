package stacktest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// StopTimeout is how long Stop waits after SIGTERM before it sends SIGKILL.
const StopTimeout = 10 * time.Second

// maxLog is how much of a process's output is kept (the tail) for failure reports.
const maxLog = 256 << 10

// Proc is one process of a Stack.
type Proc struct {
	// Name names the process in logs ("api", "worker-1", "agent-1").
	Name string
	// Cmd is the started command.
	Cmd *exec.Cmd

	mu     sync.Mutex
	out    []byte
	cut    bool
	done   chan struct{}
	err    error
	killed bool
}

// Write keeps the process's output (its tail).
func (p *Proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out = append(p.out, b...)
	if len(p.out) > maxLog {
		p.out = append(p.out[:0], p.out[len(p.out)-maxLog:]...)
		p.cut = true
	}
	return len(b), nil
}

// Output returns what the process wrote to stdout and stderr (the last 256 KiB).
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return "[...]\n" + string(p.out)
	}
	return string(p.out)
}

// logged returns the first submatch of re in the process's output, or "".
func (p *Proc) logged(re *regexp.Regexp) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m := re.FindSubmatch(p.out); m != nil {
		return string(m[1])
	}
	return ""
}

// Exited reports whether the process has ended, and its error.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Signal sends sig to the process (SIGSTOP and SIGCONT simulate a hung agent).
func (p *Proc) Signal(sig syscall.Signal) error {
	if ok, _ := p.Exited(); ok {
		return fmt.Errorf("%s has exited", p.Name)
	}
	return p.Cmd.Process.Signal(sig)
}

// Freeze stops the process with SIGSTOP (a hung agent: it takes calls and never answers) and
// returns the function that resumes it; the process is resumed when the test ends in any case.
func (p *Proc) Freeze(t testing.TB) (resume func()) {
	t.Helper()
	require.NoError(t, p.Signal(syscall.SIGSTOP))
	var once sync.Once
	resume = func() { once.Do(func() { _ = p.Signal(syscall.SIGCONT) }) }
	t.Cleanup(resume)
	return resume
}

// Kill sends SIGKILL (a crash: no shutdown code runs) and waits until the process is gone.
func (p *Proc) Kill() {
	if ok, _ := p.Exited(); ok {
		return
	}
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// Stop ends the process: SIGCONT (in case it was stopped) and SIGTERM, then SIGKILL when it
// has not exited within StopTimeout. It returns the process's exit error, nil for a clean
// exit after SIGTERM.
func (p *Proc) Stop() error {
	if ok, err := p.Exited(); ok {
		return err
	}
	_ = p.Cmd.Process.Signal(syscall.SIGCONT)
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(StopTimeout):
		p.mu.Lock()
		p.killed = true
		p.mu.Unlock()
		_ = p.Cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", p.Name, StopTimeout)
	}
}

// startProc starts cmd with its output kept, and waits for it in the background.
func startProc(t testing.TB, name string, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{Name: name, Cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p, p
	require.NoError(t, cmd.Start(), "start %s", name)
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p
}

// killUnder kills (SIGKILL, by process group) every process whose working directory is
// under dir: the kernels a process-runtime agent leaves running when it stops.
func killUnder(dir string) (int, error) {
	abs, err := filepath.EvalSymlinks(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		return 0, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || (cwd != abs && !strings.HasPrefix(cwd, abs+string(filepath.Separator))) {
			continue
		}
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid > 1 && pgid != syscall.Getpgrp() {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		n++
	}
	return n, nil
}
