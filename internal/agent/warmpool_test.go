package agent

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/agentrpc"
)

// warmRuntime returns a sandboxed ProcessRuntime keeping n warm interpreters under a
// temporary root; its kernels are destroyed and it is closed when the test ends.
func warmRuntime(t *testing.T, root string, n int) *ProcessRuntime {
	t.Helper()
	rt, err := NewProcessRuntime(root, nil, WithWarmInterpreters(n))
	require.NoError(t, err)
	require.NotNil(t, rt.pool)
	rt.SetKillGrace(2 * time.Second)
	t.Cleanup(func() {
		ks, _ := rt.ListKernels(context.Background())
		for _, k := range ks {
			_ = rt.DestroyKernel(context.Background(), k.KernelID)
		}
		_ = rt.Close()
	})
	return rt
}

// eventually polls cond until it holds, failing the test after 30 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// warmIdle waits until the pool holds n idle warm sandboxes of its first interpreter and
// returns them.
func warmIdle(t *testing.T, rt *ProcessRuntime, n int) []*warmEntry {
	t.Helper()
	var out []*warmEntry
	eventually(t, "the pool is full", func() bool {
		rt.pool.mu.Lock()
		defer rt.pool.mu.Unlock()
		out = append([]*warmEntry(nil), rt.pool.idle[rt.pool.interps[0]]...)
		return len(out) == n && rt.pool.starting[rt.pool.interps[0]] == 0
	})
	return out
}

func warmDirs(t *testing.T, root string) []string {
	t.Helper()
	ents, err := os.ReadDir(root)
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), warmDirPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestWarmPoolHandOver: a Python kernel created while a warm sandbox waits gets that sandbox
// (its uid and process group), with its own environment, working directory and scratch
// directory; the pool refills with another sandbox. A startup command runs with the kernel's
// environment, and a kernel whose environment changes what the interpreter reads at start
// starts cold.
func TestWarmPoolHandOver(t *testing.T) {
	ctx := testCtx(t)
	root := filepath.Join(t.TempDir(), "scratches")
	rt := warmRuntime(t, root, 1)
	w := warmIdle(t, rt, 1)[0]
	uid, pgid := w.lease.uid, w.box.pgid

	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "kw", SessionID: "sw", Image: pythonImage,
		Environ: map[string]string{"HELLO": "world"}})
	require.NoError(t, err)
	ks, err := rt.ListKernels(ctx)
	require.NoError(t, err)
	require.Equal(t, "pgid-"+r2s(pgid), ks[0].ContainerID, "the kernel runs in the warm sandbox")
	got := pyOut(ctx, t, rt, "kw", `
import os
print(os.environ.get("HELLO"), os.environ.get("BACKENDAI_KERNEL_ID"), os.environ.get("BACKENDAI_SESSION_ID"),
      os.environ.get("HANGAR_WARM_SANDBOX"), os.getcwd(), os.getuid(), os.environ["HOME"])
open("mine", "w").write("x")
import subprocess
print(subprocess.run(["sh", "-c", "echo $HELLO $BACKENDAI_KERNEL_ID"], capture_output=True, text=True).stdout.strip())
`)
	require.Equal(t, "world kw sw None /home/work "+r2s(uid)+" /home/work\nworld kw\n", got)
	require.FileExists(t, filepath.Join(root, "kw", "work", "mine"))
	rt.mu.Lock()
	require.Equal(t, uid, rt.uids["kw"].uid)
	rt.mu.Unlock()

	// Refilled, with another sandbox and uid; the one handed over left no warm directory.
	next := warmIdle(t, rt, 1)[0]
	require.NotEqual(t, uid, next.lease.uid)
	require.Equal(t, []string{filepath.Base(next.dir)}, warmDirs(t, root))

	// A startup command sees the kernel's environment.
	_, err = rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "ks", SessionID: "s", Image: pythonImage,
		Environ: map[string]string{"HELLO": "startup"}, StartupCommand: `echo "$HELLO $BACKENDAI_KERNEL_ID" > out; exec sleep 600`})
	require.NoError(t, err)
	require.Equal(t, "pgid-"+r2s(next.box.pgid), kernelInfo(ctx, t, rt, "ks").ContainerID)
	eventually(t, "the startup command ran", func() bool {
		b, _ := os.ReadFile(filepath.Join(root, "ks", "work", "out"))
		return string(b) == "startup ks\n"
	})

	// PYTHONHASHSEED is read when the interpreter starts: the kernel starts cold.
	third := warmIdle(t, rt, 1)[0]
	_, err = rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "kc", SessionID: "s", Image: pythonImage,
		Environ: map[string]string{"PYTHONHASHSEED": "0"}})
	require.NoError(t, err)
	require.NotEqual(t, "pgid-"+r2s(third.box.pgid), kernelInfo(ctx, t, rt, "kc").ContainerID)
	require.Equal(t, "0\n", pyOut(ctx, t, rt, "kc", "import sys; print(sys.flags.hash_randomization)"))
	require.Equal(t, []*warmEntry{third}, warmIdle(t, rt, 1), "the warm sandbox stays in the pool")

	// Restarted in place like any kernel: same uid, same files, the kernel's environment.
	_, err = rt.RestartKernel(ctx, "kw", nil)
	require.NoError(t, err)
	require.Equal(t, "x world "+r2s(uid)+"\n", pyOut(ctx, t, rt, "kw",
		`import os; print(open("mine").read(), os.environ["HELLO"], os.getuid())`))

	// Destroyed like any kernel: its directory and uid are free again.
	pgid = kernelPgid(ctx, t, rt, "kw")
	require.NoError(t, rt.DestroyKernel(ctx, "kw"))
	require.NoDirExists(t, filepath.Join(root, "kw"))
	require.False(t, groupAlive(pgid))
}

