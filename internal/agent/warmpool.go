package agent

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hangar-run/hangar/internal/agentrpc"
)

// The warm pool: a sandboxed process runtime keeps, for each Python interpreter it serves
// (an image's runtime path), a few sandboxes already started with their interpreter
// running the driver and idle, so that creating a Python kernel hands one over instead of
// starting a sandbox and an interpreter (tens of milliseconds of CPU each) while the
// manager waits. Taking one refills the pool in the background.
//
// A warm sandbox is a kernel sandbox like any other (sandbox.go): a uid of its own from the
// uid pool, a scratch directory <root>/.warm-<random> with work/ and tmp/ owned by that uid,
// a cgroup hangar/warm-<random> without limits (where cgroups work). It starts at a lower
// CPU priority (nice warmNice), so that refills yield to running kernels and to the agent.
// Its processes carry HANGAR_WARM_SANDBOX=<its scratch directory> in their environment
// instead of a kernel id, which is how an agent process started later finds and ends the
// warm sandboxes (handed over or not) of one that died (leftovers.go).
//
// Handing one over to a kernel: its processes get the normal priority back, the driver
// replaces its environment with the kernel's (the same kernelEnv a cold start gives) and
// changes to /home/work, and answers; then the scratch directory is renamed to
// <root>/<kernel id> (the sandbox's mounts follow the directories, not their names) and the
// cgroup to hangar/<kernel id>, with the kernel's limits. From then on it is an ordinary
// kernel: destroy, restart and the leftover reaping treat it as one. A kernel whose
// environment names variables the interpreter reads only when it starts (PYTHON*, LANG,
// LC_*, LD_*, ...) with other values than the warm interpreter has, starts cold, as does
// every kernel when no live warm sandbox is at hand: one whose interpreter died is
// discarded (and replaced), never handed over.

// Defaults and bounds of the warm pool.
const (
	// DefaultWarmInterpreters is how many warm sandboxes the agent keeps per interpreter
	// when agent.toml does not say (sandbox.warm-interpreters).
	DefaultWarmInterpreters = 2
	// MaxWarmInterpreters bounds sandbox.warm-interpreters.
	MaxWarmInterpreters = 1024
	// warmRuntimes bounds how many interpreters are kept warm: the host's python3 and the
	// first others kernels ask for.
	warmRuntimes = 4
	// warmStarts is how many warm sandboxes start at once.
	warmStarts = 2
	// warmNice is the nice value of a warm sandbox's processes until it is handed over.
	warmNice = 10
	// warmRetry is how long the pool waits after a warm sandbox failed to start.
	warmRetry = 2 * time.Second
	// warmHandOverTimeout bounds the driver's answer to a hand-over.
	warmHandOverTimeout = 5 * time.Second
)

// Names of a warm sandbox.
const (
	// warmDirPrefix starts the name of a warm sandbox's scratch directory under the root.
	warmDirPrefix = ".warm-"
	// warmEnv names the environment variable marking a warm sandbox's processes; its value
	// is the sandbox's scratch directory as it was created.
	warmEnv = "HANGAR_WARM_SANDBOX"
	// warmMarker is the file in a warm scratch directory naming the sandbox's cgroup; it
	// stays when the directory becomes a kernel's.
	warmMarker = "warm"
)

// warmEntry is one warm sandbox.
type warmEntry struct {
	interp string
	name   string // warm-<random>: its cgroup's name
	dir    string // its scratch directory (renamed when handed over)
	lease  *uidLease
	log    *os.File
	box    *box
	cgroup kernelCgroup
	reqW   *os.File // the driver's request pipe
	repR   *os.File // the driver's reply pipe
	// pyDone is closed when the interpreter has ended, pyCode then being its exit code.
	pyDone chan struct{}
	pyCode int
	// taken is closed when the entry leaves the pool's idle list.
	taken chan struct{}
}

// alive reports whether the entry's sandbox and interpreter still run.
func (w *warmEntry) alive() bool {
	select {
	case <-w.pyDone:
		return false
	case <-w.box.exited:
		return false
	default:
		return true
	}
}

