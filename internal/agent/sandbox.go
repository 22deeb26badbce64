package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hangar-run/hangar/internal/slots"
)

// The process runtime's sandbox: every kernel runs in a bubblewrap (bwrap) sandbox of its
// own. Bubblewrap is the unprivileged sandboxing tool Flatpak is built on, packaged by
// Debian and Ubuntu (`bubblewrap`): it is small, needs no setuid bit when unprivileged user
// namespaces are allowed, and does the namespace and mount setup (pivot_root, a fresh
// procfs and /dev, --die-with-parent, --new-session against terminal injection) that
// hand-written clone flags would have to get right by themselves.
//
// What a kernel gets:
//   - its own unprivileged uid and gid (SandboxSection.UIDBase plus a slot no live kernel on
//     the host holds, claimed through a lock file under SandboxSection.StateDir), with no
//     supplementary groups: bwrap itself is started as that uid, so that file access, signals
//     and RLIMIT_NPROC are those of an ordinary user, never root's;
//   - its own user, PID, mount, IPC, UTS, network (loopback only) and, where the kernel
//     allows it, cgroup namespaces; no nested user namespaces; no capabilities; no_new_privs;
//   - the host's file system read-only, with /proc a fresh procfs of its PID namespace and
//     /dev a minimal one (null, zero, full, random, urandom, tty, pts, a size-limited
//     /dev/shm); /root, /home, /run, /tmp, /var/tmp, /etc/backend.ai, the scratch root, the
//     development halfstack's data and the paths of SandboxSection.Hide hidden under empty
//     read-only tmpfs mounts, and Backend.AI configuration files under empty files;
//   - its working directory at /home/work (HOME and the current directory; it is
//     <scratch>/<kernel>/work on the host, owned by the kernel's uid, mode 0700), /tmp from
//     <scratch>/<kernel>/tmp; the scratch root and each kernel's scratch directory are
//     root's alone (mode 0700; the stage of sandbox_init.go brings a kernel's directories
//     into its sandbox), so no kernel can list or read another's files, nor touch its own
//     log or driver, which it could otherwise swap for links the agent would follow;
//   - limits on processes (RLIMIT_NPROC, counted per uid, so per kernel), open files and the
//     size of a file it writes (RLIMIT_FSIZE), set hard by the supervisor.
//
// Inside, a supervisor (sandbox_init.go: the agent's executable started again) starts the
// kernel's processes on the agent's request, all in one process group whose id is the host
// pid of the sandbox's init (bubblewrap's PID 1, a session leader through --new-session):
// SIGINT to the group interrupts the kernel, SIGTERM ends it, and SIGKILL to the init ends
// every process of its PID namespace at once, even those that left the group.
//
// What it does not isolate: CPU time and memory (only the kernel's cgroup limits them, on
// hosts with a writable cgroup v2 hierarchy), disk space (the scratch directory and /tmp
// are on the host's disk), the kernel's own processes' output, and what every local user
// may read on the host (world-readable files stay readable, read-only). The kernel shares
// the host's Linux kernel: a kernel exploit escapes any namespace sandbox.

// Defaults of the [sandbox] section.
const (
	DefaultSandboxUIDBase      = 200000
	DefaultSandboxUIDCount     = 65536
	DefaultSandboxMaxProcesses = 1024
	DefaultSandboxMaxOpenFiles = 4096
	DefaultSandboxMaxFileSize  = "64g"
	DefaultSandboxStateDir     = "/run/hangar-agent"
)

// Paths inside a kernel's sandbox.
const (
	sandboxWorkDir = "/home/work"
	sandboxDriver  = "/run/hangar/driver.py"
)

// sandboxShmSize is the size of a sandbox's /dev/shm.
const sandboxShmSize = 64 << 20

// sandboxHidden is what a sandbox always hides (when it exists on the host).
var sandboxHidden = []string{"/root", "/var/tmp", "/etc/backend.ai", "/var/lib/hangar"}

