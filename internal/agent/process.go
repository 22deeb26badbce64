package agent

import (
	"context"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hangar-run/hangar/internal/agentrpc"
)

//go:embed driver.py
var pythonDriver []byte

// Image labels the process runtime reads.
const (
	LabelRuntimeType = "ai.backend.runtime-type"
	LabelRuntimePath = "ai.backend.runtime-path"
)

// DefaultFlushTimeout is how long an execute call gathers output before it answers with
// status "continued" when the request names no flush timeout.
const DefaultFlushTimeout = 2 * time.Second

// maxColdStarts is how many kernels start at once without a warm sandbox.
const maxColdStarts = 4

// DefaultKillGrace is how long DestroyKernel waits after SIGTERM before it sends SIGKILL.
const DefaultKillGrace = 3 * time.Second

// KernelExit reports a kernel whose main process ended by itself (not through DestroyKernel).
type KernelExit struct {
	// KernelID is the kernel's UUID.
	KernelID string
	// SessionID is the owning session's UUID.
	SessionID string
	// ExitCode is the main process's exit code (128+signal when a signal killed it).
	ExitCode int
	// Time is when the runtime saw the exit.
	Time time.Time
}

// ExitNotifier is implemented by runtimes whose kernels can end by themselves; the agent
// registers its handler once, before it creates kernels.
type ExitNotifier interface {
	// SetExitHandler sets the function called (from the runtime's goroutines) when a
	// kernel's main process ends by itself.
	SetExitHandler(func(KernelExit))
}

// ProcessRuntime runs each kernel as a process group on the host, in its own scratch
// directory <root>/<kernel id> with the working directory work/ and the log kernel.log. By
// default every kernel runs in a sandbox of its own (sandbox.go): its own uid, namespaces
// and limits, the host read-only, work/ as /home/work; WithSandbox(SandboxSection{Insecure:
// true}) runs kernels as the agent's user instead.
// Python images get a persistent interpreter for query mode, which can ask for input (mode
// input); others run each query with /bin/sh -c (or the image's shell). Mode batch runs its
// clean, build and exec commands with the shell, for every image (batch.go). A batch
// kernel's startup command is its main process. When /sys/fs/cgroup is a writable cgroup v2
// hierarchy, each kernel gets a cgroup (hangar/<kernel id>) with its cpu and mem slots as
// cpu.max and memory.max; elsewhere kernels run unlimited. A restart (restart.go) starts a
// kernel's processes again in the same scratch directory.
type ProcessRuntime struct {
	root  string
	now   func() time.Time
	grace time.Duration

	mu      sync.Mutex
	kernels map[string]*procKernel
	onExit  func(KernelExit)

	lock   *os.File // the scratch root's flock (leftovers.go)
	reaped []string

	sb     *sandbox             // nil when kernels run unsandboxed
	uids   map[string]*uidLease // the uid of each sandboxed kernel, by kernel id
	logger *slog.Logger

	pool *warmPool // nil without warm interpreters (warmpool.go)
	// coldStarts bounds the kernels starting without a warm sandbox at once.
	coldStarts chan struct{}
	// starting holds the kernels being handed a warm sandbox, closed once they are.
	starting map[string]chan struct{}
}

// ProcessOption configures a ProcessRuntime.
type ProcessOption func(*processOptions)

type processOptions struct {
	sandbox SandboxSection
	warm    int
}

// WithSandbox sets how the runtime sandboxes its kernels (agent.toml's [sandbox]).
func WithSandbox(cfg SandboxSection) ProcessOption {
	return func(o *processOptions) { o.sandbox = cfg }
}

// WithWarmInterpreters keeps n started sandboxes with their interpreter per Python
// interpreter, handed to new Python kernels (warmpool.go); 0, the default, keeps none.
// Unsandboxed runtimes keep none.
func WithWarmInterpreters(n int) ProcessOption {
	return func(o *processOptions) { o.warm = n }
}

var (
	_ Runtime      = (*ProcessRuntime)(nil)
	_ ExitNotifier = (*ProcessRuntime)(nil)
)

