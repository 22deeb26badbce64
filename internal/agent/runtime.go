package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hangar-run/hangar/internal/agentrpc"
)

// ErrKernelNotFound is returned by a [Runtime] for a kernel it does not have.
var ErrKernelNotFound = errors.New("kernel not found")

// ErrNotSupported is returned by a [Runtime] for an operation it does not implement.
var ErrNotSupported = errors.New("not supported by this runtime")

// Kernel is what a [Runtime] knows about one of its kernels.
type Kernel struct {
	// KernelID is the kernel's UUID.
	KernelID string
	// SessionID is the owning session's UUID.
	SessionID string
	// ContainerID identifies the kernel within the runtime.
	ContainerID string
	// Slots are the slots the kernel was created with (decimal strings).
	Slots map[string]string
	// Created is when the runtime created the kernel.
	Created time.Time
}

// Runtime runs kernels on the agent's host. Implementations are safe for concurrent use.
type Runtime interface {
	// Name returns the runtime's name ("dummy", "process").
	Name() string
	// CreateKernel starts a kernel and returns what the manager needs to reach it. Creating
	// a kernel that already exists returns the existing one.
	CreateKernel(ctx context.Context, cfg *agentrpc.KernelConfig) (*agentrpc.KernelCreated, error)
	// DestroyKernel stops a kernel and removes it; ErrKernelNotFound for an unknown kernel.
	DestroyKernel(ctx context.Context, kernelID string) error
	// ListKernels returns the kernels the runtime has, ordered by kernel id.
	ListKernels(ctx context.Context) ([]Kernel, error)
	// Execute runs code in a kernel; ErrKernelNotFound for an unknown kernel.
	Execute(ctx context.Context, req *agentrpc.ExecuteRequest) (*agentrpc.ExecuteResult, error)
	// Interrupt interrupts the code running in a kernel (SIGINT).
	Interrupt(ctx context.Context, kernelID string) error
	// Logs returns a kernel's log.
	Logs(ctx context.Context, kernelID string) (string, error)
	// UploadFile writes a file, relative to the kernel's working directory.
	UploadFile(ctx context.Context, kernelID, path string, data []byte) error
	// ListFiles lists a directory, relative to the kernel's working directory.
	ListFiles(ctx context.Context, kernelID, path string) (*agentrpc.ListFilesReply, error)
	// WalkFiles describes a regular file, or a file or directory tree when req.Recursive is
	// set, before a download reads it, within the request's size and entry budgets.
	WalkFiles(ctx context.Context, req *agentrpc.WalkFilesRequest) (*agentrpc.WalkFilesReply, error)
	// ReadFile reads one chunk (at most agentrpc.MaxChunk bytes) of a regular file, holding
	// nothing open once it returns.
	ReadFile(ctx context.Context, req *agentrpc.ReadFileRequest) (*agentrpc.ReadFileReply, error)
	// Close releases the runtime's resources; its kernels are left alone.
	Close() error
}

// NewRuntime returns the runtime named by cfg.Agent.Runtime.
func NewRuntime(cfg *Config) (Runtime, error) {
	switch cfg.Agent.Runtime {
	case RuntimeDummy:
		if v := os.Getenv(SimulateUtilizationEnv); v != "" {
			u, err := ParseSimulatedUtilization(v)
			if err != nil {
				return nil, err
			}
			return NewSimulatedRuntime(NewDummyRuntime(time.Now), u), nil
		}
		return NewDummyRuntime(time.Now), nil
	case RuntimeProcess:
		warm := DefaultWarmInterpreters
		if cfg.Sandbox.WarmInterpreters != nil {
			warm = *cfg.Sandbox.WarmInterpreters
		}
		return NewProcessRuntime(cfg.Container.ScratchRoot, time.Now, WithSandbox(cfg.Sandbox), WithWarmInterpreters(warm))
	default:
		return nil, fmt.Errorf("unknown agent.runtime %q", cfg.Agent.Runtime)
	}
}

// DummyRuntime accepts kernels instantly and runs nothing: it only remembers them in memory.
// It serves scale and chaos tests with many simulated agents in one process.
type DummyRuntime struct {
	now func() time.Time

	mu      sync.Mutex
	kernels map[string]Kernel
}

// NewDummyRuntime returns an empty DummyRuntime whose clock is now (time.Now when nil).
func NewDummyRuntime(now func() time.Time) *DummyRuntime {
	if now == nil {
		now = time.Now
	}
	return &DummyRuntime{now: now, kernels: make(map[string]Kernel)}
}

// Name implements [Runtime].
func (*DummyRuntime) Name() string { return RuntimeDummy }