// SandboxSection is agent.toml's [sandbox] section (a Hangar section): how the process
// runtime sandboxes its kernels. Zero values take the defaults.
type SandboxSection struct {
	// Bwrap is the bubblewrap executable; bwrap on PATH, else /usr/bin/bwrap.
	Bwrap string `toml:"bwrap"`
	// UIDBase is the first uid (and gid) given to kernels; 200000 by default.
	UIDBase int `toml:"uid-base"`
	// UIDCount is how many uids from UIDBase kernels may use, and so how many kernels the
	// host's agents run at once; 65536 by default.
	UIDCount int `toml:"uid-count"`
	// StateDir holds the lock files through which the agents of a host share the uids
	// (uids/) and the empty directory where a sandbox's mounts are prepared (stage/);
	// /run/hangar-agent by default. Every uid must be able to traverse it.
	StateDir string `toml:"state-dir"`
	// MaxProcesses limits a kernel's processes and threads (RLIMIT_NPROC); 1024 by default.
	MaxProcesses int `toml:"max-processes"`
	// MaxOpenFiles limits the files each process of a kernel opens (RLIMIT_NOFILE); 4096 by
	// default.
	MaxOpenFiles int `toml:"max-open-files"`
	// MaxFileSize limits the size of a file a kernel writes (RLIMIT_FSIZE), as a binary
	// size; "64g" by default.
	MaxFileSize string `toml:"max-file-size"`
	// Hide lists more host paths kernels must not see.
	Hide []string `toml:"hide"`
	// WarmInterpreters is how many started sandboxes with their Python interpreter idle the
	// agent keeps per interpreter, handed to new Python kernels so that they do not wait for
	// an interpreter to start (warmpool.go); DefaultWarmInterpreters when absent, 0 keeps
	// none. Each holds a uid and an interpreter's memory (about 10 MB).
	WarmInterpreters *int `toml:"warm-interpreters"`

	// Insecure runs kernels unsandboxed, as the agent's own user (hangar-agent
	// --insecure-no-sandbox); not a configuration key.
	Insecure bool `toml:"-"`
}

// sandbox starts the sandboxes of one ProcessRuntime's kernels.
type sandbox struct {
	bwrap       string
	stage       string
	uids        *uidPool
	maxProcs    uint64
	maxFiles    uint64
	maxFileSize uint64
	hideDirs    []string
	hideFiles   []string
}

// newSandbox checks cfg and the host, and returns the sandbox of the kernels under root.
func newSandbox(cfg SandboxSection, root string) (*sandbox, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the kernel sandbox needs the agent to run as root (to give each kernel a uid of its own)")
	}
	s := &sandbox{}
	bw := cfg.Bwrap
	if bw == "" {
		bw = "bwrap"
	}
	p, err := exec.LookPath(bw)
	if err != nil && cfg.Bwrap == "" {
		p, err = exec.LookPath("/usr/bin/bwrap")
	}
	if err != nil {
		return nil, fmt.Errorf("bubblewrap (the bwrap command, Debian package bubblewrap) not found: %w", err)
	}
	s.bwrap = p
	base, count := cfg.UIDBase, cfg.UIDCount
	if base == 0 {
		base = DefaultSandboxUIDBase
	}
	if count == 0 {
		count = DefaultSandboxUIDCount
	}
	if base < 1000 || count < 1 || int64(base)+int64(count) > 1<<31 {
		return nil, fmt.Errorf("sandbox.uid-base %d and uid-count %d: want uids from 1000 up to 2^31", base, count)
	}
	state := cfg.StateDir
	if state == "" {
		state = DefaultSandboxStateDir
	}
	if !filepath.IsAbs(state) {
		return nil, fmt.Errorf("sandbox.state-dir %q: want an absolute path", state)
	}
	s.stage = filepath.Join(state, "stage")
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{state, 0o711}, {filepath.Join(state, "uids"), 0o700}, {s.stage, 0o755}} {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return nil, fmt.Errorf("sandbox.state-dir: %w", err)
		}
		if err := os.Chmod(d.path, d.mode); err != nil {
			return nil, fmt.Errorf("sandbox.state-dir: %w", err)
		}
	}
	s.uids = &uidPool{dir: filepath.Join(state, "uids"), base: base, count: count}
	if s.maxProcs, err = positive("sandbox.max-processes", cfg.MaxProcesses, DefaultSandboxMaxProcesses); err != nil {
		return nil, err
	}
	if s.maxFiles, err = positive("sandbox.max-open-files", cfg.MaxOpenFiles, DefaultSandboxMaxOpenFiles); err != nil {
		return nil, err
	}
	size := cfg.MaxFileSize
	if size == "" {
		size = DefaultSandboxMaxFileSize
	}
	d, err := slots.ParseBinarySize(size)
	if err != nil || !d.IsPositive() || !d.IsInteger() || d.BigInt().BitLen() > 62 {
		return nil, fmt.Errorf("sandbox.max-file-size %q: want a positive binary size", size)
	}
	s.maxFileSize = uint64(d.IntPart())
	if err := s.hide(cfg.Hide, root); err != nil {
		return nil, err
	}
	return s, nil
}