// NewProcessRuntime returns a ProcessRuntime keeping scratch directories under root
// (created when missing); now is its clock (time.Now when nil). Kernels are sandboxed unless
// an option says otherwise; the sandbox is tested once here, and a sandbox that cannot work
// on this host (no bubblewrap, not root, no user namespaces) is an error.
func NewProcessRuntime(root string, now func() time.Time, opts ...ProcessOption) (*ProcessRuntime, error) {
	if now == nil {
		now = time.Now
	}
	var o processOptions
	for _, opt := range opts {
		opt(&o)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("scratch root %q: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("scratch root: %w", err)
	}
	var sb *sandbox
	if !o.sandbox.Insecure {
		if sb, err = newSandbox(o.sandbox, abs); err != nil {
			return nil, sandboxError(err)
		}
		// Only the agent enters the root (a kernel's directories reach its sandbox through
		// the stage, sandbox_init.go).
		if err := os.Chmod(abs, 0o700); err != nil {
			return nil, fmt.Errorf("scratch root: %w", err)
		}
	}
	lock, err := lockRoot(abs)
	if err != nil {
		return nil, err
	}
	reaped, err := reapLeftovers(abs)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("kernels left in %s: %w", abs, err)
	}
	if o.warm < 0 || o.warm > MaxWarmInterpreters {
		lock.Close()
		return nil, fmt.Errorf("sandbox.warm-interpreters %d: want 0 to %d", o.warm, MaxWarmInterpreters)
	}
	r := &ProcessRuntime{root: abs, now: now, grace: DefaultKillGrace, kernels: make(map[string]*procKernel),
		lock: lock, reaped: reaped, sb: sb, uids: map[string]*uidLease{}, logger: slog.Default(),
		starting: map[string]chan struct{}{}, coldStarts: make(chan struct{}, maxColdStarts)}
	if sb != nil {
		if err := r.checkSandbox(); err != nil {
			lock.Close()
			return nil, sandboxError(err)
		}
		if o.warm > 0 {
			// The host's python3 is kept warm from the start; other interpreters once a
			// kernel asks for them.
			var interps []string
			if _, p, err := imageRuntime(agentrpc.ImageRef{RuntimeType: "python"}, sb.visible); err == nil {
				interps = append(interps, p)
			}
			r.pool = newWarmPool(r, o.warm, interps...)
		}
	}
	return r, nil
}

func sandboxError(err error) error {
	return fmt.Errorf("the process runtime cannot sandbox kernels on this host: %w "+
		"(install bubblewrap and run the agent as root, or run kernels unsandboxed with --insecure-no-sandbox)", err)
}

// Sandboxed reports whether the runtime runs its kernels in sandboxes.
func (r *ProcessRuntime) Sandboxed() bool { return r.sb != nil }

// SetLogger sets the logger of the runtime's warnings.
func (r *ProcessRuntime) SetLogger(l *slog.Logger) { r.logger = l }

// Reaped returns the kernels an earlier agent process had left in the scratch root, which
// NewProcessRuntime killed and removed.
func (r *ProcessRuntime) Reaped() []string { return r.reaped }

// Close implements [Runtime]: it ends the warm sandboxes and releases the scratch root for
// another ProcessRuntime; the kernels' processes are left running (the next agent process on
// the root ends them).
func (r *ProcessRuntime) Close() error {
	if r.pool != nil {
		r.pool.close()
	}
	if r.lock == nil {
		return nil
	}
	err := r.lock.Close()
	r.lock = nil
	return err
}

// SetKillGrace sets how long DestroyKernel waits between SIGTERM and SIGKILL.
func (r *ProcessRuntime) SetKillGrace(d time.Duration) { r.grace = d }

// SetExitHandler implements [ExitNotifier].
func (r *ProcessRuntime) SetExitHandler(f func(KernelExit)) {
	r.mu.Lock()
	r.onExit = f
	r.mu.Unlock()
}

// Name implements [Runtime].
func (*ProcessRuntime) Name() string { return RuntimeProcess }

// procKernel is one kernel of a ProcessRuntime.
type procKernel struct {
	info    Kernel
	cfg     agentrpc.KernelConfig // the creation config, for restarts
	dir     string
	work    string
	box     *box      // the kernel's sandbox; nil when unsandboxed
	lease   *uidLease // the kernel's uid; nil when unsandboxed
	python  bool
	interp  string // the image's interpreter: the Python path for Python images, else the shell
	shell   string
	env     []string
	log     *os.File
	pgid    int
	reqW    *os.File // python: request pipe
	cgroup  kernelCgroup
	waiters sync.WaitGroup

	mu        sync.Mutex
	cur       *run
	destroyed bool
}

// run is one execution's output, filled by the process and drained by execute calls. A
// batch run is cut into phases: each phase end (clean-finished, build-finished) closes the
// output gathered so far, and each execute call answers at most up to the next phase end.
type run struct {
	// interp is set for runs of the Python interpreter, which its exit ends.
	interp bool

	mu      sync.Mutex
	console [][2]string
	phases  []phaseEnd
	done    bool
	exit    int
	// waiting is set while the interpreter waits for input request seq; password when
	// the input is a password.
	waiting  bool
	seq      int64
	password bool
	wake     chan struct{}
}

// phaseEnd is the output of a finished batch phase, not yet answered.
type phaseEnd struct {
	console [][2]string
	status  string
	exit    int
}

func newRun(interp bool) *run { return &run{interp: interp, wake: make(chan struct{})} }

// notify wakes the run's collectors; r.mu must be held.
func (r *run) notify() {
	close(r.wake)
	r.wake = make(chan struct{})
}

