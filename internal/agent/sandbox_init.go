package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// The kernel supervisor: the first process of a kernel's sandbox (sandbox.go), run by
// bubblewrap as the kernel's unprivileged uid in the kernel's namespaces. It is the agent's
// own executable started again with sandboxInitEnv set, which the package's init function
// recognises before anything else runs. Every process of the kernel (the Python driver, the
// startup command, shell queries, batch phases) is started by it on the agent's request, so
// that they all share the sandbox's namespaces, process group and limits.
//
// The agent and the supervisor talk over a SOCK_SEQPACKET socket (fd 3): the agent sends a
// spawnRequest with the new process's files (stdin, stdout, stderr, then extra files as fd 3
// and up) attached as SCM_RIGHTS; the supervisor answers a supervisorMsg with the process's
// pid (in the sandbox's PID namespace) or an error, and another with its exit code when it
// ends. The supervisor exits when the socket closes (the sandbox then ends: bubblewrap's
// init kills what is left) and, on SIGTERM, once its children have ended. SIGINT, which
// interrupts the kernel's process group, leaves it running. Everything it reads comes from
// the agent; what it sends is treated by the agent as untrusted (kernel code runs as the same
// uid and could take its place).

// sandboxInitEnv names the environment variable that makes the executable a kernel
// supervisor. Its value is "<socket fd>,<executable fd>,<max processes>,<max open
// files>,<max file size>" (0: leave the limit as it is).
const sandboxInitEnv = "HANGAR_SANDBOX_INIT"

func init() {
	if spec, ok := os.LookupEnv(sandboxStageEnv); ok {
		os.Exit(runStage(spec))
	}
	if spec, ok := os.LookupEnv(sandboxInitEnv); ok {
		os.Exit(runSupervisor(spec))
	}
}

// The stage: bubblewrap, run as the kernel's uid, can only bind-mount host paths that uid may
// reach, and a scratch root is often under a directory only root may enter (a mode-0700
// home or temporary directory). So bwrap is started by a helper (the agent's executable
// again, with sandboxStageEnv set) that runs as root in a mount namespace of its own: it
// mounts an empty tmpfs on the stage directory (SandboxSection.StateDir/stage, which every
// uid may traverse), bind-mounts the kernel's directories onto it, drops to the kernel's uid
// and gid without supplementary groups, and starts bwrap (its arguments) with the stage's
// paths. The stage exists only in that mount namespace, and a sandbox hides it under its own
// /run. The helper then stays as the sandbox's reaper (PR_SET_CHILD_SUBREAPER): bwrap ends
// when the supervisor does, leaving its init process to its parent, and the helper exits
// (with bwrap's exit code) only once every process of the sandbox is gone and reaped, so
// that the agent waiting for the helper knows the kernel is over.
// sandboxStageEnv names the environment variable that makes the executable the stage
// helper; its value is a stageSpec in JSON.
const sandboxStageEnv = "HANGAR_SANDBOX_STAGE"

// stageSpec is what the stage helper mounts and who it becomes.
type stageSpec struct {
	// UID is the kernel's uid and gid.
	UID int `json:"uid"`
	// Dir is the stage directory.
	Dir string `json:"dir"`
	// Binds are host paths and the names under Dir they are mounted at.
	Binds [][2]string `json:"binds"`
	// Nice, when not 0, is the nice value the sandbox's processes start with.
	Nice int `json:"nice,omitempty"`
}

