package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hangar-run/hangar/jobs"
)

// Utilization sampling feeds the manager's utilization idle checker: every heartbeat carries
// each kernel's CPU and memory utilization (jobs.KernelUtilization) measured since the
// previous heartbeat.
//
// A runtime takes part by implementing [UsageReporter] (cumulative counters; the agent turns
// them into percentages between heartbeats) or [UtilizationReporter] (percentages directly,
// as the dummy runtime's simulated values). A runtime implementing neither sends none.

// SimulateUtilizationEnv names the environment variable that gives a dummy runtime's
// kernels simulated utilization, as "cpu_util=5,mem=20" (percent; cuda_util and cuda_mem
// too). Unset, dummy kernels report none.
const SimulateUtilizationEnv = "HANGAR_AGENT_SIMULATE_UTILIZATION"

// clockTicksPerSecond is the unit of the CPU times in /proc/<pid>/stat (USER_HZ), which
// Linux fixes at 100 for user space on every architecture Hangar runs on.
const clockTicksPerSecond = 100

// KernelUsage is what a runtime measured of one kernel: cumulative counters and current
// amounts, with the slots they are judged against.
type KernelUsage struct {
	// CPUTime is the CPU time the kernel's processes used so far (cumulative; it may drop
	// when processes exit, which the sampler treats as a restart of the counter).
	CPUTime time.Duration
	// MemBytes is the memory the kernel uses now; negative when unknown.
	MemBytes int64
	// CPUSlot is the number of cores allotted (the cpu slot).
	CPUSlot float64
	// MemSlot is the memory allotted in bytes (the mem slot).
	MemSlot float64
}

// UsageReporter is implemented by runtimes that can measure their kernels.
type UsageReporter interface {
	// KernelUsage returns the usage of every kernel it can measure, by kernel id.
	KernelUsage(ctx context.Context) (map[string]KernelUsage, error)
}

// UtilizationReporter is implemented by runtimes that report utilization percentages
// themselves.
type UtilizationReporter interface {
	// Utilization returns the utilization of every kernel it knows, by kernel id.
	Utilization(ctx context.Context) (map[string]jobs.KernelUtilization, error)
}

// usageSampler turns cumulative usage into utilization between two heartbeats.
type usageSampler struct {
	mu   sync.Mutex
	prev map[string]usagePoint
}

type usagePoint struct {
	cpu time.Duration
	at  time.Time
}

// sample returns the utilization of every kernel in usage at now. CPU needs a previous
// reading, so a kernel's first heartbeat carries its memory only.
func (s *usageSampler) sample(usage map[string]KernelUsage, now time.Time) map[string]jobs.KernelUtilization {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]usagePoint, len(usage))
	out := make(map[string]jobs.KernelUtilization, len(usage))
	for id, u := range usage {
		var ku jobs.KernelUtilization
		if p, ok := s.prev[id]; ok && now.After(p.at) && u.CPUTime >= p.cpu && u.CPUSlot > 0 {
			pct := float64(u.CPUTime-p.cpu) / float64(now.Sub(p.at)) / u.CPUSlot * 100
			ku.CPUUtil = &pct
		}
		if u.MemBytes >= 0 && u.MemSlot > 0 {
			pct := float64(u.MemBytes) / u.MemSlot * 100
			ku.Mem = &pct
		}
		next[id] = usagePoint{cpu: u.CPUTime, at: now}
		if ku != (jobs.KernelUtilization{}) {
			out[id] = ku
		}
	}
	s.prev = next
	return out
}

// utilization returns the runtime's kernel utilization for a heartbeat at now; nil when
// the runtime measures nothing. A failure is logged and yields nil: utilization is best
// effort and must not hold back the heartbeat.
func (a *Agent) utilization(ctx context.Context, now time.Time) map[string]jobs.KernelUtilization {
	var (
		out map[string]jobs.KernelUtilization
		err error
	)
	switch rt := a.rt.(type) {
	case UtilizationReporter:
		out, err = rt.Utilization(ctx)
	case UsageReporter:
		var usage map[string]KernelUsage
		if usage, err = rt.KernelUsage(ctx); err == nil {
			out = a.usage.sample(usage, now)
		}
	default:
		return nil
	}
	if err != nil {
		a.logger.Debug("kernel utilization not measured", "err", err)
		return nil
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ParseSimulatedUtilization reads a SimulateUtilizationEnv value ("cpu_util=5,mem=20").
func ParseSimulatedUtilization(v string) (jobs.KernelUtilization, error) {
	var u jobs.KernelUtilization
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return u, fmt.Errorf("%s: %q is not metric=percent", SimulateUtilizationEnv, part)
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return u, fmt.Errorf("%s: %q: %w", SimulateUtilizationEnv, part, err)
		}
		switch strings.TrimSpace(name) {
		case "cpu_util":
			u.CPUUtil = &f
		case "mem":
			u.Mem = &f
		case "cuda_util":
			u.CUDAUtil = &f
		case "cuda_mem":
			u.CUDAMem = &f
		default:
			return u, fmt.Errorf("%s: unknown metric %q", SimulateUtilizationEnv, name)
		}
	}
	return u, nil
}

