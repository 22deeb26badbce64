package agent

import (
	"context"
	"fmt"
	"net"
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

// Attacks from inside a kernel on the host, the agent and other kernels: each must fail.

// sandboxRuntime returns a sandboxed ProcessRuntime with cfg under a temporary root whose
// kernels are destroyed when the test ends.
func sandboxRuntime(t *testing.T, cfg SandboxSection) *ProcessRuntime {
	t.Helper()
	rt, err := NewProcessRuntime(filepath.Join(t.TempDir(), "scratches"), nil, WithSandbox(cfg))
	require.NoError(t, err)
	require.True(t, rt.Sandboxed())
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

// pyOut runs Python code in a kernel and returns its stdout, failing on a non-zero exit.
func pyOut(ctx context.Context, t *testing.T, rt Runtime, kernelID, code string) string {
	t.Helper()
	console, exit := execute(ctx, t, rt, kernelID, code)
	require.Equal(t, 0, exit, "%v", console)
	return text(console, "stdout")
}

// attempt is Python code defining try_(label, f): it prints "label: ok" when f() returns and
// "label: <exception class>" when it raises.
const attempt = `
def try_(label, f):
    try:
        f()
        print(label + ": ok")
    except BaseException as e:
        print(label + ": " + type(e).__name__)
`

func TestSandboxFilesystem(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	for _, id := range []string{"ka", "kb"} {
		_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: id, SessionID: "s-" + id, Image: pythonImage})
		require.NoError(t, err)
	}
	require.Equal(t, "", pyOut(ctx, t, rt, "ka", "open('secret', 'w').write('a secret')"))
	other := filepath.Join(rt.root, "ka", "work")
	require.FileExists(t, filepath.Join(other, "secret"))
	// A file in the host's /tmp, where the agent's temporary files are.
	marker, err := os.CreateTemp("", "hangar-sandbox-marker-")
	require.NoError(t, err)
	marker.Close()
	t.Cleanup(func() { os.Remove(marker.Name()) })

	code := attempt + fmt.Sprintf(`
import os
try_("shadow", lambda: open('/etc/shadow').read())
try_("other kernel read", lambda: open(%[1]q + '/secret').read())
try_("other kernel write", lambda: open(%[1]q + '/planted', 'w').write('x'))
try_("other kernel list", lambda: os.listdir(%[1]q))
try_("scratch root list", lambda: os.listdir(%[2]q) and 1/0)
try_("write /usr", lambda: open('/usr/planted', 'w').write('x'))
try_("write /etc", lambda: open('/etc/planted', 'w').write('x'))
try_("host tmp", lambda: open(%[3]q).read())
try_("root home", lambda: os.listdir('/root') and 1/0)
try_("own tmp", lambda: open('/tmp/mine', 'w').write('x'))
try_("own work", lambda: open('/home/work/mine', 'w').write('x'))
print(os.getcwd(), os.environ['HOME'], os.environ['TMPDIR'])
`, other, rt.root, marker.Name())
	out := pyOut(ctx, t, rt, "kb", code)
	// The scratch root (here under the host's /tmp, which the kernel does not see) and
	// /root are hidden: absent, or empty under an empty tmpfs ("ok").
	hidden := "FileNotFoundError"
	if !strings.HasPrefix(rt.root, "/tmp/") {
		hidden = "ok"
	}
	require.Equal(t, strings.Join([]string{
		"shadow: PermissionError",
		"other kernel read: FileNotFoundError",
		"other kernel write: FileNotFoundError",
		"other kernel list: FileNotFoundError",
		"scratch root list: " + hidden,
		"write /usr: OSError",
		"write /etc: OSError",
		"host tmp: FileNotFoundError",
		"root home: ok",
		"own tmp: ok",
		"own work: ok",
		"/home/work /home/work /tmp",
	}, "\n")+"\n", out)
	require.NoFileExists(t, filepath.Join(other, "planted"))
	// The kernel's /tmp is its own, not the host's.
	_, err = os.Stat("/tmp/mine")
	require.ErrorIs(t, err, os.ErrNotExist)
	require.FileExists(t, filepath.Join(rt.root, "kb", "tmp", "mine"))

	// On the host, the scratch directories are root's alone, the working directories the
	// kernels' own uids'.
	st, err := os.Stat(rt.root)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	uids := map[string]string{}
	for _, id := range []string{"ka", "kb"} {
		uids[id] = strings.TrimSpace(pyOut(ctx, t, rt, id, "import os\nprint(os.getuid(), os.getgid(), os.getgroups())"))
		rt.mu.Lock()
		uid := r2s(rt.uids[id].uid)
		rt.mu.Unlock()
		require.Equal(t, uid+" "+uid+" []", uids[id]) // no supplementary groups
		st, err := os.Stat(filepath.Join(rt.root, id, "work"))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o700), st.Mode().Perm())
		require.Equal(t, uid, r2s(int(st.Sys().(*syscall.Stat_t).Uid)))
	}
	require.NotEqual(t, uids["ka"], uids["kb"], "each kernel has a uid of its own")
}

