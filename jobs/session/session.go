// Package session moves placed sessions through the rest of their lifecycle (design.md "Data
// flow: one session"): starting the sessions a schedule pass placed on their agents
// (jobs.TypeSessionStartBatch, jobs.TypeSessionStart for one), terminating a session
// (jobs.TypeSessionTerminate), restarting a session's kernels (jobs.TypeSessionRestart), and
// applying the kernel events agents report (jobs.TypeKernelEvent), keeping the log of a kernel
// that ends.
//
// PostgreSQL holds the state; every status change goes through internal/lifecycle, which
// guards it with the expected current status and the transition table, records the status
// history and releases a kernel's agent slots exactly once. Events are published after commit.
package session

import (
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/jobkit"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
)

// DefaultRPCTimeout bounds one call to an agent.
const DefaultRPCTimeout = jobkit.DefaultRPCTimeout

// Options tunes Handlers beyond what worker.Deps gives. The zero value is usable.
type Options struct {
	// RPC is the pool of agent clients; New creates one when nil.
	RPC *agentrpc.Pool
	// RPCTimeout bounds one agent call; DefaultRPCTimeout when zero.
	RPCTimeout time.Duration
}

// Handlers processes the session lifecycle tasks. It is safe for concurrent use.
type Handlers struct {
	*jobkit.Kit
	rpc        *agentrpc.Pool
	rpcTimeout time.Duration
}

// New returns Handlers working on deps.Pool, enqueuing follow-up tasks with deps.Enqueuer
// and publishing events on deps.Redis under the enqueuer's prefix.
func New(deps *worker.Deps, opts Options) (*Handlers, error) {
	kit, err := jobkit.New(jobkit.Config{Pool: deps.Pool, Enqueuer: deps.Enqueuer, Redis: deps.Redis, Logger: deps.Logger, Now: deps.Now})
	if err != nil {
		return nil, fmt.Errorf("session handlers: %w", err)
	}
	h := &Handlers{Kit: kit, rpc: opts.RPC, rpcTimeout: opts.RPCTimeout}
	if h.rpcTimeout <= 0 {
		h.rpcTimeout = DefaultRPCTimeout
	}
	if h.rpc == nil {
		h.rpc = agentrpc.NewPool(agentrpc.ClientOptions{Timeout: h.rpcTimeout, Logger: h.Logger})
	}
	return h, nil
}

// Register registers the session lifecycle handlers on mux, with a new agent client pool
// that lives as long as the process.
func Register(mux *asynq.ServeMux, deps *worker.Deps) error {
	h, err := New(deps, Options{})
	if err != nil {
		return err
	}
	h.Register(mux)
	return nil
}

// Register registers h's handlers on mux under their exact task types.
func (h *Handlers) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(jobs.TypeSessionStart, h.HandleSessionStart)
	mux.HandleFunc(jobs.TypeSessionStartBatch, h.HandleSessionStartBatch)
	mux.HandleFunc(jobs.TypeSessionTerminate, h.HandleSessionTerminate)
	mux.HandleFunc(jobs.TypeSessionRestart, h.HandleSessionRestart)
	mux.HandleFunc(jobs.TypeKernelEvent, h.HandleKernelEvent)
}