// warmPool keeps size warm sandboxes for each of its interpreters.
type warmPool struct {
	r    *ProcessRuntime
	size int

	mu       sync.Mutex
	interps  []string
	idle     map[string][]*warmEntry
	starting map[string]int
	closed   bool
	wake     chan struct{} // closed and replaced when there may be work for the refillers
	done     chan struct{}

	refillers sync.WaitGroup
	discards  sync.WaitGroup

	// handed and discarded count hand-overs and sandboxes thrown away (for tests and logs).
	handed, discarded int
}

// newWarmPool starts a pool of size sandboxes per interpreter, beginning with interps.
func newWarmPool(r *ProcessRuntime, size int, interps ...string) *warmPool {
	p := &warmPool{r: r, size: size, interps: slices.Clone(interps), idle: map[string][]*warmEntry{},
		starting: map[string]int{}, wake: make(chan struct{}), done: make(chan struct{})}
	for range warmStarts {
		p.refillers.Add(1)
		go p.refill()
	}
	return p
}

// notify wakes the refillers; p.mu is held.
func (p *warmPool) notify() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// needy returns an interpreter short of warm sandboxes, or ""; p.mu is held.
func (p *warmPool) needy() string {
	for _, in := range p.interps {
		if len(p.idle[in])+p.starting[in] < p.size {
			return in
		}
	}
	return ""
}

// refill starts warm sandboxes while an interpreter is short of them, until the pool closes.
func (p *warmPool) refill() {
	defer p.refillers.Done()
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		in, wake := p.needy(), p.wake
		if in == "" {
			p.mu.Unlock()
			select {
			case <-wake:
			case <-p.done:
				return
			}
			continue
		}
		p.starting[in]++
		p.mu.Unlock()

		w, err := p.start(in)
		p.mu.Lock()
		p.starting[in]--
		keep := err == nil && !p.closed
		if keep {
			p.idle[in] = append(p.idle[in], w)
		}
		p.mu.Unlock()
		if keep {
			go p.watch(w)
			continue
		}
		if w != nil {
			p.discard(w)
		}
		if err != nil {
			p.r.logger.Warn("a warm interpreter did not start", "interpreter", in, "err", err)
			select {
			case <-time.After(warmRetry):
			case <-p.done:
				return
			}
		}
	}
}

// watch discards w when its sandbox or interpreter ends while it waits in the pool.
func (p *warmPool) watch(w *warmEntry) {
	select {
	case <-w.taken:
		return
	case <-w.pyDone:
	case <-w.box.exited:
	}
	p.mu.Lock()
	list := p.idle[w.interp]
	i := slices.Index(list, w)
	if i >= 0 {
		p.idle[w.interp] = slices.Delete(list, i, i+1)
		close(w.taken)
		if !p.closed {
			p.notify()
		}
	}
	p.mu.Unlock()
	if i >= 0 {
		p.r.logger.Warn("a warm interpreter ended by itself; replacing it", "interpreter", w.interp)
		p.discard(w)
	}
}

// take returns a live warm sandbox of interp, or nil; an interpreter the pool does not keep
// yet is added (up to warmRuntimes of them), to be warm for the next kernels.
func (p *warmPool) take(interp string) *warmEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	if !slices.Contains(p.interps, interp) {
		if len(p.interps) < warmRuntimes {
			p.interps = append(p.interps, interp)
			p.notify()
		}
		return nil
	}
	for len(p.idle[interp]) > 0 {
		w := p.idle[interp][0]
		p.idle[interp] = slices.Delete(p.idle[interp], 0, 1)
		close(w.taken)
		p.notify()
		if w.alive() {
			p.handed++
			return w
		}
		p.discards.Add(1)
		go func() {
			defer p.discards.Done()
			p.discard(w)
		}()
	}
	return nil
}

