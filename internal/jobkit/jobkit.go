// Package jobkit is what the job handler packages (jobs/schedule, jobs/session,
// jobs/maintenance, jobs/idle, ...) share, so that none of them reaches into a sibling: the
// PostgreSQL pool, the enqueuer of follow-up tasks, the event publisher, the logger and the
// clock ([Kit]); publishing events after commit; enqueuing a wake-up whose TaskID may already
// be taken; ending one kernel the way an agent's terminated event does ([Kit.EndKernel]); and
// asking for a session's termination the way a user's destroy does ([Kit.RequestTermination]).
//
// It sits below the handlers and does not link the worker runtime (internal/worker), so the
// API may use it too. Status changes themselves are internal/lifecycle's.
package jobkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/jobs"
)

// DefaultRPCTimeout bounds one call to an agent from a job handler.
const DefaultRPCTimeout = 30 * time.Second

// Config is what New needs; a worker's Deps hold all of it.
type Config struct {
	// Pool is the PostgreSQL pool (required).
	Pool *pgxpool.Pool
	// Enqueuer enqueues follow-up tasks (required).
	Enqueuer *jobs.Enqueuer
	// Redis, when set, carries the lifecycle events (under the enqueuer's prefix).
	Redis redis.UniversalClient
	// Logger is the logger; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Kit is the shared plumbing of one handler package. It is safe for concurrent use.
type Kit struct {
	// Pool is the PostgreSQL pool.
	Pool *pgxpool.Pool
	// Enq enqueues follow-up tasks.
	Enq *jobs.Enqueuer
	// Pub publishes lifecycle events; nil (publishing nothing) without Redis.
	Pub *events.Publisher
	// Logger is never nil.
	Logger *slog.Logger
	// Now is never nil.
	Now func() time.Time
}

// New returns the Kit of c, or an error naming what of c is missing.
func New(c Config) (*Kit, error) {
	if c.Pool == nil {
		return nil, errors.New("no PostgreSQL pool")
	}
	if c.Enqueuer == nil {
		return nil, errors.New("no enqueuer")
	}
	k := &Kit{Pool: c.Pool, Enq: c.Enqueuer, Logger: c.Logger, Now: c.Now}
	if c.Redis != nil {
		k.Pub = events.NewPublisher(c.Redis, c.Enqueuer.Prefix())
	}
	if k.Logger == nil {
		k.Logger = slog.Default()
	}
	if k.Now == nil {
		k.Now = time.Now
	}
	return k, nil
}

// Publish sends evs, logging a failure: the state they describe is committed already.
func (k *Kit) Publish(ctx context.Context, evs ...events.Event) {
	if err := k.Pub.Publish(ctx, evs...); err != nil {
		k.Logger.Warn("publish session events", "error", err)
	}
}

// Enqueue enqueues t (built with error err, which it returns first), treating a TaskID
// that is already taken (the work is queued) as success.
func (k *Kit) Enqueue(ctx context.Context, t *asynq.Task, err error) error {
	if err != nil {
		return err
	}
	if _, err := k.Enq.Enqueue(ctx, t); err != nil && !jobs.IsDuplicate(err) {
		return err
	}
	return nil
}

// EndKernel ends live kernel kid of session sid as TERMINATED with reason, through the same
// path as an agent's terminated event (lifecycle.EndKernel: slots released once, the session
// ended with its last kernel), and publishes the events. A kernel already ended, or a session
// that does not exist, is left alone.
func (k *Kit) EndKernel(ctx context.Context, sid, kid uuid.UUID, reason string) error {
	now := k.Now()
	evs, err := lifecycle.InSession(ctx, k.Pool, sid, func(tx pgx.Tx, ref lifecycle.Ref) ([]events.Event, error) {
		return lifecycle.EndKernel(ctx, tx, ref, sid, kid, reason, nil, now)
	})
	if err != nil {
		return fmt.Errorf("end kernel %s: %w", kid, err)
	}
	k.Publish(ctx, evs...)
	return nil
}

// Termination is a request to end a session the way a user's destroy does.
type Termination struct {
	// SessionID is the session.
	SessionID uuid.UUID
	// From are the statuses the session may be in; in any other it is left alone.
	From []string
	// KernelFrom are the kernel statuses moved to TERMINATING with the session
	// (lifecycle.LiveKernel when nil).
	KernelFrom []string
	// Reason is the status_info and the events' reason.
	Reason string
	// Forced asks the termination to end the session even when its agents cannot be reached.
	Forced bool
}

// RequestTermination moves the session (when it is in one of r.From) and its kernels to
// TERMINATING with r.Reason (lifecycle.MarkTerminating), publishes session_terminating and
// kernel_terminating after commit, and enqueues the session:terminate task that destroys the
// kernels on their agents. It reports whether the session moved. A failed enqueue is logged
// and not returned: the session is TERMINATING, and the schedule tick enqueues the
// termination of a session that stays so.
func (k *Kit) RequestTermination(ctx context.Context, r Termination) (bool, error) {
	kernelFrom := r.KernelFrom
	if kernelFrom == nil {
		kernelFrom = lifecycle.LiveKernel
	}
	now := k.Now()
	var (
		moved bool
		evs   []events.Event
	)
	err := db.InTx(ctx, k.Pool, func(tx pgx.Tx) error {
		var err error
		moved, evs, err = lifecycle.MarkTerminating(ctx, tx, r.SessionID, r.From, kernelFrom, r.Reason, now)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("terminate session %s: %w", r.SessionID, err)
	}
	if !moved {
		return false, nil
	}
	k.Publish(ctx, evs...)
	task, err := jobs.NewSessionTerminateTask(jobs.SessionTerminatePayload{SessionID: r.SessionID.String(), Reason: r.Reason, Forced: r.Forced})
	if err := k.Enqueue(ctx, task, err); err != nil {
		k.Logger.Warn("session marked TERMINATING; its termination was not enqueued (the schedule tick retries)",
			"session", r.SessionID, "reason", r.Reason, "error", err)
	}
	return true, nil
}
