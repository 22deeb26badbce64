package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// cgroupRoot is where the process runtime puts its kernels' cgroups.
const cgroupRoot = "/sys/fs/cgroup"

// cgroup2Magic is the statfs magic number of a cgroup v2 file system.
const cgroup2Magic = 0x63677270

// kernelCgroup is the cgroup v2 directory limiting one kernel, or "" when there is none.
type kernelCgroup string

// cgroupLimits turns a kernel's slots into cpu.max and memory.max values; empty strings
// leave a limit unset.
func cgroupLimits(slots map[string]string) (cpuMax, memMax string) {
	if v, err := strconv.ParseFloat(slots["cpu"], 64); err == nil && v > 0 {
		const period = 100000
		cpuMax = fmt.Sprintf("%d %d", int64(v*period), period)
	}
	if v, err := strconv.ParseFloat(slots["mem"], 64); err == nil && v > 0 {
		memMax = strconv.FormatInt(int64(v), 10)
	}
	return cpuMax, memMax
}

// newKernelCgroup creates a cgroup with the kernel's CPU and memory limits when cgroupRoot
// is a writable cgroup v2 hierarchy; otherwise it returns "" and no error, as limits are best
// effort.
func newKernelCgroup(kernelID string, slots map[string]string) kernelCgroup {
	var st syscall.Statfs_t
	if err := syscall.Statfs(cgroupRoot, &st); err != nil || st.Type != cgroup2Magic {
		return ""
	}
	dir := filepath.Join(cgroupRoot, "hangar", kernelID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ""
	}
	// Enable the controllers for the kernels' parent; failures leave the limits unset.
	_ = os.WriteFile(filepath.Join(cgroupRoot, "cgroup.subtree_control"), []byte("+cpu +memory"), 0o644)
	_ = os.WriteFile(filepath.Join(cgroupRoot, "hangar", "cgroup.subtree_control"), []byte("+cpu +memory"), 0o644)
	cpuMax, memMax := cgroupLimits(slots)
	if cpuMax != "" {
		_ = os.WriteFile(filepath.Join(dir, "cpu.max"), []byte(cpuMax), 0o644)
	}
	if memMax != "" {
		_ = os.WriteFile(filepath.Join(dir, "memory.max"), []byte(memMax), 0o644)
	}
	return kernelCgroup(dir)
}

// add moves process pid into the cgroup.
func (c kernelCgroup) add(pid int) {
	if c != "" {
		_ = os.WriteFile(filepath.Join(string(c), "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
	}
}

// remove deletes the cgroup once its processes are gone.
func (c kernelCgroup) remove() error {
	if c == "" {
		return nil
	}
	if err := os.Remove(string(c)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove cgroup: %w", err)
	}
	return nil
}

// open opens the cgroup's directory, for starting a process right in it (CLONE_INTO_CGROUP).
func (c kernelCgroup) open() (*os.File, error) {
	if c == "" {
		return nil, errors.New("no cgroup")
	}
	return os.Open(string(c))
}

// handOver renames a warm sandbox's cgroup (which has no limits) to the kernel's and sets
// the kernel's limits; a cgroup that cannot be renamed keeps its name and gets the limits.
func (c kernelCgroup) handOver(kernelID string, slots map[string]string) kernelCgroup {
	if c == "" {
		return ""
	}
	dst := kernelCgroup(filepath.Join(filepath.Dir(string(c)), kernelID))
	if err := os.Rename(string(c), string(dst)); err == nil {
		c = dst
	}
	cpuMax, memMax := cgroupLimits(slots)
	if cpuMax != "" {
		_ = os.WriteFile(filepath.Join(string(c), "cpu.max"), []byte(cpuMax), 0o644)
	}
	if memMax != "" {
		_ = os.WriteFile(filepath.Join(string(c), "memory.max"), []byte(memMax), 0o644)
	}
	return c
}