func (r *run) add(stream, text string) {
	r.mu.Lock()
	if n := len(r.console); n > 0 && r.console[n-1][0] == stream {
		r.console[n-1][1] += text
	} else {
		r.console = append(r.console, [2]string{stream, text})
	}
	r.notify()
	r.mu.Unlock()
}

// endPhase closes the output so far as a batch phase that ended with status and code.
func (r *run) endPhase(status string, code int) {
	r.mu.Lock()
	if !r.done {
		r.phases = append(r.phases, phaseEnd{console: r.console, status: status, exit: code})
		r.console = nil
		r.notify()
	}
	r.mu.Unlock()
}

func (r *run) finish(code int) {
	r.mu.Lock()
	if !r.done {
		r.done, r.exit = true, code
		r.waiting = false
		r.notify()
	}
	r.mu.Unlock()
}

// waitInput records that the interpreter waits for the answer to input request seq.
func (r *run) waitInput(seq int64, password bool) {
	r.mu.Lock()
	if !r.done {
		r.waiting, r.seq, r.password = true, seq, password
		r.notify()
	}
	r.mu.Unlock()
}

// cancelInput records that the interpreter stopped waiting for input request seq without an
// answer.
func (r *run) cancelInput(seq int64) {
	r.mu.Lock()
	if r.waiting && r.seq == seq {
		r.waiting = false
	}
	r.mu.Unlock()
}

// takeInput ends the wait for input and returns the request it answers; false when the run
// does not wait for input.
func (r *run) takeInput() (int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.waiting || r.done {
		return 0, false
	}
	r.waiting = false
	return r.seq, true
}

func (r *run) isDone() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done
}

// collect waits up to wait for the run to finish, end a phase or wait for input, and returns
// the output gathered so far: status continued when none of these happened in time.
func (r *run) collect(ctx context.Context, runID string, wait time.Duration) *agentrpc.ExecuteResult {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		r.mu.Lock()
		ready, ch := r.done || r.waiting || len(r.phases) > 0, r.wake
		r.mu.Unlock()
		if ready {
			break
		}
		select {
		case <-ch:
			continue
		case <-timer.C:
		case <-ctx.Done():
		}
		break
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	res := &agentrpc.ExecuteResult{RunID: runID, Status: agentrpc.ExecStatusContinued,
		Files: []map[string]any{}, Options: map[string]any{}}
	switch {
	case len(r.phases) > 0:
		p := r.phases[0]
		r.phases = r.phases[1:]
		exit := p.exit
		res.Console, res.Status, res.ExitCode = p.console, p.status, &exit
	case r.done:
		exit := r.exit
		res.Console, res.Status, res.ExitCode = r.console, agentrpc.ExecStatusFinished, &exit
		r.console = nil
	case r.waiting:
		res.Console, res.Status = r.console, agentrpc.ExecStatusWaitingInput
		res.Options["is_password"] = r.password
		r.console = nil
	default:
		res.Console = r.console
		r.console = nil
	}
	if res.Console == nil {
		res.Console = [][2]string{}
	}
	return res
}

