// Package agent is Hangar's agent: it serves the manager's RPC (internal/agentrpc) on top
// of a [Runtime] that runs the kernels, and reports itself to the manager with periodic
// heartbeats, enqueued as jobs.TypeAgentHeartbeat tasks into the manager's Redis.
//
// Runtimes: [DummyRuntime] accepts kernels and runs nothing (scale tests, [Simulate]);
// [ProcessRuntime] runs each kernel as a process group on the host.
//
// Kernel events (jobs.TypeKernelEvent) go through the same enqueuer: "terminated" when a
// kernel's main process ends by itself (with its exit code) or when it is destroyed. That a
// kernel started is the create_kernels reply.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/jobs"
)

// DefaultVersion is the version an agent reports unless Options.Version says otherwise: the
// Backend.AI release whose agent Hangar's agent stands in for.
const DefaultVersion = "24.03.2"

// SyncKeepYounger is how young a kernel the manager's sync list does not name must be to
// survive the sync: the manager reads its list before the call reaches the agent, so a
// kernel created in between is legitimately missing from it. It exceeds any RPC timeout.
const SyncKeepYounger = time.Minute

// maxEnqueueWait bounds one heartbeat enqueue.
const maxEnqueueWait = 5 * time.Second

// Enqueuer enqueues tasks into the manager's queues; *jobs.Enqueuer is one.
type Enqueuer interface {
	Enqueue(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Options tunes an [Agent]. The zero value is usable.
type Options struct {
	// Logger receives the agent's log lines; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock stamping heartbeats; time.Now when nil.
	Now func() time.Time
	// Tick, when set, replaces the heartbeat ticker: a heartbeat is sent for every value
	// received (besides the one sent when Run starts). Tests drive it.
	Tick <-chan time.Time
	// Version is the version reported in heartbeats; DefaultVersion when empty.
	Version string
	// RPC configures the RPC server; its Logger defaults to Logger.
	RPC agentrpc.ServerOptions
	// Metrics, when set, receives the agent's collectors: RPC calls by method and result,
	// heartbeat failures, kernels held (agents of one process share them, labelled by id).
	Metrics prometheus.Registerer
}

// Agent serves the agent RPC on top of a [Runtime] and sends heartbeats. It implements
// agentrpc.Handler.
type Agent struct {
	cfg     *Config
	rt      Runtime
	enq     Enqueuer
	srv     *agentrpc.Server
	addr    string
	logger  *slog.Logger
	now     func() time.Time
	tick    <-chan time.Time
	version string
	metrics *agentMetrics // nil without Options.Metrics
	usage   usageSampler  // kernel utilization between heartbeats (utilization.go)

	evMu    sync.Mutex
	started map[string]bool       // kernels whose started event was sent
	pending map[string]KernelExit // exits seen before the started event was sent
	exited  map[string]bool       // kernels whose terminated event was sent
}

var _ agentrpc.Handler = (*Agent)(nil)

// New binds the agent's RPC server at cfg's listen address and returns the agent; it serves
// and sends heartbeats once Run runs. Heartbeats go through enq. Close releases an agent that
// never ran.
func New(cfg *Config, rt Runtime, enq Enqueuer, opts Options) (*Agent, error) {
	if rt == nil || enq == nil {
		return nil, errors.New("agent: runtime and enqueuer are required")
	}
	a := &Agent{cfg: cfg, rt: rt, enq: enq, logger: opts.Logger, now: opts.Now, tick: opts.Tick, version: opts.Version,
		started: map[string]bool{}, pending: map[string]KernelExit{}, exited: map[string]bool{}}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	a.logger = a.logger.With("agent", cfg.Agent.ID)
	if a.now == nil {
		a.now = time.Now
	}
	if a.version == "" {
		a.version = DefaultVersion
	}
	rpcOpts := opts.RPC
	if rpcOpts.Logger == nil {
		rpcOpts.Logger = a.logger
	}
	if opts.Metrics != nil {
		m, err := newAgentMetrics(opts.Metrics)
		if err != nil {
			return nil, fmt.Errorf("agent %s: %w", cfg.Agent.ID, err)
		}
		a.metrics = m
		m.heartbeatFailures.WithLabelValues(cfg.Agent.ID) // exported at 0 from the start
		rpcOpts.Observe = m.observeRPC(cfg.Agent.ID, rpcOpts.Observe)
	}
	srv, err := agentrpc.NewServer(cfg.ListenEndpoint(), a, rpcOpts)
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", cfg.Agent.ID, err)
	}
	port, err := endpointPort(srv.Addr())
	if err != nil {
		_ = srv.Close()
		return nil, fmt.Errorf("agent %s: %w", cfg.Agent.ID, err)
	}
	a.srv = srv
	a.addr = cfg.advertise(port)
	if n, ok := rt.(ExitNotifier); ok {
		n.SetExitHandler(a.kernelExited)
	}
	if opts.Metrics != nil {
		if err := registerKernels(opts.Metrics, a); err != nil {
			_ = srv.Close()
			return nil, fmt.Errorf("agent %s: register metrics: %w", cfg.Agent.ID, err)
		}
	}
	return a, nil
}

// endpointPort returns the port of a "tcp://host:port" endpoint.
func endpointPort(endpoint string) (int, error) {
	_, port, err := net.SplitHostPort(strings.TrimPrefix(endpoint, "tcp://"))
	if err != nil {
		return 0, fmt.Errorf("bound endpoint %q: %w", endpoint, err)
	}
	return strconv.Atoi(port)
}

// ID returns the agent's id.
func (a *Agent) ID() string { return a.cfg.Agent.ID }

// Addr returns the RPC address the agent advertises ("tcp://10.0.0.5:6001").
func (a *Agent) Addr() string { return a.addr }

// ListenAddr returns the endpoint the RPC server is bound to.
func (a *Agent) ListenAddr() string { return a.srv.Addr() }

// Runtime returns the agent's runtime.
func (a *Agent) Runtime() Runtime { return a.rt }

// Run serves the RPC and sends a heartbeat at once and then every heartbeat interval (or
// Options.Tick), until ctx ends. Then it stops the heartbeats, shuts the RPC server down
// gracefully and returns nil, or the server's error. A heartbeat that cannot be enqueued is
// logged; the next one replaces it.
func (a *Agent) Run(ctx context.Context) error {
	hbCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.heartbeatLoop(hbCtx)
	}()
	a.logger.Info("agent serving", "listen", a.srv.Addr(), "addr", a.addr, "runtime", a.rt.Name(),
		"scaling_group", a.cfg.Agent.ScalingGroup)
	err := a.srv.Serve(ctx)
	stop()
	<-done
	if err != nil {
		return fmt.Errorf("agent %s: rpc server: %w", a.ID(), err)
	}
	a.logger.Info("agent stopped")
	return nil
}

