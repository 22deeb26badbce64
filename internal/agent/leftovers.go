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
// (BACKENDAI_KERNEL_ID) or a warm sandbox of root (HANGAR_WARM_SANDBOX, which the processes
// a warm sandbox started with keep after it was handed to a kernel) is killed with its
// process group, its cgroup is removed and its scratch directory deleted. The manager closes
// such kernels in its database through the agent sync. It returns the kernel ids it reaped
// (warm sandboxes are not kernels).
func reapLeftovers(root string) ([]string, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("scratch root: %w", err)
	}
	left := map[string]bool{}
	var warm []string
	for _, e := range ents {
		switch {
		case !e.IsDir():
		case strings.HasPrefix(e.Name(), warmDirPrefix):
			warm = append(warm, e.Name())
		case !strings.HasPrefix(e.Name(), "."):
			left[e.Name()] = true
		}
	}
	if len(left) == 0 && len(warm) == 0 {
		return nil, nil
	}
	warmOf := filepath.Join(root, warmDirPrefix)
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
			mine := ok && left[id]
			if dir, ok := strings.CutPrefix(string(kv), warmEnv+"="); ok && strings.HasPrefix(dir, warmOf) {
				mine = true
			}
			if !mine {
				continue
			}
			if p.pgrp > 1 && p.pgrp != syscall.Getpgrp() {
				_ = syscall.Kill(-p.pgrp, syscall.SIGKILL)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	// removeCgroups removes the cgroups of the scratch directory dir: name's, and the warm
	// sandbox's it was made from, if any.
	removeCgroups := func(dir, name string) {
		if name != "" {
			_ = kernelCgroup(filepath.Join(cgroupRoot, "hangar", name)).remove()
		}
		if b, err := os.ReadFile(filepath.Join(dir, warmMarker)); err == nil && filepath.IsLocal(string(b)) {
			_ = kernelCgroup(filepath.Join(cgroupRoot, "hangar", string(b))).remove()
		}
	}
	out := make([]string, 0, len(left))
	var errs []error
	for _, name := range warm {
		dir := filepath.Join(root, name)
		removeCgroups(dir, "")
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	for id := range left {
		dir := filepath.Join(root, id)
		removeCgroups(dir, id)
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, id)
	}
	return out, errors.Join(errs...)
}