func positive(key string, v, def int) (uint64, error) {
	switch {
	case v == 0:
		return uint64(def), nil
	case v < 0:
		return 0, fmt.Errorf("%s %d: must be positive", key, v)
	}
	return uint64(v), nil
}

// hide works out the host paths the sandboxes hide: the defaults, extra, the scratch root,
// the development halfstack's data and Backend.AI configuration files.
func (s *sandbox) hide(extra []string, root string) error {
	paths := append(slices.Clone(sandboxHidden), root)
	if wd, err := os.Getwd(); err == nil {
		paths = append(paths, filepath.Join(wd, ".halfstack"))
	}
	for _, p := range extra {
		if !filepath.IsAbs(p) || filepath.Clean(p) == "/" {
			return fmt.Errorf("sandbox.hide %q: want an absolute path other than /", p)
		}
		paths = append(paths, p)
	}
	var files []string
	for _, p := range SearchPaths() {
		files = append(files, p, filepath.Join(filepath.Dir(p), "manager.toml"))
	}
	// /home, /run and /tmp are replaced anyway (see args).
	covered := []string{"/home", "/run", "/tmp"}
	under := func(p string, dirs []string) bool {
		for _, d := range dirs {
			if p == d || strings.HasPrefix(p, d+"/") {
				return true
			}
		}
		return false
	}
	resolve := func(p string) (string, os.FileInfo) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", nil
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return "", nil
		}
		st, err := os.Stat(real)
		if err != nil {
			return "", nil
		}
		return real, st
	}
	var dirs []string
	for _, p := range paths {
		if real, st := resolve(p); st != nil && st.IsDir() && real != "/" {
			dirs = append(dirs, real)
		}
	}
	// Shortest first, so that a path under one already hidden is dropped.
	slices.SortFunc(dirs, func(a, b string) int { return len(a) - len(b) })
	for _, d := range dirs {
		if !under(d, covered) {
			s.hideDirs = append(s.hideDirs, d)
			covered = append(covered, d)
		}
	}
	for _, p := range files {
		if real, st := resolve(p); st != nil && st.Mode().IsRegular() && !under(real, covered) && !slices.Contains(s.hideFiles, real) {
			s.hideFiles = append(s.hideFiles, real)
		}
	}
	return nil
}

// visible reports whether path (after its symbolic links) is on the part of the host a
// sandbox shows.
func (s *sandbox) visible(path string) bool {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return false
	}
	for _, d := range append([]string{"/home", "/run", "/tmp"}, s.hideDirs...) {
		if real == d || strings.HasPrefix(real, d+"/") {
			return false
		}
	}
	return !slices.Contains(s.hideFiles, real)
}

// boxSpec is what a kernel's sandbox is made of.
type boxSpec struct {
	kernelID string
	uid      int
	work     string   // the host directory mounted at /home/work
	tmp      string   // the host directory mounted at /tmp
	driver   string   // the host file mounted at sandboxDriver; "" for none
	env      []string // bwrap's and the supervisor's environment
	log      io.Writer
	cgroup   kernelCgroup
	nice     int // the nice value of the sandbox's processes (0: the agent's)
}