// Close releases the RPC server of an agent that is not running (a running one stops with
// its context). It is idempotent.
func (a *Agent) Close() error { return a.srv.Close() }

func (a *Agent) heartbeatLoop(ctx context.Context) {
	tick := a.tick
	if tick == nil {
		t := time.NewTicker(a.cfg.HeartbeatEvery())
		defer t.Stop()
		tick = t.C
	}
	for {
		if err := a.Heartbeat(ctx); err != nil && ctx.Err() == nil {
			if a.metrics != nil {
				a.metrics.heartbeatFailures.WithLabelValues(a.ID()).Inc()
			}
			a.logger.Warn("heartbeat not sent; retrying on the next tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case _, ok := <-tick:
			if !ok {
				<-ctx.Done()
				return
			}
		}
	}
}

// HeartbeatPayload returns the heartbeat the agent would send now.
func (a *Agent) HeartbeatPayload(ctx context.Context) (jobs.AgentHeartbeatPayload, error) {
	kernels, err := a.rt.ListKernels(ctx)
	if err != nil {
		return jobs.AgentHeartbeatPayload{}, fmt.Errorf("list kernels: %w", err)
	}
	ids := make([]string, 0, len(kernels))
	for _, k := range kernels {
		ids = append(ids, k.KernelID)
	}
	s := make(map[string]jobs.AgentSlot, len(a.cfg.Slots))
	for k, v := range a.cfg.Slots {
		s[k] = v
	}
	p := jobs.AgentHeartbeatPayload{
		AgentID:      a.cfg.Agent.ID,
		Addr:         a.addr,
		Region:       a.cfg.Agent.Region,
		ScalingGroup: a.cfg.Agent.ScalingGroup,
		Architecture: Architecture(runtime.GOARCH),
		Version:      a.version,
		Slots:        s,
		KernelIDs:    ids,
		Time:         a.now(),
	}
	p.Utilization = a.utilization(ctx, p.Time)
	return p, nil
}

// Heartbeat enqueues one heartbeat. A heartbeat already enqueued for the same second counts
// as sent.
func (a *Agent) Heartbeat(ctx context.Context) error {
	p, err := a.HeartbeatPayload(ctx)
	if err != nil {
		return err
	}
	t, err := jobs.NewAgentHeartbeatTask(p)
	if err != nil {
		return err
	}
	ectx, cancel := context.WithTimeout(ctx, min(a.cfg.HeartbeatEvery(), maxEnqueueWait))
	defer cancel()
	if _, err := a.enq.Enqueue(ectx, t); err != nil {
		if jobs.IsDuplicate(err) {
			a.logger.Debug("heartbeat already queued", "time", p.Time)
			return nil
		}
		return err
	}
	a.logger.Debug("heartbeat sent", "time", p.Time, "kernels", len(p.KernelIDs))
	return nil
}

// Architecture maps a Go GOARCH onto the architecture names Backend.AI uses (amd64 →
// x86_64, arm64 → aarch64); others pass through.
func Architecture(goarch string) string {
	switch goarch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	default:
		return goarch
	}
}