func kernelPgid(ctx context.Context, t *testing.T, rt *ProcessRuntime, id string) int {
	t.Helper()
	pgid, err := strconv.Atoi(strings.TrimPrefix(kernelInfo(ctx, t, rt, id).ContainerID, "pgid-"))
	require.NoError(t, err)
	return pgid
}

func kernelInfo(ctx context.Context, t *testing.T, rt *ProcessRuntime, id string) Kernel {
	t.Helper()
	ks, err := rt.ListKernels(ctx)
	require.NoError(t, err)
	for _, k := range ks {
		if k.KernelID == id {
			return k
		}
	}
	t.Fatalf("no kernel %s", id)
	return Kernel{}
}

// TestWarmPoolDeadEntry: a warm interpreter that dies is replaced, and never handed to a
// kernel.
func TestWarmPoolDeadEntry(t *testing.T) {
	ctx := testCtx(t)
	root := filepath.Join(t.TempDir(), "scratches")
	rt := warmRuntime(t, root, 1)
	w := warmIdle(t, rt, 1)[0]
	py := groupPid(w.box.pgid, "python3")
	require.Positive(t, py)
	require.NoError(t, syscall.Kill(py, syscall.SIGKILL))
	eventually(t, "the interpreter's end is seen", func() bool { return !w.alive() })

	// Whether the pool has dropped it yet or not, the kernel does not get it.
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "k", SessionID: "s", Image: pythonImage})
	require.NoError(t, err)
	require.NotEqual(t, "pgid-"+r2s(w.box.pgid), kernelInfo(ctx, t, rt, "k").ContainerID)
	require.Equal(t, "2\n", pyOut(ctx, t, rt, "k", "print(1 + 1)"))

	eventually(t, "the dead sandbox is gone", func() bool {
		_, err := os.Stat(w.dir)
		return os.IsNotExist(err) && !groupAlive(w.box.pgid)
	})
	// Replaced (after the kernel took the replacement, if it did).
	next := warmIdle(t, rt, 1)[0]
	require.True(t, next.alive())
	rt.pool.mu.Lock()
	require.GreaterOrEqual(t, rt.pool.discarded, 1)
	rt.pool.mu.Unlock()
}

// TestWarmPoolClose: closing the runtime ends every warm sandbox and frees its directory
// and uid; kernels already handed a warm sandbox keep running.
func TestWarmPoolClose(t *testing.T) {
	ctx := testCtx(t)
	root := filepath.Join(t.TempDir(), "scratches")
	rt := warmRuntime(t, root, 2)
	idle := warmIdle(t, rt, 2)
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "k", SessionID: "s", Image: pythonImage})
	require.NoError(t, err)
	kernelPgid := idle[0].box.pgid
	require.Equal(t, "pgid-"+r2s(kernelPgid), kernelInfo(ctx, t, rt, "k").ContainerID)
	idle = warmIdle(t, rt, 2)

	require.NoError(t, rt.Close())
	require.Empty(t, warmDirs(t, root))
	for _, w := range idle {
		eventually(t, "warm sandbox "+w.name+" ended", func() bool { return !groupAlive(w.box.pgid) })
		eventually(t, "the warm sandbox's uid is free", func() bool { return len(uidsInUse(w.lease.uid, 1)) == 0 })
	}
	require.True(t, groupAlive(kernelPgid), "the kernel keeps running")
	require.Equal(t, "ok\n", pyOut(ctx, t, rt, "k", "print('ok')"))
	_, err = rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "k2", SessionID: "s", Image: pythonImage})
	require.NoError(t, err)
	require.Empty(t, warmDirs(t, root), "a closed pool starts nothing")
}