// CreateKernel implements [Runtime]: it records the kernel and returns at once.
func (r *DummyRuntime) CreateKernel(_ context.Context, cfg *agentrpc.KernelConfig) (*agentrpc.KernelCreated, error) {
	if cfg.KernelID == "" {
		return nil, agentrpc.Errorf(agentrpc.KindInvalidInput, "kernel config without kernel_id")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.kernels[cfg.KernelID]
	if !ok {
		k = Kernel{
			KernelID:    cfg.KernelID,
			SessionID:   cfg.SessionID,
			ContainerID: "dummy-" + strings.ReplaceAll(cfg.KernelID, "-", ""),
			Slots:       cloneMap(cfg.ResourceSlots),
			Created:     r.now(),
		}
		r.kernels[cfg.KernelID] = k
	}
	return &agentrpc.KernelCreated{
		KernelID:     k.KernelID,
		ContainerID:  k.ContainerID,
		KernelHost:   "127.0.0.1",
		AgentAddr:    cfg.AgentAddr,
		ScalingGroup: cfg.ScalingGroup,
	}, nil
}

// DestroyKernel implements [Runtime]: it forgets the kernel.
func (r *DummyRuntime) DestroyKernel(_ context.Context, kernelID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.kernels[kernelID]; !ok {
		return fmt.Errorf("kernel %s: %w", kernelID, ErrKernelNotFound)
	}
	delete(r.kernels, kernelID)
	return nil
}

// ListKernels implements [Runtime].
func (r *DummyRuntime) ListKernels(context.Context) ([]Kernel, error) {
	r.mu.Lock()
	out := make([]Kernel, 0, len(r.kernels))
	for _, k := range r.kernels {
		k.Slots = cloneMap(k.Slots)
		out = append(out, k)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b Kernel) int { return strings.Compare(a.KernelID, b.KernelID) })
	return out, nil
}

// Execute implements [Runtime]: every run finishes at once with exit code 0 and no output.
func (r *DummyRuntime) Execute(_ context.Context, req *agentrpc.ExecuteRequest) (*agentrpc.ExecuteResult, error) {
	r.mu.Lock()
	_, ok := r.kernels[req.KernelID]
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("kernel %s: %w", req.KernelID, ErrKernelNotFound)
	}
	exit := 0
	return &agentrpc.ExecuteResult{
		RunID:    req.RunID,
		Status:   agentrpc.ExecStatusFinished,
		Console:  [][2]string{},
		ExitCode: &exit,
		Files:    []map[string]any{},
		Options:  map[string]any{},
	}, nil
}

// Interrupt implements [Runtime]: ErrNotSupported.
func (r *DummyRuntime) Interrupt(_ context.Context, kernelID string) error {
	return r.unsupported(kernelID)
}

// Logs implements [Runtime]: the log is always empty.
func (r *DummyRuntime) Logs(_ context.Context, kernelID string) (string, error) {
	return "", r.check(kernelID)
}

// UploadFile implements [Runtime]: ErrNotSupported.
func (r *DummyRuntime) UploadFile(_ context.Context, kernelID, _ string, _ []byte) error {
	return r.unsupported(kernelID)
}

// ListFiles implements [Runtime]: ErrNotSupported.
func (r *DummyRuntime) ListFiles(_ context.Context, kernelID, _ string) (*agentrpc.ListFilesReply, error) {
	return nil, r.unsupported(kernelID)
}

// WalkFiles implements [Runtime]: ErrNotSupported.
func (r *DummyRuntime) WalkFiles(_ context.Context, req *agentrpc.WalkFilesRequest) (*agentrpc.WalkFilesReply, error) {
	return nil, r.unsupported(req.KernelID)
}

// ReadFile implements [Runtime]: ErrNotSupported.
func (r *DummyRuntime) ReadFile(_ context.Context, req *agentrpc.ReadFileRequest) (*agentrpc.ReadFileReply, error) {
	return nil, r.unsupported(req.KernelID)
}

// check returns ErrKernelNotFound for a kernel the runtime does not have.
func (r *DummyRuntime) check(kernelID string) error {
	r.mu.Lock()
	_, ok := r.kernels[kernelID]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("kernel %s: %w", kernelID, ErrKernelNotFound)
	}
	return nil
}

// unsupported returns ErrKernelNotFound for an unknown kernel and ErrNotSupported otherwise.
func (r *DummyRuntime) unsupported(kernelID string) error {
	if err := r.check(kernelID); err != nil {
		return err
	}
	return fmt.Errorf("the %s runtime: %w", RuntimeDummy, ErrNotSupported)
}

// Close implements [Runtime].
func (*DummyRuntime) Close() error { return nil }

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
