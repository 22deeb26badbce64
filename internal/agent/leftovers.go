package agent

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockName is the file in a scratch root that the agent process using the root holds an
// exclusive flock on. The kernel releases the lock when the process ends, however it ends.
const lockName = ".hangar-agent.lock"

// lockRoot takes the scratch root's lock, failing when another live agent process holds it:
// two agents sharing a root would take each other's kernels for leftovers.
func lockRoot(root string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(root, lockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("scratch root lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("scratch root %s is in use by another agent process", root)
		}
		return nil, fmt.Errorf("scratch root lock: %w", err)
	}
	return f, nil
}

// reapLeftovers ends the kernels an earlier agent process left under root (it was killed, or
// the host lost it): their processes cannot be taken over (the interpreter's pipes died with
// the old agent), so every process whose environment names one of them
// (BACKENDAI_KERNEL_ID) is killed with its process group, its cgroup is removed and its
// scratch directory deleted. The manager closes such kernels in its database through the
// agent sync. It returns the kernel ids it reaped.
func reapLeftovers(root string) ([]string, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("scratch root: %w", err)
	}
	left := map[string]bool{}
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			left[e.Name()] = true
		}
	}
	if len(left) == 0 {
		return nil, nil
	}
	eachProc(func(p procStatus) {
		pid, err := strconv.Atoi(p.pid)
		if err != nil || pid == os.Getpid() {
			return
		}
		env, err := os.ReadFile(filepath.Join("/proc", p.pid, "environ"))
		if err != nil {
			return
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			id, ok := strings.CutPrefix(string(kv), "BACKENDAI_KERNEL_ID=")
			if !ok || !left[id] {
				continue
			}
			if p.pgrp > 1 && p.pgrp != syscall.Getpgrp() {
				_ = syscall.Kill(-p.pgrp, syscall.SIGKILL)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	out := make([]string, 0, len(left))
	var errs []error
	for id := range left {
		_ = kernelCgroup(filepath.Join(cgroupRoot, "hangar", id)).remove()
		if err := os.RemoveAll(filepath.Join(root, id)); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, id)
	}
	return out, errors.Join(errs...)
}