// args returns bwrap's arguments for spec, whose directories are mounted on the stage; the
// command is the executable passed as fd 4.
func (s *sandbox) args(spec *boxSpec) []string {
	a := []string{
		"--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
		"--disable-userns", "--die-with-parent", "--new-session", "--hostname", "kernel",
		"--ro-bind", "/", "/",
		"--proc", "/proc",
		"--dev", "/dev",
		"--size", strconv.Itoa(sandboxShmSize), "--tmpfs", "/dev/shm",
		"--remount-ro", "/dev",
	}
	for _, d := range s.hideDirs {
		a = append(a, "--size", "4096", "--tmpfs", d, "--remount-ro", d)
	}
	for _, f := range s.hideFiles {
		a = append(a, "--ro-bind", "/dev/null", f)
	}
	a = append(a,
		"--size", "65536", "--tmpfs", "/home", "--bind", filepath.Join(s.stage, "work"), sandboxWorkDir, "--remount-ro", "/home",
		"--bind", filepath.Join(s.stage, "tmp"), "/tmp",
		"--size", "65536", "--tmpfs", "/run")
	if spec.driver != "" {
		a = append(a, "--ro-bind", filepath.Join(s.stage, "driver.py"), sandboxDriver)
	}
	return append(a, "--remount-ro", "/run", "--chdir", sandboxWorkDir, "--info-fd", "5", "--", "/proc/self/fd/4")
}

// box is one kernel's running sandbox.
type box struct {
	cmd  *exec.Cmd
	conn *net.UnixConn
	// pgid is the host pid of the sandbox's init: the kernel's process group and session.
	pgid int
	// exited is closed once bwrap has ended, and with it every process of the sandbox.
	exited chan struct{}
	code   int
	errs   *tailWriter

	mu      sync.Mutex
	next    uint64
	calls   map[uint64]*boxCall
	broken  bool
	sendMu  sync.Mutex
	readyCh chan struct{}
}

// boxCall is one spawn request waiting for its answers.
type boxCall struct {
	started chan supervisorMsg
	exit    chan int
}

// sandboxStartTimeout bounds how long a sandbox takes to start.
const sandboxStartTimeout = 15 * time.Second

// start starts a sandbox for spec.
func (s *sandbox) start(spec *boxSpec) (_ *box, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "supervisor"), os.NewFile(uintptr(fds[1]), "agent")
	defer theirs.Close()
	// Spawn requests carry shell code in their arguments: room for them in one message.
	_ = syscall.SetsockoptInt(fds[0], syscall.SOL_SOCKET, syscall.SO_SNDBUFFORCE, 4*maxSpawnRequest)
	fc, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		return nil, fmt.Errorf("supervisor socket: %w", err)
	}
	conn := fc.(*net.UnixConn)
	defer func() {
		if err != nil {
			conn.Close()
		}
	}()
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("agent executable: %w", err)
	}
	defer exe.Close()
	infoR, infoW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer infoR.Close()
	defer infoW.Close()

	b := &box{conn: conn, exited: make(chan struct{}), errs: &tailWriter{max: 4096}, calls: map[uint64]*boxCall{},
		readyCh: make(chan struct{})}
	stage := stageSpec{UID: spec.uid, Dir: s.stage, Binds: [][2]string{{spec.work, "work"}, {spec.tmp, "tmp"}}, Nice: spec.nice}
	if spec.driver != "" {
		stage.Binds = append(stage.Binds, [2]string{spec.driver, "driver.py"})
	}
	stageJSON, err := json.Marshal(stage)
	if err != nil {
		return nil, err
	}
	stdout, stderr := io.MultiWriter(spec.log), io.MultiWriter(spec.log, b.errs)
	command := func(cgroup *os.File) *exec.Cmd {
		cmd := exec.Command("/proc/self/exe", append([]string{s.bwrap}, s.args(spec)...)...)
		cmd.Args[0] = "hangar-sandbox-stage"
		cmd.Dir = "/"
		cmd.Env = append(slices.Clone(spec.env), "GOMAXPROCS=1", sandboxStageEnv+"="+string(stageJSON),
			fmt.Sprintf("%s=3,4,%d,%d,%d", sandboxInitEnv, s.maxProcs, s.maxFiles, s.maxFileSize))
		cmd.ExtraFiles = []*os.File{theirs, exe, infoW}
		// Pipes, not the log file itself: no file of the host is open in the sandbox.
		cmd.Stdout, cmd.Stderr = stdout, stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Unshareflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
		if cgroup != nil {
			// Started right in the kernel's cgroup, with everything it starts.
			cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(cgroup.Fd())
		}
		return cmd
	}
	cmd := command(nil)
	if cg, err := spec.cgroup.open(); err == nil {
		defer cg.Close()
		cmd = command(cg)
		if err := startOnLockedThread(cmd); err != nil {
			// Limits are best effort: start outside the cgroup.
			cmd = command(nil)
		}
	}
	if cmd.Process == nil {
		if err := startOnLockedThread(cmd); err != nil {
			return nil, fmt.Errorf("start bwrap: %w", err)
		}
	}
	b.cmd = cmd
	theirs.Close()
	exe.Close()
	infoW.Close()
	go func() {
		b.code = exitCode(cmd.Wait())
		close(b.exited)
		b.fail()
	}()
	go b.read()
	abort := func(what string, err error) (*box, error) {
		_ = cmd.Process.Kill()
		<-b.exited
		msg := strings.TrimSpace(b.errs.String())
		if msg == "" {
			msg = fmt.Sprintf("exit code %d", b.code)
		}
		if err != nil {
			return nil, fmt.Errorf("kernel sandbox %s: %v: %s", what, err, msg)
		}
		return nil, fmt.Errorf("kernel sandbox %s: %s", what, msg)
	}
	var info struct {
		ChildPid int `json:"child-pid"`
	}
	infoErr := make(chan error, 1)
	go func() { infoErr <- json.NewDecoder(infoR).Decode(&info) }()
	timer := time.NewTimer(sandboxStartTimeout)
	defer timer.Stop()
	select {
	case err := <-infoErr:
		if err != nil || info.ChildPid <= 0 {
			return abort("did not start", nil)
		}
	case <-timer.C:
		return abort("did not start in time", nil)
	}
	b.pgid = info.ChildPid
	select {
	case <-b.readyCh:
	case <-b.exited:
		return abort("ended while starting", nil)
	case <-timer.C:
		return abort("supervisor did not start in time", nil)
	}
	return b, nil
}