func TestSandboxProcesses(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	for _, id := range []string{"ka", "kb"} {
		_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: id, SessionID: "s-" + id, Image: pythonImage,
			Environ: map[string]string{"SECRET_OF_" + id: "x"}})
		require.NoError(t, err)
	}
	require.Equal(t, "", pyOut(ctx, t, rt, "ka", "import subprocess\nsubprocess.Popen(['sleep', '600'])"))
	ka, err := rt.kernel("ka")
	require.NoError(t, err)
	var victim int
	for victim == 0 {
		require.NoError(t, ctx.Err(), "the victim process did not start")
		victim = groupPid(ka.pgid, "sleep")
	}
	t.Setenv("HANGAR_AGENT_SECRET", "agent-secret")
	agent := os.Getpid()

	code := attempt + fmt.Sprintf(`
import os, signal
try_("kill other kernel", lambda: os.kill(%[1]d, signal.SIGKILL))
try_("kill other group", lambda: os.killpg(%[2]d, signal.SIGKILL))
try_("kill agent", lambda: os.kill(%[3]d, signal.SIGTERM))
try_("agent environ", lambda: open('/proc/%[3]d/environ').read())
try_("other environ", lambda: open('/proc/%[1]d/environ').read())
print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit())[:2])
st = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines())
print(st['NoNewPrivs'].strip(), st['CapEff'].strip())
`, victim, ka.pgid, agent)
	out := pyOut(ctx, t, rt, "kb", code)
	require.Equal(t, strings.Join([]string{
		"kill other kernel: ProcessLookupError",
		"kill other group: ProcessLookupError",
		"kill agent: ProcessLookupError",
		"agent environ: FileNotFoundError",
		"other environ: FileNotFoundError",
		"[1, 2]", // its own PID namespace: bubblewrap's init and the supervisor
		"1 0000000000000000",
	}, "\n")+"\n", out)
	require.True(t, alive(victim), "the other kernel's process survived")
	for _, f := range []string{"/proc/1/environ", "/proc/2/environ", "/proc/self/environ"} {
		env := pyOut(ctx, t, rt, "kb", fmt.Sprintf("try:\n    print(open(%q).read())\nexcept OSError as e:\n    print(type(e).__name__)", f))
		require.NotContains(t, env, "agent-secret", f)
		require.NotContains(t, env, "SECRET_OF_ka", f)
	}
	// The supervisor is not the kernel's to trace or to read.
	require.Equal(t, "PermissionError\n", pyOut(ctx, t, rt, "kb",
		"import os\ntry:\n    print(os.listdir('/proc/2/fd'))\nexcept OSError as e:\n    print(type(e).__name__)"))
}

