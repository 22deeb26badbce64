package agent

import (
	"context"
	"fmt"
	"os"

	"github.com/hangar-run/hangar/internal/agentrpc"
)

// Restarter is implemented by runtimes that can restart a kernel in place: its processes are
// stopped and started again with the same (or an updated) config, keeping its scratch
// directory and so the files of its working directory.
type Restarter interface {
	// RestartKernel restarts a kernel; updated, when not nil, replaces its creation config.
	// ErrKernelNotFound for an unknown kernel.
	RestartKernel(ctx context.Context, kernelID string, updated *agentrpc.KernelConfig) (*agentrpc.KernelCreated, error)
}

var (
	_ Restarter = (*ProcessRuntime)(nil)
	_ Restarter = (*DummyRuntime)(nil)
)

// RestartKernel implements agentrpc.Handler: the runtime restarts the kernel in place. Its
// exit while restarting is not reported as the kernel ending.
func (a *Agent) RestartKernel(ctx context.Context, req *agentrpc.RestartKernelRequest) (*agentrpc.KernelCreated, error) {
	rs, ok := a.rt.(Restarter)
	if !ok {
		return nil, a.unsupported(agentrpc.MethodRestartKernel)
	}
	k, err := rs.RestartKernel(ctx, req.KernelID, req.UpdatedConfig)
	if err != nil {
		return nil, rpcError(fmt.Errorf("restart kernel %s: %w", req.KernelID, err))
	}
	if k.AgentAddr == "" {
		k.AgentAddr = a.addr
	}
	if k.ScalingGroup == "" {
		k.ScalingGroup = a.cfg.Agent.ScalingGroup
	}
	a.logger.Info("kernel restarted", "kernel", req.KernelID, "session", req.SessionID)
	return k, nil
}

// RestartKernel implements [Restarter]: the kernel is kept as it is.
func (r *DummyRuntime) RestartKernel(_ context.Context, kernelID string, _ *agentrpc.KernelConfig) (*agentrpc.KernelCreated, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.kernels[kernelID]
	if !ok {
		return nil, fmt.Errorf("kernel %s: %w", kernelID, ErrKernelNotFound)
	}
	return &agentrpc.KernelCreated{KernelID: k.KernelID, ContainerID: k.ContainerID, KernelHost: "127.0.0.1"}, nil
}

// RestartKernel implements [Restarter]: the kernel's process group is stopped (SIGTERM, then
// SIGKILL after the kill grace) and its processes are started again in the same scratch
// directory, the log appended to. A Python kernel loses its interpreter state; the files of
// its working directory stay. A run in progress ends with the interpreter's exit. When the
// new processes cannot start, the kernel is gone: it is forgotten and its scratch directory
// removed, as DestroyKernel would.
func (r *ProcessRuntime) RestartKernel(_ context.Context, kernelID string, updated *agentrpc.KernelConfig) (*agentrpc.KernelCreated, error) {
	old, err := r.kernel(kernelID)
	if err != nil {
		return nil, err
	}
	old.mu.Lock()
	if old.destroyed {
		old.mu.Unlock()
		return nil, fmt.Errorf("kernel %s: %w", kernelID, ErrKernelNotFound)
	}
	// Marked destroyed, the old processes' exit is not reported and new executions are
	// refused until the new processes run.
	old.destroyed = true
	old.mu.Unlock()
	old.kill(r.grace)
	old.close()
	old.waiters.Wait()
	_ = old.cgroup.remove()

	cfg := old.cfg
	if updated != nil {
		cfg = *updated
		cfg.KernelID, cfg.SessionID = old.cfg.KernelID, old.cfg.SessionID
	}
	cfg.ScratchDir = old.dir

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kernels[kernelID] != old {
		// Destroyed (or replaced) while the old processes stopped.
		return nil, fmt.Errorf("kernel %s: %w", kernelID, ErrKernelNotFound)
	}
	k, err := r.start(&cfg, r.uids[kernelID], true)
	if err != nil {
		delete(r.kernels, kernelID)
		delete(r.uids, kernelID)
		_ = os.RemoveAll(old.dir)
		return nil, fmt.Errorf("start kernel processes again: %w", err)
	}
	k.info.Created = old.info.Created
	r.kernels[kernelID] = k
	return r.created(k, &cfg), nil
}