// TestWarmPoolLeftovers: an agent process that died left warm sandboxes, idle and handed
// over; the next runtime on the root ends them all and removes their directories.
func TestWarmPoolLeftovers(t *testing.T) {
	ctx := testCtx(t)
	root := filepath.Join(t.TempDir(), "scratches")
	old, err := NewProcessRuntime(root, nil, WithWarmInterpreters(1))
	require.NoError(t, err)
	w := warmIdle(t, old, 1)[0]
	_, err = old.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "left", SessionID: "s", Image: pythonImage})
	require.NoError(t, err)
	require.Equal(t, "pgid-"+r2s(w.box.pgid), kernelInfo(ctx, t, old, "left").ContainerID)
	idle := warmIdle(t, old, 1)[0]

	// The old agent process dies: its pool stops without ending anything, its lock goes.
	p := old.pool
	p.mu.Lock()
	p.closed = true
	close(p.done)
	p.idle = map[string][]*warmEntry{}
	p.mu.Unlock()
	p.refillers.Wait()
	old.pool = nil
	require.NoError(t, old.Close())
	require.True(t, groupAlive(w.box.pgid))
	require.True(t, groupAlive(idle.box.pgid))

	next, err := NewProcessRuntime(root, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = next.Close() })
	require.Equal(t, []string{"left"}, next.Reaped())
	require.True(t, waitGroupGone(w.box.pgid, 10*time.Second), "the handed-over kernel is killed")
	require.True(t, waitGroupGone(idle.box.pgid, 10*time.Second), "the idle warm sandbox is killed")
	require.NoDirExists(t, filepath.Join(root, "left"))
	require.Empty(t, warmDirs(t, root))
}

// TestWarmPoolBurst: a burst of creates larger than the pool gets the warm sandboxes and
// starts the rest cold, side by side; creates of one kernel id at once make one kernel; every
// kernel has a uid of its own.
func TestWarmPoolBurst(t *testing.T) {
	ctx := testCtx(t)
	rt := warmRuntime(t, filepath.Join(t.TempDir(), "scratches"), 3)
	warmIdle(t, rt, 3)
	ids := []string{"b0", "b1", "b2", "b3", "b4", "b0", "b0"}
	errs := make(chan error, len(ids))
	for _, id := range ids {
		go func() {
			_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: id, SessionID: "s", Image: pythonImage})
			errs <- err
		}()
	}
	for range ids {
		require.NoError(t, <-errs)
	}
	ks, err := rt.ListKernels(ctx)
	require.NoError(t, err)
	require.Len(t, ks, 5)
	rt.pool.mu.Lock()
	require.Equal(t, 3, rt.pool.handed)
	rt.pool.mu.Unlock()
	uids := map[string]bool{}
	for _, k := range ks {
		uids[pyOut(ctx, t, rt, k.KernelID, "import os; print(os.getuid(), os.environ['BACKENDAI_KERNEL_ID'])")] = true
	}
	require.Len(t, uids, 5)
}

// TestWarmPoolEvicted: when warm sandboxes hold every uid, a kernel starting cold takes the
// uid of one of them.
func TestWarmPoolEvicted(t *testing.T) {
	ctx := testCtx(t)
	rt, err := NewProcessRuntime(filepath.Join(t.TempDir(), "scratches"), nil,
		WithSandbox(SandboxSection{UIDBase: 310000, UIDCount: 2}), WithWarmInterpreters(2))
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.DestroyKernel(context.Background(), "k"); _ = rt.Close() })
	idle := warmIdle(t, rt, 2)
	_, err = rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "k", SessionID: "s", Image: shellImage})
	require.NoError(t, err)
	console, _ := execute(ctx, t, rt, "k", "id -u")
	require.Contains(t, []string{r2s(idle[0].lease.uid) + "\n", r2s(idle[1].lease.uid) + "\n"}, text(console, "stdout"))
}

func TestWarmInterpretersConfig(t *testing.T) {
	cfg, err := Parse([]byte("[sandbox]\nwarm-interpreters = 3\n"), Host{Hostname: "h", NumCPU: 2, MemTotal: 4 << 30})
	require.NoError(t, err)
	require.Equal(t, 3, *cfg.Sandbox.WarmInterpreters)
	cfg, err = Parse(nil, Host{Hostname: "h", NumCPU: 2, MemTotal: 4 << 30, Getenv: func(k string) string {
		if k == "HANGAR_WARM_INTERPRETERS" {
			return "0"
		}
		return ""
	}})
	require.NoError(t, err)
	require.Equal(t, 0, *cfg.Sandbox.WarmInterpreters)
	_, err = Parse(nil, Host{Hostname: "h", Getenv: func(k string) string {
		if k == "BACKEND_WARM_INTERPRETERS" {
			return "many"
		}
		return ""
	}})
	require.ErrorContains(t, err, "WARM_INTERPRETERS")
	_, err = NewProcessRuntime(filepath.Join(t.TempDir(), "s"), nil, WithWarmInterpreters(-1))
	require.ErrorContains(t, err, "warm-interpreters")
}