func TestSandboxNetwork(t *testing.T) {
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "kn", SessionID: "s", Image: pythonImage})
	require.NoError(t, err)
	// Host services the kernel must not reach: a loopback listener (as PostgreSQL, Redis and
	// etcd of the halfstack), one on every address (as the agent's RPC), and the halfstack's
	// ports themselves.
	lo, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer lo.Close()
	any, err := net.Listen("tcp", "0.0.0.0:0")
	require.NoError(t, err)
	defer any.Close()
	anyPort := any.Addr().(*net.TCPAddr).Port
	targets := []string{lo.Addr().String(), net.JoinHostPort("127.0.0.1", strconv.Itoa(anyPort)),
		"127.0.0.1:8100", "127.0.0.1:8110", "127.0.0.1:8120"}
	if ip := outboundIP(); ip != "127.0.0.1" {
		targets = append(targets, net.JoinHostPort(ip, strconv.Itoa(anyPort)))
	}
	var code strings.Builder
	code.WriteString("import socket\n")
	for _, tgt := range targets {
		host, port, _ := net.SplitHostPort(tgt)
		fmt.Fprintf(&code, "try:\n    socket.create_connection((%q, %s), timeout=3).close()\n    print('connected')\nexcept OSError as e:\n    print(type(e).__name__)\n", host, port)
	}
	// Loopback inside the sandbox works, for the kernel's own servers.
	code.WriteString(`
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
c = socket.create_connection(s.getsockname()); a, _ = s.accept(); c.sendall(b'own'); print(a.recv(3).decode())
print(sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:]))
`)
	out := strings.Split(strings.TrimSpace(pyOut(ctx, t, rt, "kn", code.String())), "\n")
	require.Len(t, out, len(targets)+2)
	for i, tgt := range targets {
		require.Contains(t, []string{"ConnectionRefusedError", "OSError"}, out[i], tgt)
	}
	require.Equal(t, "own", out[len(targets)])
	require.Equal(t, "['lo']", out[len(targets)+1])
}

func TestSandboxLimits(t *testing.T) {
	ctx := testCtx(t)
	const procs = 48
	rt := sandboxRuntime(t, SandboxSection{MaxProcesses: procs, MaxOpenFiles: 256, MaxFileSize: "1m"})
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "kl", SessionID: "s", Image: pythonImage})
	require.NoError(t, err)
	out := pyOut(ctx, t, rt, "kl", `
import resource
print(resource.getrlimit(resource.RLIMIT_NPROC), resource.getrlimit(resource.RLIMIT_NOFILE), resource.getrlimit(resource.RLIMIT_FSIZE))
try:
    resource.setrlimit(resource.RLIMIT_NPROC, (1000, 1000))
    print('raised')
except ValueError:
    print('kept')
try:
    open('big', 'wb').write(b'x' * (2 << 20))
    print('wrote')
except OSError as e:
    print(e.errno)
`)
	require.Equal(t, fmt.Sprintf("(%d, %d) (256, 256) (1048576, 1048576)\nkept\n27\n", procs, procs), out)

	// A fork bomb stops at the process limit.
	out = pyOut(ctx, t, rt, "kl", `
import os, signal, time
pids, err = [], None
try:
    for _ in range(1000):
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        pids.append(pid)
except OSError as e:
    err = e.errno
for p in pids:
    os.kill(p, signal.SIGKILL)
for p in pids:
    os.waitpid(p, 0)
print(len(pids), err)
`)
	f := strings.Fields(out)
	require.Len(t, f, 2, out)
	n, err := strconv.Atoi(f[0])
	require.NoError(t, err)
	require.Less(t, n, procs)
	require.Equal(t, "11", f[1], "EAGAIN")
	// The kernel lives on.
	require.Equal(t, "alive\n", pyOut(ctx, t, rt, "kl", "print('alive')"))
}