func runStage(specJSON string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "hangar kernel sandbox stage:", err)
		return 125
	}
	// The parent-death signal and the credentials are the thread's that executes bwrap.
	runtime.LockOSThread()
	ppid := os.Getppid()
	os.Unsetenv(sandboxStageEnv)
	var spec stageSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil || len(os.Args) < 2 || spec.UID <= 0 {
		return fail(fmt.Errorf("bad %s", sandboxStageEnv))
	}
	if err := syscall.Mount("hangar-stage", spec.Dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=0755,size=64k"); err != nil {
		return fail(fmt.Errorf("mount stage %s: %w", spec.Dir, err))
	}
	for _, b := range spec.Binds {
		st, err := os.Stat(b[0])
		if err != nil {
			return fail(err)
		}
		dst := filepath.Join(spec.Dir, b[1])
		if st.IsDir() {
			err = os.Mkdir(dst, 0o755)
		} else {
			err = os.WriteFile(dst, nil, 0o644)
		}
		if err != nil {
			return fail(err)
		}
		if err := syscall.Mount(b[0], dst, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return fail(fmt.Errorf("bind %s: %w", b[0], err))
		}
	}
	if spec.Nice != 0 {
		// This thread's, which bwrap and so every process of the sandbox inherits.
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, 0, spec.Nice); err != nil {
			return fail(fmt.Errorf("nice: %w", err))
		}
	}
	if err := syscall.Setgroups([]int{}); err != nil {
		return fail(err)
	}
	if err := syscall.Setresgid(spec.UID, spec.UID, spec.UID); err != nil {
		return fail(err)
	}
	if err := syscall.Setresuid(spec.UID, spec.UID, spec.UID); err != nil {
		return fail(err)
	}
	// Changing credentials cleared the parent-death signal; bwrap sets its own too
	// (--die-with-parent), this covers the moment until it does.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0); errno != 0 {
		return fail(errno)
	}
	if os.Getppid() != ppid {
		return 1
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return fail(errno)
	}
	pid, err := syscall.ForkExec(os.Args[1], os.Args[1:], &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2, 3, 4, 5}})
	if err != nil {
		return fail(err)
	}
	for fd := 3; fd <= 5; fd++ {
		_ = syscall.Close(fd)
	}
	code := 125
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return code
		}
		if got == pid {
			code = ws.ExitStatus()
			if ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		}
	}
}

// spawnRequest asks the supervisor to start a process.
type spawnRequest struct {
	ID   uint64   `json:"id"`
	Argv []string `json:"argv"`
	Env  []string `json:"env"`
	Dir  string   `json:"dir"`
}

// supervisorMsg is the supervisor's side of the conversation.
type supervisorMsg struct {
	// Ready is sent once, when the supervisor accepts requests.
	Ready bool `json:"ready,omitempty"`
	// ID names the request a message answers.
	ID uint64 `json:"id,omitempty"`
	// Pid is the started process's pid (in the sandbox).
	Pid int `json:"pid,omitempty"`
	// Exit is the ended process's exit code (128+signal when a signal ended it).
	Exit *int `json:"exit,omitempty"`
	// Error says why the process could not start.
	Error string `json:"error,omitempty"`
}

// Constants package syscall does not name.
const (
	rlimitNPROC         = 6  // RLIMIT_NPROC
	prSetChildSubreaper = 36 // PR_SET_CHILD_SUBREAPER
)

// maxSpawnRequest bounds a spawn request (argv and environment).
const maxSpawnRequest = 1 << 20

// supervisor is the state of a running kernel supervisor.
type supervisor struct {
	conn *net.UnixConn

	mu       sync.Mutex
	children map[int]uint64 // pid → request id
	early    map[int]int    // exits reaped before their spawn was recorded
	spawned  chan struct{}
	stopping bool
}