// CreateKernel implements [Runtime]. A Python kernel gets a warm sandbox when one is at hand
// (warmpool.go), and starts cold otherwise.
func (r *ProcessRuntime) CreateKernel(_ context.Context, cfg *agentrpc.KernelConfig) (*agentrpc.KernelCreated, error) {
	if cfg.KernelID == "" || !filepath.IsLocal(cfg.KernelID) || strings.ContainsRune(cfg.KernelID, '/') {
		return nil, agentrpc.Errorf(agentrpc.KindInvalidInput, "invalid kernel_id %q", cfg.KernelID)
	}
	var interp string
	if r.pool != nil && cfg.ScratchDir == "" && warmable(cfg) {
		if python, p, err := imageRuntime(cfg.Image, r.sb.visible); err == nil && python {
			interp = p
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if k, ok := r.kernels[cfg.KernelID]; ok {
			return r.created(k, cfg), nil
		}
		ch, ok := r.starting[cfg.KernelID]
		if !ok {
			break
		}
		r.mu.Unlock()
		<-ch
		r.mu.Lock()
	}
	// Started without r.mu, so that kernels start side by side; a second create of the
	// kernel waits above.
	var w *warmEntry
	if interp != "" {
		w = r.pool.take(interp)
	}
	ch := make(chan struct{})
	r.starting[cfg.KernelID] = ch
	r.mu.Unlock()
	var k *procKernel
	var err error
	if w != nil {
		if k, err = r.handOver(w, cfg); err != nil {
			k = nil
			r.logger.Warn("a warm interpreter could not be handed over; starting the kernel cold",
				"kernel", cfg.KernelID, "err", err)
		}
	}
	if k == nil {
		r.coldStarts <- struct{}{}
		k, err = r.start(cfg, nil, false)
		<-r.coldStarts
	}
	if err == nil {
		r.prepareHome(k, cfg)
	}
	r.mu.Lock()
	delete(r.starting, cfg.KernelID)
	close(ch)
	if err != nil {
		return nil, err
	}
	if r.sb == nil {
		r.logger.Warn("KERNEL RUNS UNSANDBOXED, as the agent's own user with the agent's access to this host "+
			"(hangar-agent --insecure-no-sandbox)", "kernel", cfg.KernelID, "session", cfg.SessionID)
	} else {
		r.uids[cfg.KernelID] = k.lease
	}
	r.kernels[cfg.KernelID] = k
	return r.created(k, cfg), nil
}

func (r *ProcessRuntime) created(k *procKernel, cfg *agentrpc.KernelConfig) *agentrpc.KernelCreated {
	return &agentrpc.KernelCreated{
		KernelID:     k.info.KernelID,
		ContainerID:  k.info.ContainerID,
		KernelHost:   "127.0.0.1",
		AgentAddr:    cfg.AgentAddr,
		ScalingGroup: cfg.ScalingGroup,
	}
}

// imageRuntime returns whether the image runs Python and the interpreter (or shell) path.
// visible, when not nil, says whether a path can be run inside the kernel's sandbox:
// interpreters the sandbox hides are passed over.
func imageRuntime(img agentrpc.ImageRef, visible func(string) bool) (python bool, path string, err error) {
	if visible == nil {
		visible = func(string) bool { return true }
	}
	typ := img.Labels[LabelRuntimeType]
	if typ == "" {
		typ = img.RuntimeType
	}
	p := img.Labels[LabelRuntimePath]
	if p == "" {
		p = img.RuntimePath
	}
	python = strings.HasPrefix(typ, "python") || (typ == "" && strings.Contains(img.Canonical, "python"))
	if p != "" && visible(p) {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return python, p, nil
		}
	}
	if python {
		err := exec.ErrNotFound
		for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
			if dir == "" || !filepath.IsAbs(dir) {
				continue
			}
			cand := filepath.Join(dir, "python3")
			if _, lerr := exec.LookPath(cand); lerr == nil && visible(cand) {
				return true, cand, nil
			}
		}
		return true, "", fmt.Errorf("python image %q: no python3 on this host: %w", img.Canonical, err)
	}
	return false, "/bin/sh", nil
}

// start sets up a kernel's scratch directory and starts its processes, sandboxed with lease's
// uid (a new one when nil; k.lease). A restart reuses the directory as it is and keeps it
// when the start fails. A failed start releases the lease.
//
// Sandboxed, the scratch directory is root's with mode 0700 and its log 0600; work/ and tmp/
// (the kernel's /home/work and /tmp) belong to the kernel's uid with mode 0700. The uid is
// the kernel's from its creation until it is destroyed, restarts included.
func (r *ProcessRuntime) start(cfg *agentrpc.KernelConfig, lease *uidLease, restart bool) (_ *procKernel, err error) {
	var visible func(string) bool
	if r.sb != nil {
		visible = r.sb.visible
	}
	python, interp, err := imageRuntime(cfg.Image, visible)
	if err != nil {
		return nil, agentrpc.Errorf(agentrpc.KindInvalidInput, "%v", err)
	}
	dir := cfg.ScratchDir
	if dir == "" {
		dir = filepath.Join(r.root, cfg.KernelID)
	}
	k := &procKernel{
		info: Kernel{KernelID: cfg.KernelID, SessionID: cfg.SessionID, Slots: cloneMap(cfg.ResourceSlots), Created: r.now()},
		cfg:  *cfg,
		dir:  dir, work: filepath.Join(dir, "work"), python: python, interp: interp, shell: "/bin/sh",
	}
	if !python {
		k.shell = interp
	}
	if err := os.MkdirAll(k.work, 0o755); err != nil {
		return nil, fmt.Errorf("scratch dir: %w", err)
	}
	defer func() {
		if err != nil {
			k.mu.Lock()
			k.destroyed = true
			k.mu.Unlock()
			k.kill(r.grace)
			k.close()
			k.waiters.Wait()
			_ = k.cgroup.remove()
			if !restart {
				_ = os.RemoveAll(dir)
			}
			// A kernel that does not start is forgotten, restarts included.
			lease.release()
		}
	}()
	if r.sb != nil {
		if lease == nil {
			lease, err = r.sb.uids.acquire()
			// Kernels come first: a warm sandbox gives its uid up.
			for err != nil && r.pool != nil && r.pool.evict() {
				lease, err = r.sb.uids.acquire()
			}
			if err != nil {
				return nil, err
			}
		}
		k.lease = lease
		if err := kernelDirs(dir, lease.uid); err != nil {
			return nil, err
		}
	}
	if k.log, err = os.OpenFile(filepath.Join(dir, "kernel.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, fmt.Errorf("kernel log: %w", err)
	}
	home, tmp := k.work, ""
	if r.sb != nil {
		home, tmp = sandboxWorkDir, "/tmp"
	}
	k.env = kernelEnv(cfg, home, tmp)

	drv := ""
	if python {
		drv = filepath.Join(dir, "driver.py")
		if err := os.WriteFile(drv, pythonDriver, 0o644); err != nil {
			return nil, fmt.Errorf("write driver: %w", err)
		}
	}
	k.cgroup = newKernelCgroup(cfg.KernelID, cfg.ResourceSlots)
	// The kernel's process group: its sandbox, or (unsandboxed) the Python driver or a
	// placeholder started first.
	holderIsMain := !python && cfg.StartupCommand == ""
	if r.sb != nil {
		spec := &boxSpec{kernelID: cfg.KernelID, uid: lease.uid, work: k.work, tmp: filepath.Join(dir, "tmp"),
			driver: drv, env: boxEnv(cfg), log: k.log, cgroup: k.cgroup}
		if k.box, err = r.sb.start(spec); err != nil {
			return nil, err
		}
		k.pgid = k.box.pgid
		k.waiters.Add(1)
		go func() {
			defer k.waiters.Done()
			<-k.box.exited
			if holderIsMain {
				r.reportExit(k, k.box.code)
			}
		}()
		drv = sandboxDriver
	} else if !python {
		wait, err := k.launch([]string{"/bin/sh", "-c", "trap '' INT; exec sleep 2147483647"}, nil, k.log, k.log)
		if err != nil {
			return nil, fmt.Errorf("start kernel process: %w", err)
		}
		k.waiters.Add(1)
		go func() {
			defer k.waiters.Done()
			if code := wait(); holderIsMain {
				r.reportExit(k, code)
			}
		}()
	}

	if python {
		reqR, reqW, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("pipe: %w", err)
		}
		defer reqR.Close()
		repR, repW, err := os.Pipe()
		if err != nil {
			reqW.Close()
			return nil, fmt.Errorf("pipe: %w", err)
		}
		k.reqW = reqW
		wait, err := k.launch(interpArgv(interp, drv), []*os.File{reqR, repW}, k.log, k.log)
		repW.Close()
		if err != nil {
			repR.Close()
			return nil, fmt.Errorf("start kernel process: %w", err)
		}
		go k.readReplies(repR)
		r.watchInterp(k, wait, cfg.StartupCommand == "")
	}
	k.info.ContainerID = "pgid-" + strconv.Itoa(k.pgid)
	if err := r.startStartup(k, cfg); err != nil {
		return nil, err
	}
	return k, nil
}