func TestSandboxUIDs(t *testing.T) {
	ctx := testCtx(t)
	rt := sandboxRuntime(t, SandboxSection{UIDBase: 300000, UIDCount: 2})
	for _, id := range []string{"k1", "k2"} {
		_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: id, SessionID: "s", Image: shellImage})
		require.NoError(t, err)
	}
	// Two uids, both taken (a parallel test run would skip them).
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "k3", SessionID: "s", Image: shellImage})
	require.ErrorContains(t, err, "no free kernel uid")
	require.NoDirExists(t, filepath.Join(rt.root, "k3"))
	rt.mu.Lock()
	u1 := rt.uids["k1"].uid
	rt.mu.Unlock()
	// A uid is the kernel's until it is destroyed, restarts included.
	_, err = rt.RestartKernel(ctx, "k1", nil)
	require.NoError(t, err)
	console, _ := execute(ctx, t, rt, "k1", "id -u")
	require.Equal(t, r2s(u1)+"\n", text(console, "stdout"))
	require.NoError(t, rt.DestroyKernel(ctx, "k1"))
	_, err = rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "k3", SessionID: "s", Image: shellImage})
	require.NoError(t, err)
	console, _ = execute(ctx, t, rt, "k3", "id -u")
	require.Equal(t, r2s(u1)+"\n", text(console, "stdout"))
}

func TestSandboxRequired(t *testing.T) {
	root := filepath.Join(t.TempDir(), "scratches")
	_, err := NewProcessRuntime(root, nil, WithSandbox(SandboxSection{Bwrap: "/nonexistent/bwrap"}))
	require.ErrorContains(t, err, "bubblewrap")
	require.ErrorContains(t, err, "--insecure-no-sandbox")
	_, err = NewProcessRuntime(root, nil, WithSandbox(SandboxSection{MaxFileSize: "lots"}))
	require.ErrorContains(t, err, "sandbox.max-file-size")
	// A sandbox that does not hold what it promises is refused: here every interpreter is
	// hidden.
	_, err = NewProcessRuntime(root, nil, WithSandbox(SandboxSection{Hide: []string{"/usr", "/bin"}}))
	require.ErrorContains(t, err, "cannot sandbox kernels")

	// Unsandboxed on request: the kernel runs as the agent's user, in the host's view.
	ctx := testCtx(t)
	rt, err := NewProcessRuntime(root, nil, WithSandbox(SandboxSection{Insecure: true}))
	require.NoError(t, err)
	require.False(t, rt.Sandboxed())
	t.Cleanup(func() { _ = rt.DestroyKernel(context.Background(), "ki"); _ = rt.Close() })
	_, err = rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "ki", SessionID: "s", Image: shellImage})
	require.NoError(t, err)
	console, _ := execute(ctx, t, rt, "ki", "id -u; pwd")
	require.Equal(t, r2s(os.Getuid())+"\n"+filepath.Join(root, "ki", "work")+"\n", text(console, "stdout"))
}

func r2s(i int) string { return strconv.Itoa(i) }

func TestSandboxConfig(t *testing.T) {
	cfg, err := Parse([]byte(`
[sandbox]
uid-base = 300000
uid-count = 100
max-processes = 64
max-open-files = 512
max-file-size = "2g"
hide = ["/srv/secrets"]
`), Host{Hostname: "h", NumCPU: 2, MemTotal: 4 << 30})
	require.NoError(t, err)
	require.Equal(t, SandboxSection{UIDBase: 300000, UIDCount: 100, MaxProcesses: 64, MaxOpenFiles: 512,
		MaxFileSize: "2g", Hide: []string{"/srv/secrets"}}, cfg.Sandbox)
	for _, bad := range []SandboxSection{{UIDBase: 10}, {MaxProcesses: -1}, {Hide: []string{"relative"}}, {Hide: []string{"/"}}} {
		_, err := newSandbox(bad, t.TempDir())
		require.Error(t, err, "%+v", bad)
	}
}