// rpcError maps a runtime error onto the agentrpc error kind the manager sees.
func rpcError(err error) error {
	var re *agentrpc.RemoteError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re):
		return err
	case errors.Is(err, ErrKernelNotFound):
		return agentrpc.Errorf(agentrpc.KindNotFound, "%v", err)
	case errors.Is(err, ErrNotSupported):
		return agentrpc.Errorf(agentrpc.KindUnknownMethod, "%v", err)
	default:
		return err
	}
}

// unsupported is the error of a method the agent's runtime does not implement.
func (a *Agent) unsupported(method string) error {
	return agentrpc.Errorf(agentrpc.KindUnknownMethod, "%s: the %s runtime does not support it", method, a.rt.Name())
}

// CreateKernels implements agentrpc.Handler: it creates the kernels in request order and
// fails with the first error.
func (a *Agent) CreateKernels(ctx context.Context, req *agentrpc.CreateKernelsRequest) (*agentrpc.CreateKernelsReply, error) {
	rep := &agentrpc.CreateKernelsReply{Kernels: make([]agentrpc.KernelCreated, 0, len(req.Kernels))}
	for i := range req.Kernels {
		kc := req.Kernels[i]
		if kc.SessionID == "" {
			kc.SessionID = req.SessionID
		}
		if kc.AgentAddr == "" {
			kc.AgentAddr = a.addr
		}
		if kc.ScalingGroup == "" {
			kc.ScalingGroup = a.cfg.Agent.ScalingGroup
		}
		k, err := a.rt.CreateKernel(ctx, &kc)
		if err != nil {
			return nil, rpcError(fmt.Errorf("create kernel %s: %w", kc.KernelID, err))
		}
		a.logger.Info("kernel created", "kernel", kc.KernelID, "session", kc.SessionID)
		a.kernelStarted(kc.KernelID, kc.SessionID)
		rep.Kernels = append(rep.Kernels, *k)
	}
	return rep, nil
}

// DestroyKernel implements agentrpc.Handler.
func (a *Agent) DestroyKernel(ctx context.Context, req *agentrpc.DestroyKernelRequest) error {
	if err := a.rt.DestroyKernel(ctx, req.KernelID); err != nil {
		return rpcError(err)
	}
	a.logger.Info("kernel destroyed", "kernel", req.KernelID, "reason", req.Reason)
	reason := req.Reason
	if reason == "" {
		reason = "user-requested"
	}
	a.kernelDestroyed(req.KernelID, req.SessionID, reason, req.SuppressEvents)
	return nil
}

// Execute implements agentrpc.Handler.
func (a *Agent) Execute(ctx context.Context, req *agentrpc.ExecuteRequest) (*agentrpc.ExecuteResult, error) {
	res, err := a.rt.Execute(ctx, req)
	return res, rpcError(err)
}

// Ping implements agentrpc.Handler: it echoes the payload with the agent's id.
func (a *Agent) Ping(_ context.Context, req *agentrpc.PingRequest) (*agentrpc.PingReply, error) {
	return &agentrpc.PingReply{Payload: req.Payload, AgentID: a.ID()}, nil
}

// SyncKernels implements agentrpc.Handler: listed kernels are reported alive or missing, and
// kernels the manager did not list are destroyed and reported unknown.
func (a *Agent) SyncKernels(ctx context.Context, req *agentrpc.SyncKernelsRequest) (*agentrpc.SyncKernelsReply, error) {
	have, err := a.rt.ListKernels(ctx)
	if err != nil {
		return nil, fmt.Errorf("list kernels: %w", err)
	}
	local := make(map[string]bool, len(have))
	for _, k := range have {
		local[k.KernelID] = true
	}
	rep := &agentrpc.SyncKernelsReply{Alive: []string{}, Missing: []string{}, Unknown: []string{}}
	listed := make(map[string]bool, len(req.Kernels))
	for _, k := range req.Kernels {
		listed[k.KernelID] = true
		if local[k.KernelID] {
			rep.Alive = append(rep.Alive, k.KernelID)
		} else {
			rep.Missing = append(rep.Missing, k.KernelID)
		}
	}
	for _, k := range have {
		if listed[k.KernelID] {
			continue
		}
		if !k.Created.IsZero() && a.now().Sub(k.Created) < SyncKeepYounger {
			// Created after the manager may have read its list: not destroyed, not reported.
			continue
		}
		rep.Unknown = append(rep.Unknown, k.KernelID)
		if err := a.rt.DestroyKernel(ctx, k.KernelID); err != nil && !errors.Is(err, ErrKernelNotFound) {
			return nil, fmt.Errorf("destroy kernel %s unknown to the manager: %w", k.KernelID, err)
		}
		a.kernelDestroyed(k.KernelID, k.SessionID, "not-found-in-manager", false)
		a.logger.Info("kernel destroyed", "kernel", k.KernelID, "reason", "not-found-in-manager")
	}
	return rep, nil
}