// kernelDirs makes a sandboxed kernel's scratch directory dir, root's with mode 0700, and its
// work/ and tmp/, uid's with mode 0700.
func kernelDirs(dir string, uid int) error {
	for _, d := range []struct {
		path string
		uid  int
	}{{dir, 0}, {filepath.Join(dir, "work"), uid}, {filepath.Join(dir, "tmp"), uid}} {
		if err := os.Mkdir(d.path, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("scratch dir: %w", err)
		}
		if err := os.Lchown(d.path, d.uid, d.uid); err != nil {
			return fmt.Errorf("scratch dir: %w", err)
		}
		if err := os.Chmod(d.path, 0o700); err != nil {
			return fmt.Errorf("scratch dir: %w", err)
		}
	}
	return nil
}

// interpArgv is the command starting the Python driver drv with interp. SIGINT is ignored
// from the start (the driver takes it only while code runs), so that an interrupt before the
// driver is up does not end the interpreter.
func interpArgv(interp, drv string) []string {
	return []string{"/bin/sh", "-c", `trap '' INT; exec "$0" -u "$1"`, interp, drv}
}

// watchInterp waits (wait) for k's interpreter to end: a run in progress ends with it, and
// when it is the kernel's main process (mainIsDriver), its exit is reported.
func (r *ProcessRuntime) watchInterp(k *procKernel, wait func() int, mainIsDriver bool) {
	k.waiters.Add(1)
	go func() {
		defer k.waiters.Done()
		code := wait()
		k.mu.Lock()
		cur := k.cur
		k.mu.Unlock()
		if cur != nil && cur.interp && !cur.isDone() {
			cur.add("stderr", fmt.Sprintf("kernel interpreter exited with code %d\n", code))
			cur.finish(code)
		}
		if mainIsDriver {
			r.reportExit(k, code)
		}
	}()
}

// startStartup starts cfg's startup command, if any, as k's main process.
func (r *ProcessRuntime) startStartup(k *procKernel, cfg *agentrpc.KernelConfig) error {
	if cfg.StartupCommand == "" {
		return nil
	}
	wait, err := k.launch([]string{"/bin/sh", "-c", cfg.StartupCommand}, nil, k.log, k.log)
	if err != nil {
		return fmt.Errorf("start startup command: %w", err)
	}
	k.waiters.Add(1)
	go func() {
		defer k.waiters.Done()
		r.reportExit(k, wait())
	}()
	return nil
}