// read dispatches the supervisor's messages until the socket closes.
func (b *box) read() {
	defer b.fail()
	buf := make([]byte, 64<<10)
	for {
		n, err := b.conn.Read(buf)
		if err != nil || n == 0 {
			return
		}
		var m supervisorMsg
		if json.Unmarshal(buf[:n], &m) != nil {
			continue
		}
		if m.Ready {
			select {
			case <-b.readyCh:
			default:
				close(b.readyCh)
			}
			continue
		}
		b.mu.Lock()
		c := b.calls[m.ID]
		b.mu.Unlock()
		if c == nil {
			continue
		}
		if m.Exit != nil {
			b.mu.Lock()
			delete(b.calls, m.ID)
			b.mu.Unlock()
			select {
			case c.exit <- *m.Exit:
			default:
			}
			continue
		}
		select {
		case c.started <- m:
		default:
		}
	}
}

// fail ends every call still waiting: the sandbox is gone.
func (b *box) fail() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.broken = true
	for id, c := range b.calls {
		select {
		case c.started <- supervisorMsg{ID: id, Error: "the kernel's sandbox ended"}:
		default:
		}
		select {
		case c.exit <- 128 + int(syscall.SIGKILL):
		default:
		}
		delete(b.calls, id)
	}
}

// spawn starts argv in the sandbox with files as its stdin, stdout, stderr and fd 3 and up,
// and returns a function waiting for its exit code.
func (b *box) spawn(argv, env []string, files []*os.File) (wait func() int, err error) {
	req := spawnRequest{Argv: argv, Env: env, Dir: sandboxWorkDir}
	b.mu.Lock()
	if b.broken {
		b.mu.Unlock()
		return nil, errors.New("the kernel's sandbox has ended")
	}
	b.next++
	req.ID = b.next
	c := &boxCall{started: make(chan supervisorMsg, 1), exit: make(chan int, 1)}
	b.calls[req.ID] = c
	b.mu.Unlock()
	drop := func() {
		b.mu.Lock()
		delete(b.calls, req.ID)
		b.mu.Unlock()
	}
	msg, err := json.Marshal(req)
	if err != nil {
		drop()
		return nil, err
	}
	if len(msg) > maxSpawnRequest {
		drop()
		return nil, fmt.Errorf("command and environment exceed %d bytes", maxSpawnRequest)
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	b.sendMu.Lock()
	_, _, err = b.conn.WriteMsgUnix(msg, syscall.UnixRights(fds...), nil)
	b.sendMu.Unlock()
	runtime.KeepAlive(files)
	if err != nil {
		drop()
		return nil, fmt.Errorf("kernel supervisor: %w", err)
	}
	var m supervisorMsg
	select {
	case m = <-c.started:
	case <-time.After(sandboxStartTimeout):
		// A supervisor the kernel stopped (SIGSTOP) answers nothing.
		m.Error = "the kernel's supervisor does not answer"
	}
	if m.Error != "" {
		drop()
		return nil, errors.New(m.Error)
	}
	return func() int { return <-c.exit }, nil
}

// kill ends the sandbox: SIGTERM to the kernel's process group, and when it outlives grace,
// SIGKILL to the sandbox's init, which ends every process of its PID namespace.
func (b *box) kill(grace time.Duration) {
	_ = syscall.Kill(-b.pgid, syscall.SIGTERM)
	select {
	case <-b.exited:
		return
	case <-time.After(grace):
	}
	_ = syscall.Kill(-b.pgid, syscall.SIGKILL)
	_ = b.cmd.Process.Kill()
	select {
	case <-b.exited:
	case <-time.After(5 * time.Second):
	}
}

func (b *box) close() { _ = b.conn.Close() }

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > w.max {
		w.buf = w.buf[len(w.buf)-w.max:]
	}
	w.mu.Unlock()
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}