// evict discards an idle warm sandbox, freeing its uid for a kernel; false when there is
// none.
func (p *warmPool) evict() bool {
	p.mu.Lock()
	var w *warmEntry
	for _, in := range p.interps {
		if n := len(p.idle[in]); n > 0 {
			w = p.idle[in][n-1]
			p.idle[in] = p.idle[in][:n-1]
			close(w.taken)
			break
		}
	}
	p.mu.Unlock()
	if w == nil {
		return false
	}
	uid := w.lease.uid
	p.discard(w)
	// Processes killed at the end of the grace period may take a moment to go.
	deadline := time.Now().Add(5 * time.Second)
	for len(uidsInUse(uid, 1)) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// close discards every warm sandbox, once those starting have started; the pool keeps none
// after.
func (p *warmPool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	var all []*warmEntry
	for _, list := range p.idle {
		for _, w := range list {
			close(w.taken)
			all = append(all, w)
		}
	}
	p.idle = map[string][]*warmEntry{}
	p.mu.Unlock()
	p.refillers.Wait()
	var wg sync.WaitGroup
	for _, w := range all {
		wg.Go(func() { p.discard(w) })
	}
	wg.Wait()
	p.discards.Wait()
}

// discard ends w's sandbox and removes what it held: scratch directory, cgroup, uid.
func (p *warmPool) discard(w *warmEntry) {
	p.mu.Lock()
	p.discarded++
	p.mu.Unlock()
	if w.box != nil {
		w.box.kill(time.Second)
		w.box.close()
	}
	for _, f := range []*os.File{w.reqW, w.repR, w.log} {
		if f != nil {
			_ = f.Close()
		}
	}
	_ = w.cgroup.remove()
	if w.dir != "" {
		_ = os.RemoveAll(w.dir)
	}
	w.lease.release()
}

// start starts a warm sandbox for interp and waits until its driver is ready.
func (p *warmPool) start(interp string) (w *warmEntry, err error) {
	r := p.r
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	id := hex.EncodeToString(rnd[:])
	w = &warmEntry{interp: interp, name: "warm-" + id, pyDone: make(chan struct{}), taken: make(chan struct{})}
	defer func() {
		if err != nil {
			p.discard(w)
			w = nil
		}
	}()
	if w.lease, err = r.sb.uids.acquire(); err != nil {
		return w, err
	}
	dir := filepath.Join(r.root, warmDirPrefix+id)
	w.dir = dir
	if err := kernelDirs(dir, w.lease.uid); err != nil {
		return w, err
	}
	if err := os.WriteFile(filepath.Join(dir, warmMarker), []byte(w.name), 0o600); err != nil {
		return w, err
	}
	if w.log, err = os.OpenFile(filepath.Join(dir, "kernel.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return w, err
	}
	drv := filepath.Join(dir, "driver.py")
	if err := os.WriteFile(drv, pythonDriver, 0o644); err != nil {
		return w, err
	}
	w.cgroup = newKernelCgroup(w.name, nil)
	spec := &boxSpec{kernelID: w.name, uid: w.lease.uid, work: filepath.Join(dir, "work"), tmp: filepath.Join(dir, "tmp"),
		driver: drv, env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", warmEnv + "=" + dir}, log: w.log, cgroup: w.cgroup,
		nice: warmNice}
	if w.box, err = r.sb.start(spec); err != nil {
		return w, err
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return w, err
	}
	defer reqR.Close()
	w.reqW = reqW
	repR, repW, err := os.Pipe()
	if err != nil {
		return w, err
	}
	w.repR = repR
	launcher := &procKernel{box: w.box, env: warmInterpEnv(dir)}
	wait, err := launcher.launch(interpArgv(interp, sandboxDriver), []*os.File{reqR, repW}, w.log, w.log)
	repW.Close()
	if err != nil {
		return w, fmt.Errorf("start interpreter: %w", err)
	}
	go func() {
		w.pyCode = wait()
		close(w.pyDone)
	}()
	if err := expectFrame(w.repR, "ready", sandboxStartTimeout); err != nil {
		return w, fmt.Errorf("interpreter: %w", err)
	}
	return w, nil
}

// warmInterpEnv is the environment a warm interpreter starts with: a kernel's without the
// kernel's variables, and the warm marker.
func warmInterpEnv(dir string) []string {
	env := slices.DeleteFunc(kernelEnv(&agentrpc.KernelConfig{}, sandboxWorkDir, "/tmp"), func(kv string) bool {
		return strings.HasPrefix(kv, "BACKENDAI_")
	})
	return append(env, warmEnv+"="+dir)
}

// warmable reports whether a kernel with cfg's environment can be served by a warm
// interpreter: none of the variables the interpreter (or the C library) reads only when it
// starts differs from what the warm one started with.
func warmable(cfg *agentrpc.KernelConfig) bool {
	if len(cfg.Environ) == 0 {
		return true
	}
	started := map[string]string{}
	for _, kv := range warmInterpEnv("") {
		k, v, _ := strings.Cut(kv, "=")
		started[k] = v
	}
	for k, v := range cfg.Environ {
		startup := k == "LANG" || k == "LANGUAGE" || k == "GLIBC_TUNABLES" || k == "HOME" || k == warmEnv
		for _, prefix := range []string{"PYTHON", "LC_", "LD_", "MALLOC_"} {
			startup = startup || strings.HasPrefix(k, prefix)
		}
		if startup && started[k] != v {
			return false
		}
	}
	return true
}

// handOver makes w the sandbox of the kernel cfg describes (see the top of this file). On
// failure w is discarded and nothing of the kernel is left.
func (r *ProcessRuntime) handOver(w *warmEntry, cfg *agentrpc.KernelConfig) (_ *procKernel, err error) {
	defer func() {
		if err != nil {
			r.pool.discard(w)
		}
	}()
	if err := syscall.Setpriority(syscall.PRIO_PGRP, w.box.pgid, 0); err != nil {
		return nil, fmt.Errorf("warm sandbox priority: %w", err)
	}
	env := kernelEnv(cfg, sandboxWorkDir, "/tmp")
	envMap := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		envMap[k] = v
	}
	k := &procKernel{
		info: Kernel{KernelID: cfg.KernelID, SessionID: cfg.SessionID, Slots: cloneMap(cfg.ResourceSlots), Created: r.now()},
		cfg:  *cfg,
		box:  w.box, lease: w.lease,
		python: true, interp: w.interp, shell: "/bin/sh",
		env: env, log: w.log, pgid: w.box.pgid, reqW: w.reqW,
	}
	if err := k.send(map[string]any{"setup": map[string]any{"env": envMap, "cwd": sandboxWorkDir}}); err != nil {
		return nil, err
	}
	if err := expectFrame(w.repR, "setup-done", warmHandOverTimeout); err != nil {
		return nil, fmt.Errorf("warm interpreter: %w", err)
	}
	dir := filepath.Join(r.root, cfg.KernelID)
	if err := os.Rename(w.dir, dir); err != nil {
		return nil, fmt.Errorf("scratch dir: %w", err)
	}
	w.dir = dir
	w.cgroup = w.cgroup.handOver(cfg.KernelID, cfg.ResourceSlots)
	k.dir, k.work, k.cgroup = dir, filepath.Join(dir, "work"), w.cgroup
	k.info.ContainerID = "pgid-" + strconv.Itoa(k.pgid)

	k.waiters.Add(1)
	go func() {
		defer k.waiters.Done()
		<-k.box.exited
	}()
	go k.readReplies(w.repR)
	w.repR = nil // read by the kernel from now on; closed by readReplies
	r.watchInterp(k, func() int {
		<-w.pyDone
		return w.pyCode
	}, cfg.StartupCommand == "")
	if err := r.startStartup(k, cfg); err != nil {
		// Ended as a kernel that did not start; the deferred discard finds little left.
		k.mu.Lock()
		k.destroyed = true
		k.mu.Unlock()
		k.kill(r.grace)
		k.close()
		k.waiters.Wait()
		w.reqW, w.log, w.box = nil, nil, nil
		return nil, err
	}
	return k, nil
}

// expectFrame reads one frame of the driver from rd within timeout and checks its type.
func expectFrame(rd *os.File, typ string, timeout time.Duration) error {
	if err := rd.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	defer func() { _ = rd.SetReadDeadline(time.Time{}) }()
	var hdr [4]byte
	if _, err := io.ReadFull(rd, hdr[:]); err != nil {
		return fmt.Errorf("no %q from the driver: %w", typ, err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > 1<<20 {
		return fmt.Errorf("the driver sent a frame of %d bytes", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(rd, buf); err != nil {
		return fmt.Errorf("no %q from the driver: %w", typ, err)
	}
	var msg struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(buf, &msg); err != nil || msg.Type != typ {
		return errors.New("the driver answered " + strconv.Quote(string(buf)) + ", not " + strconv.Quote(typ))
	}
	return nil
}