// launch starts argv as one of k's processes, with stdin /dev/null, stdout and stderr going
// to the writers and extra as its fds 3 and up: in the kernel's sandbox, or unsandboxed in
// its working directory, process group (which the first process launched leads) and cgroup.
// wait waits for the process, and for its output to be copied, and returns its exit code
// (128+signal when a signal ended it); it must be called.
func (k *procKernel) launch(argv []string, extra []*os.File, stdout, stderr io.Writer) (wait func() int, err error) {
	if k.box == nil {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = k.work, k.env, stdout, stderr, extra
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: k.pgid}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		if k.pgid == 0 {
			k.pgid = cmd.Process.Pid
		}
		k.cgroup.add(cmd.Process.Pid)
		return func() int { return exitCode(cmd.Wait()) }, nil
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	files := []*os.File{null}
	var copies sync.WaitGroup
	var readers []*os.File
	for range 2 {
		pr, pw, err := os.Pipe()
		if err != nil {
			for _, f := range append(readers, files[1:]...) {
				f.Close()
			}
			return nil, err
		}
		readers = append(readers, pr)
		files = append(files, pw)
	}
	boxWait, err := k.box.spawn(argv, k.env, append(files, extra...))
	for _, f := range files[1:] {
		f.Close()
	}
	if err != nil {
		for _, f := range readers {
			f.Close()
		}
		return nil, err
	}
	for i, w := range []io.Writer{stdout, stderr} {
		copies.Add(1)
		go func() {
			defer copies.Done()
			defer readers[i].Close()
			_, _ = io.Copy(w, readers[i])
		}()
	}
	return func() int {
		code := boxWait()
		copies.Wait()
		return code
	}, nil
}

// kernelEnv returns the environment of a kernel's processes: home is HOME, tmp TMPDIR (the
// agent's TMPDIR when empty, for unsandboxed kernels).
func kernelEnv(cfg *agentrpc.KernelConfig, home, tmp string) []string {
	env := map[string]string{}
	for _, key := range []string{"PATH", "LANG", "TMPDIR"} {
		if v, ok := os.LookupEnv(key); ok {
			env[key] = v
		}
	}
	if tmp != "" {
		// Sandboxed: the kernel's user has no name on the host, as "work" in Backend.AI's
		// containers.
		env["TMPDIR"], env["USER"], env["LOGNAME"] = tmp, "work", "work"
	}
	for key, v := range cfg.Environ {
		env[key] = v
	}
	env["BACKENDAI_SESSION_ID"] = cfg.SessionID
	env["BACKENDAI_KERNEL_ID"] = cfg.KernelID
	env["HOME"] = home
	env["PYTHONUNBUFFERED"] = "1"
	out := make([]string, 0, len(env))
	for key, v := range env {
		out = append(out, key+"="+v)
	}
	slices.Sort(out)
	return out
}

// boxEnv returns the environment of a kernel's sandbox and supervisor: not the kernel's
// (its environ could name LD_PRELOAD and so run code in bwrap before the sandbox exists),
// only what finds the kernel's processes again (leftovers.go).
func boxEnv(cfg *agentrpc.KernelConfig) []string {
	return []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "BACKENDAI_SESSION_ID=" + cfg.SessionID, "BACKENDAI_KERNEL_ID=" + cfg.KernelID}
}

// exitCode maps a Wait error onto an exit code, 128+signal for a killed process.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return -1
}

// reportExit tells the exit handler that k's main process ended, unless k is being destroyed.
func (r *ProcessRuntime) reportExit(k *procKernel, code int) {
	k.mu.Lock()
	destroyed := k.destroyed
	k.mu.Unlock()
	r.mu.Lock()
	f := r.onExit
	r.mu.Unlock()
	if destroyed || f == nil {
		return
	}
	f(KernelExit{KernelID: k.info.KernelID, SessionID: k.info.SessionID, ExitCode: code, Time: r.now()})
}

// readReplies reads the Python driver's frames into the current run until the pipe closes.
func (k *procKernel) readReplies(rd *os.File) {
	defer rd.Close()
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(rd, hdr[:]); err != nil {
			return
		}
		buf := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(rd, buf); err != nil {
			return
		}
		var msg struct {
			Type       string `json:"type"`
			Name       string `json:"name"`
			Text       string `json:"text"`
			ExitCode   int    `json:"exitCode"`
			Seq        int64  `json:"seq"`
			IsPassword bool   `json:"isPassword"`
		}
		if err := json.Unmarshal(buf, &msg); err != nil {
			continue
		}
		if msg.Type == "stream" {
			_, _ = k.log.WriteString(msg.Text)
		}
		k.mu.Lock()
		cur := k.cur
		k.mu.Unlock()
		if cur == nil || !cur.interp {
			continue
		}
		switch msg.Type {
		case "stream":
			cur.add(msg.Name, msg.Text)
		case "waiting-input":
			cur.waitInput(msg.Seq, msg.IsPassword)
		case "input-cancelled":
			cur.cancelInput(msg.Seq)
		case "done":
			cur.finish(msg.ExitCode)
		}
	}
}