// lockedStarter starts processes from one OS thread that never ends: a child's parent-death
// signal (bwrap's --die-with-parent, Pdeathsig) fires when the thread that started it ends,
// and the Go runtime ends threads of its own accord.
var lockedStarter struct {
	once sync.Once
	reqs chan func()
}

func startOnLockedThread(cmd *exec.Cmd) error {
	lockedStarter.once.Do(func() {
		lockedStarter.reqs = make(chan func())
		go func() {
			runtime.LockOSThread()
			for f := range lockedStarter.reqs {
				f()
			}
		}()
	})
	done := make(chan error, 1)
	lockedStarter.reqs <- func() { done <- cmd.Start() }
	return <-done
}

// uidPool hands out the uids of a host's kernels: uid base+i is held through an exclusive
// flock on <dir>/<uid> by the agent process whose kernel uses it; a uid some process still
// runs as (a kernel an agent left behind) is skipped.
type uidPool struct {
	dir         string
	base, count int
}

// uidLease is a uid held for one kernel.
type uidLease struct {
	uid  int
	lock *os.File
}

func (p *uidPool) acquire() (*uidLease, error) {
	busy := uidsInUse(p.base, p.count)
	for i := range p.count {
		uid := p.base + i
		if busy[uid] {
			continue
		}
		f, err := os.OpenFile(filepath.Join(p.dir, strconv.Itoa(uid)), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("kernel uid lock: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				continue
			}
			return nil, fmt.Errorf("kernel uid lock: %w", err)
		}
		// Checked again under the lock: a kernel may have been starting meanwhile.
		if uidsInUse(uid, 1)[uid] {
			f.Close()
			continue
		}
		return &uidLease{uid: uid, lock: f}, nil
	}
	return nil, fmt.Errorf("no free kernel uid in %d..%d (sandbox.uid-base, sandbox.uid-count)", p.base, p.base+p.count-1)
}

func (l *uidLease) release() {
	if l != nil && l.lock != nil {
		_ = l.lock.Close()
		l.lock = nil
	}
}

// uidsInUse returns the real uids in [base, base+count) of the host's processes.
func uidsInUse(base, count int) map[int]bool {
	out := map[int]bool{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		_, rest, ok := bytes.Cut(b, []byte("\nUid:"))
		if !ok {
			continue
		}
		line, _, _ := bytes.Cut(rest, []byte("\n"))
		f := strings.Fields(string(line))
		if len(f) == 0 {
			continue
		}
		if uid, err := strconv.Atoi(f[0]); err == nil && uid >= base && uid < base+count {
			out[uid] = true
		}
	}
	return out
}