// InterruptKernel implements agentrpc.Handler.
func (a *Agent) InterruptKernel(ctx context.Context, req *agentrpc.InterruptKernelRequest) error {
	return rpcError(a.rt.Interrupt(ctx, req.KernelID))
}

// GetLogs implements agentrpc.Handler.
func (a *Agent) GetLogs(ctx context.Context, req *agentrpc.GetLogsRequest) (*agentrpc.GetLogsReply, error) {
	logs, err := a.rt.Logs(ctx, req.KernelID)
	if err != nil {
		return nil, rpcError(err)
	}
	return &agentrpc.GetLogsReply{Logs: logs}, nil
}

// The file methods (UploadFile, ListFiles, WalkFiles, ReadFile) are in files.go.

// kernelStarted records that a kernel was created, then sends the terminated event its main
// process already ended with, if any. No started event is sent: the create_kernels reply is
// the manager's word that the kernel runs (session:start applies it, and a start whose reply
// was lost is retried, which create_kernels answers idempotently), so an event would only cost
// a job and a transaction per kernel.
func (a *Agent) kernelStarted(kernelID, _ string) {
	a.evMu.Lock()
	a.started[kernelID] = true
	e, ok := a.pending[kernelID]
	delete(a.pending, kernelID)
	if ok {
		a.exited[kernelID] = true
	}
	a.evMu.Unlock()
	if ok {
		a.sendExit(e)
	}
}

// kernelExited is the runtime's exit handler: it sends the terminated event of a kernel whose
// main process ended by itself, after its started event.
func (a *Agent) kernelExited(e KernelExit) {
	a.evMu.Lock()
	if !a.started[e.KernelID] {
		a.pending[e.KernelID] = e
		a.evMu.Unlock()
		return
	}
	a.exited[e.KernelID] = true
	a.evMu.Unlock()
	a.sendExit(e)
}

func (a *Agent) sendExit(e KernelExit) {
	reason := "self-terminated"
	if e.ExitCode == 0 {
		reason = "task-done"
	}
	code := e.ExitCode
	a.logger.Info("kernel exited", "kernel", e.KernelID, "exit_code", code)
	a.sendKernelEvent(jobs.KernelEventPayload{KernelID: e.KernelID, SessionID: e.SessionID, Event: jobs.KernelEventTerminated,
		ExitCode: &code, Reason: reason, Time: e.Time})
}

// kernelDestroyed sends a destroyed kernel's terminated event, unless its exit was already
// reported or events are suppressed, and forgets the kernel.
func (a *Agent) kernelDestroyed(kernelID, sessionID, reason string, suppress bool) {
	a.evMu.Lock()
	done := a.exited[kernelID]
	delete(a.started, kernelID)
	delete(a.pending, kernelID)
	delete(a.exited, kernelID)
	a.evMu.Unlock()
	if done || suppress {
		return
	}
	a.sendKernelEvent(jobs.KernelEventPayload{KernelID: kernelID, SessionID: sessionID, Event: jobs.KernelEventTerminated,
		Reason: reason, Time: a.now()})
}

// sendKernelEvent enqueues a kernel event; a failure is logged (the manager's kernel sync
// catches up with lost events).
func (a *Agent) sendKernelEvent(p jobs.KernelEventPayload) {
	p.AgentID = a.ID()
	t, err := jobs.NewKernelEventTask(p)
	if err != nil {
		a.logger.Error("kernel event not built", "kernel", p.KernelID, "event", p.Event, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), maxEnqueueWait)
	defer cancel()
	if _, err := a.enq.Enqueue(ctx, t); err != nil && !jobs.IsDuplicate(err) {
		a.logger.Warn("kernel event not sent", "kernel", p.KernelID, "event", p.Event, "err", err)
		return
	}
	a.logger.Debug("kernel event sent", "kernel", p.KernelID, "event", p.Event)
}