// kernel returns kernel id, once it has started when it is being handed a warm sandbox.
func (r *ProcessRuntime) kernel(id string) (*procKernel, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ch, ok := r.starting[id]; ok; ch, ok = r.starting[id] {
		r.mu.Unlock()
		<-ch
		r.mu.Lock()
	}
	k, ok := r.kernels[id]
	if !ok {
		return nil, fmt.Errorf("kernel %s: %w", id, ErrKernelNotFound)
	}
	return k, nil
}

// Execute implements [Runtime] for modes query, batch, continue and input. A run still
// going after the flush timeout (req.FlushTimeout, DefaultFlushTimeout when zero) answers
// "continued"; mode continue fetches more. A batch phase that ends answers at once with its
// status (clean-finished, build-finished), as does a Python run that asks for input
// (waiting-input, answered with mode input).
func (r *ProcessRuntime) Execute(ctx context.Context, req *agentrpc.ExecuteRequest) (*agentrpc.ExecuteResult, error) {
	k, err := r.kernel(req.KernelID)
	if err != nil {
		return nil, err
	}
	wait := req.FlushTimeout
	if wait <= 0 {
		wait = DefaultFlushTimeout
	}
	switch req.Mode {
	case agentrpc.ExecModeQuery, "":
		cur, err := k.begin(k.python)
		if err != nil {
			return nil, err
		}
		if err := k.startQuery(cur, req.Code); err != nil {
			cur.finish(1)
			return nil, err
		}
		return cur.collect(ctx, req.RunID, wait), nil
	case agentrpc.ExecModeBatch:
		phases, err := k.batchPhases(req.Options)
		if err != nil {
			return nil, err
		}
		cur, err := k.begin(false)
		if err != nil {
			return nil, err
		}
		if err := k.hold(); err != nil {
			cur.finish(1)
			return nil, err
		}
		go func() {
			defer k.waiters.Done()
			k.runBatch(cur, phases)
		}()
		return cur.collect(ctx, req.RunID, wait), nil
	case agentrpc.ExecModeContinue:
		k.mu.Lock()
		cur := k.cur
		k.mu.Unlock()
		if cur == nil {
			return nil, agentrpc.Errorf(agentrpc.KindInvalidInput, "kernel %s has no execution to continue", req.KernelID)
		}
		return cur.collect(ctx, req.RunID, wait), nil
	case agentrpc.ExecModeInput:
		k.mu.Lock()
		cur := k.cur
		k.mu.Unlock()
		var seq int64
		ok := cur != nil
		if ok {
			seq, ok = cur.takeInput()
		}
		if !ok {
			return nil, agentrpc.Errorf(agentrpc.KindInvalidInput, "kernel %s is not waiting for input", req.KernelID)
		}
		if err := k.send(map[string]any{"input": req.Code, "seq": seq}); err != nil {
			return nil, err
		}
		return cur.collect(ctx, req.RunID, wait), nil
	default:
		return nil, fmt.Errorf("execute mode %q: %w", req.Mode, ErrNotSupported)
	}
}

// begin makes a new run the kernel's current one (interp: a run of the Python interpreter).
// It fails when the kernel is gone or its current run has not finished.
func (k *procKernel) begin(interp bool) (*run, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.destroyed {
		return nil, fmt.Errorf("kernel %s: %w", k.info.KernelID, ErrKernelNotFound)
	}
	if k.cur != nil && !k.cur.isDone() {
		return nil, agentrpc.Errorf(agentrpc.KindInvalidInput, "kernel %s is still running a previous execution", k.info.KernelID)
	}
	cur := newRun(interp)
	k.cur = cur
	return cur, nil
}

// hold counts one more goroutine DestroyKernel and RestartKernel wait for, unless the kernel
// is already being stopped; the caller calls k.waiters.Done when it ends.
func (k *procKernel) hold() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.destroyed {
		return fmt.Errorf("kernel %s: %w", k.info.KernelID, ErrKernelNotFound)
	}
	k.waiters.Add(1)
	return nil
}

// send writes one request frame to the Python driver.
func (k *procKernel) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(b)))
	if _, err := k.reqW.Write(append(frame, b...)); err != nil {
		return fmt.Errorf("send to kernel %s: %w", k.info.KernelID, err)
	}
	return nil
}

// startQuery sends code to the Python driver, or starts it with the shell.
func (k *procKernel) startQuery(cur *run, code string) error {
	if k.python {
		return k.send(map[string]string{"code": code})
	}
	wait, err := k.spawn(cur, code)
	if err != nil {
		return fmt.Errorf("run query in kernel %s: %w", k.info.KernelID, err)
	}
	go func() { cur.finish(wait()) }()
	return nil
}