func runSupervisor(spec string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "hangar kernel supervisor:", err)
		return 125
	}
	os.Unsetenv(sandboxInitEnv)
	var v [5]uint64
	parts := strings.Split(spec, ",")
	if len(parts) != len(v) {
		return fail(fmt.Errorf("bad %s %q", sandboxInitEnv, spec))
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return fail(fmt.Errorf("bad %s %q", sandboxInitEnv, spec))
		}
		v[i] = n
	}
	// The executable was passed as a file to start it, and the agent may have inherited
	// files its processes pass on: the kernel has no use for any of them.
	closeInherited(int(v[0]))
	// Processes of the same uid (the kernel's) may neither trace this one nor read its
	// memory or file descriptors.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0); errno != 0 {
		return fail(fmt.Errorf("prctl dumpable: %w", errno))
	}
	for _, l := range []struct {
		res int
		max uint64
	}{{rlimitNPROC, v[2]}, {syscall.RLIMIT_NOFILE, v[3]}, {syscall.RLIMIT_FSIZE, v[4]}} {
		if l.max == 0 {
			continue
		}
		if err := syscall.Setrlimit(l.res, &syscall.Rlimit{Cur: l.max, Max: l.max}); err != nil {
			return fail(fmt.Errorf("setrlimit %d: %w", l.res, err))
		}
	}
	f := os.NewFile(uintptr(v[0]), "agent")
	fc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return fail(fmt.Errorf("agent socket: %w", err))
	}
	conn, ok := fc.(*net.UnixConn)
	if !ok {
		return fail(errors.New("agent socket is not a unix socket"))
	}
	s := &supervisor{conn: conn, children: map[int]uint64{}, early: map[int]int{}, spawned: make(chan struct{}, 1)}

	sigs := make(chan os.Signal, 4)
	// Handled (not ignored), so that the processes it starts get the default actions.
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		for sig := range sigs {
			if sig == syscall.SIGTERM || sig == syscall.SIGHUP {
				s.mu.Lock()
				s.stopping = true
				done := len(s.children) == 0
				s.mu.Unlock()
				if done {
					os.Exit(0)
				}
			}
		}
	}()
	go s.reap()
	if err := s.send(supervisorMsg{Ready: true}); err != nil {
		return fail(err)
	}
	buf := make([]byte, maxSpawnRequest)
	oob := make([]byte, syscall.CmsgSpace(64*4))
	for {
		n, oobn, flags, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 {
			// The agent is gone: so is the kernel.
			return 0
		}
		fds := receivedFDs(oob[:oobn])
		var req spawnRequest
		switch {
		case flags&(syscall.MSG_TRUNC|syscall.MSG_CTRUNC) != 0:
			s.reply(req.ID, 0, errors.New("request too large"))
		case json.Unmarshal(buf[:n], &req) != nil:
			s.reply(0, 0, errors.New("malformed request"))
		default:
			s.spawn(&req, fds)
		}
		for _, fd := range fds {
			_ = syscall.Close(fd)
		}
	}
}

// closeInherited closes the files this process inherited (those without close-on-exec,
// which every file Go opens has) but stdin, stdout, stderr and keep.
func closeInherited(keep int) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 || fd == keep {
			continue
		}
		flags, _, errno := syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
		if errno == 0 && flags&syscall.FD_CLOEXEC == 0 {
			_ = syscall.Close(fd)
		}
	}
}

// receivedFDs returns the file descriptors of SCM_RIGHTS messages in oob.
func receivedFDs(oob []byte) []int {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if got, err := syscall.ParseUnixRights(&m); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

func (s *supervisor) send(m supervisorMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = s.conn.Write(b)
	return err
}

// reply answers request id with the started process's pid, or err; s.mu may be held.
func (s *supervisor) reply(id uint64, pid int, err error) {
	m := supervisorMsg{ID: id, Pid: pid}
	if err != nil {
		m.Error = err.Error()
	}
	_ = s.send(m)
}

// spawn starts the process req asks for with fds as its files.
func (s *supervisor) spawn(req *spawnRequest, fds []int) {
	if len(req.Argv) == 0 || len(fds) < 3 {
		s.reply(req.ID, 0, errors.New("a spawn request needs argv and three files"))
		return
	}
	files := make([]uintptr, len(fds))
	for i, fd := range fds {
		files[i] = uintptr(fd)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		s.reply(req.ID, 0, errors.New("the kernel is stopping"))
		return
	}
	pid, err := syscall.ForkExec(req.Argv[0], req.Argv, &syscall.ProcAttr{Dir: req.Dir, Env: req.Env, Files: files})
	if err != nil {
		s.reply(req.ID, 0, err)
		return
	}
	s.reply(req.ID, pid, nil)
	if code, ok := s.early[pid]; ok {
		delete(s.early, pid)
		_ = s.send(supervisorMsg{ID: req.ID, Exit: &code})
		return
	}
	s.children[pid] = req.ID
	select {
	case s.spawned <- struct{}{}:
	default:
	}
}

// reap waits for the supervisor's children and reports their exits.
func (s *supervisor) reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			<-s.spawned
			continue
		}
		code := ws.ExitStatus()
		if ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		s.mu.Lock()
		id, ok := s.children[pid]
		if ok {
			delete(s.children, pid)
			_ = s.send(supervisorMsg{ID: id, Exit: &code})
		} else {
			s.early[pid] = code
		}
		if s.stopping && len(s.children) == 0 {
			os.Exit(0)
		}
		s.mu.Unlock()
	}
}