// SimulatedRuntime wraps a DummyRuntime so that its kernels report fixed utilization.
type SimulatedRuntime struct {
	*DummyRuntime

	mu   sync.Mutex
	util jobs.KernelUtilization
}

// NewSimulatedRuntime returns rt reporting util for every kernel.
func NewSimulatedRuntime(rt *DummyRuntime, util jobs.KernelUtilization) *SimulatedRuntime {
	return &SimulatedRuntime{DummyRuntime: rt, util: util}
}

// SetUtilization changes the utilization every kernel reports.
func (r *SimulatedRuntime) SetUtilization(u jobs.KernelUtilization) {
	r.mu.Lock()
	r.util = u
	r.mu.Unlock()
}

// Utilization implements [UtilizationReporter].
func (r *SimulatedRuntime) Utilization(ctx context.Context) (map[string]jobs.KernelUtilization, error) {
	ks, err := r.ListKernels(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	u := r.util
	r.mu.Unlock()
	out := make(map[string]jobs.KernelUtilization, len(ks))
	for _, k := range ks {
		out[k.KernelID] = u
	}
	return out, nil
}

// KernelUsage implements [UsageReporter] for the process runtime: CPU time and memory from
// the kernel's cgroup (cpu.stat usage_usec, memory.current) when it has one, else summed
// over the processes of its process group from /proc (utime + stime, resident set size).
func (r *ProcessRuntime) KernelUsage(context.Context) (map[string]KernelUsage, error) {
	type probe struct {
		pgid   int
		cgroup kernelCgroup
		slots  map[string]string
	}
	r.mu.Lock()
	probes := make(map[string]probe, len(r.kernels))
	for id, k := range r.kernels {
		probes[id] = probe{pgid: k.pgid, cgroup: k.cgroup, slots: k.info.Slots}
	}
	r.mu.Unlock()
	var groups map[int]procUsage
	out := make(map[string]KernelUsage, len(probes))
	for id, p := range probes {
		u := KernelUsage{MemBytes: -1}
		u.CPUSlot, _ = strconv.ParseFloat(p.slots["cpu"], 64)
		u.MemSlot, _ = strconv.ParseFloat(p.slots["mem"], 64)
		cpu, mem, ok := p.cgroup.usage()
		if !ok {
			if groups == nil {
				groups = procGroupUsage()
			}
			g, found := groups[p.pgid]
			if !found {
				continue
			}
			cpu, mem = g.cpu, g.rss
		}
		u.CPUTime, u.MemBytes = cpu, mem
		out[id] = u
	}
	return out, nil
}

// usage reads the cgroup's CPU time and current memory; ok is false without a readable
// cgroup.
func (c kernelCgroup) usage() (cpu time.Duration, mem int64, ok bool) {
	if c == "" {
		return 0, 0, false
	}
	stat, err := os.ReadFile(filepath.Join(string(c), "cpu.stat"))
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(stat), "\n") {
		if v, found := strings.CutPrefix(line, "usage_usec "); found {
			usec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, 0, false
			}
			cpu = time.Duration(usec) * time.Microsecond
			ok = true
		}
	}
	mem = -1
	if b, err := os.ReadFile(filepath.Join(string(c), "memory.current")); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			mem = v
		}
	}
	return cpu, mem, ok
}

// procUsage is the summed usage of one process group's live processes.
type procUsage struct {
	cpu time.Duration
	rss int64
}

// procGroupUsage reads /proc once and sums CPU time and resident memory by process group.
func procGroupUsage() map[int]procUsage {
	out := map[int]procUsage{}
	page := int64(os.Getpagesize())
	eachProc(func(p procStatus) {
		g := out[p.pgrp]
		g.cpu += time.Duration(p.ticks) * time.Second / clockTicksPerSecond
		g.rss += p.pages * page
		out[p.pgrp] = g
	})
	return out
}