// spawn starts command with the kernel's shell in its working directory, with its
// environment, in its process group and cgroup, the output going to cur and the kernel log.
// The command's stdin is /dev/null: shell commands cannot ask for input (mode input is for
// the Python interpreter only). wait waits for the command and returns its exit code; it
// must be called. spawn fails once the kernel is being stopped, so that no process starts
// after DestroyKernel or RestartKernel killed the group.
func (k *procKernel) spawn(cur *run, command string) (wait func() int, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.destroyed {
		return nil, fmt.Errorf("kernel %s: %w", k.info.KernelID, ErrKernelNotFound)
	}
	w, err := k.launch([]string{k.shell, "-c", command}, nil, streamWriter{cur, "stdout", k.log}, streamWriter{cur, "stderr", k.log})
	if err != nil {
		return nil, err
	}
	k.waiters.Add(1)
	return func() int {
		defer k.waiters.Done()
		return w()
	}, nil
}

// streamWriter feeds a shell query's output into its run and the kernel log.
type streamWriter struct {
	r      *run
	stream string
	log    *os.File
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.r.add(w.stream, string(p))
	_, _ = w.log.Write(p)
	return len(p), nil
}

// Interrupt sends SIGINT to a kernel's process group.
func (r *ProcessRuntime) Interrupt(_ context.Context, kernelID string) error {
	k, err := r.kernel(kernelID)
	if err != nil {
		return err
	}
	if err := syscall.Kill(-k.pgid, syscall.SIGINT); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("interrupt kernel %s: %w", kernelID, err)
	}
	return nil
}

// Logs returns a kernel's log: its processes' output.
func (r *ProcessRuntime) Logs(_ context.Context, kernelID string) (string, error) {
	k, err := r.kernel(kernelID)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(k.dir, "kernel.log"))
	if err != nil {
		return "", fmt.Errorf("kernel %s log: %w", kernelID, err)
	}
	return string(b), nil
}

// DestroyKernel implements [Runtime]: SIGTERM to the group, SIGKILL after the grace period,
// then the scratch directory is removed.
func (r *ProcessRuntime) DestroyKernel(_ context.Context, kernelID string) error {
	k, err := r.kernel(kernelID)
	if err != nil {
		return err
	}
	k.mu.Lock()
	if k.destroyed {
		k.mu.Unlock()
		return fmt.Errorf("kernel %s: %w", kernelID, ErrKernelNotFound)
	}
	k.destroyed = true
	k.mu.Unlock()
	k.kill(r.grace)
	k.close()
	k.waiters.Wait()
	_ = k.cgroup.remove()
	err = os.RemoveAll(k.dir)
	r.mu.Lock()
	delete(r.kernels, kernelID)
	// The uid is free again once nothing of the kernel is left.
	r.uids[kernelID].release()
	delete(r.uids, kernelID)
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("remove scratch dir of kernel %s: %w", kernelID, err)
	}
	return nil
}

// kill ends k's process group: SIGTERM, then SIGKILL when it outlives grace. A sandbox is
// ended as a whole (box.kill).
func (k *procKernel) kill(grace time.Duration) {
	if k.box != nil {
		k.box.kill(grace)
		return
	}
	if k.pgid <= 0 {
		return
	}
	_ = syscall.Kill(-k.pgid, syscall.SIGTERM)
	if waitGroupGone(k.pgid, grace) {
		return
	}
	_ = syscall.Kill(-k.pgid, syscall.SIGKILL)
	waitGroupGone(k.pgid, 5*time.Second)
}

func (k *procKernel) close() {
	if k.reqW != nil {
		_ = k.reqW.Close()
	}
	if k.box != nil {
		k.box.close()
	}
	if k.log != nil {
		_ = k.log.Close()
	}
}

// waitGroupGone polls until no live (non-zombie) process is in group pgid, or d passes.
func waitGroupGone(pgid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !groupAlive(pgid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// groupAlive reports whether a live (non-zombie) process belongs to group pgid.
func groupAlive(pgid int) bool {
	alive := false
	if !eachProc(func(p procStatus) { alive = alive || (p.pgrp == pgid && p.live()) }) {
		return syscall.Kill(-pgid, 0) == nil
	}
	return alive
}

// ListKernels implements [Runtime]. Kernels starting when it is called are listed once they
// have started (or left out when they fail to), as the manager may already know them.
func (r *ProcessRuntime) ListKernels(context.Context) ([]Kernel, error) {
	r.mu.Lock()
	pending := make([]chan struct{}, 0, len(r.starting))
	for _, ch := range r.starting {
		pending = append(pending, ch)
	}
	r.mu.Unlock()
	for _, ch := range pending {
		<-ch
	}
	r.mu.Lock()
	out := make([]Kernel, 0, len(r.kernels))
	for _, k := range r.kernels {
		info := k.info
		info.Slots = cloneMap(info.Slots)
		out = append(out, info)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b Kernel) int { return strings.Compare(a.KernelID, b.KernelID) })
	return out, nil
}
