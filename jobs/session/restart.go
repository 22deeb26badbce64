package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/jobs"
)

// RestartCallTimeout bounds the agent call that restarts one kernel.
const RestartCallTimeout = 60 * time.Second

// HandleSessionRestart restarts the kernels of a RESTARTING session (the API moved it there
// from RUNNING) on their agents, all at once, and ends the restart through
// lifecycle.EndRestart: the kernels and the session RUNNING again, or the session ERROR when
// an agent no longer has a kernel. A failed restart keeps the session RUNNING with the error
// in status_info and status_data, where the waiting API reads it.
//
// The task is delivered at least once: a session no longer RESTARTING (the restart is done,
// or the session is being destroyed) is left alone, so a second delivery restarts nothing.
// A session whose task is lost stays RESTARTING until the hang check ends it.
func (h *Handlers) HandleSessionRestart(ctx context.Context, t *asynq.Task) error {
	var p jobs.SessionRestartPayload
	if err := jobs.Decode(t, &p); err != nil {
		return err
	}
	sid, err := uuid.Parse(p.SessionID)
	if err != nil {
		return jobs.Invalid(t, fmt.Sprintf("session id %q: %v", p.SessionID, err))
	}
	var kernels []*dbsqlc.KernelListBySessionRow
	err = db.InTx(ctx, h.Pool, func(tx pgx.Tx) error {
		status, err := lifecycle.LockSession(ctx, tx, sid)
		if err != nil || status != lifecycle.Restarting {
			return err
		}
		all, err := db.Q.KernelListBySession(ctx, tx, sid)
		if err != nil {
			return fmt.Errorf("load kernels: %w", err)
		}
		for _, k := range all {
			if k.Status == lifecycle.Restarting {
				kernels = append(kernels, k)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restart session %s: %w", sid, err)
	}
	if len(kernels) == 0 {
		// Not RESTARTING (done already, or destroyed), or nothing to restart: end the restart
		// if it is still open.
		return h.endRestart(ctx, sid, nil, nil)
	}
	results := make([]lifecycle.KernelRestart, len(kernels))
	var wg sync.WaitGroup
	for i, k := range kernels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = h.restartKernel(ctx, sid, k)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		// The worker is shutting down: leave the session RESTARTING for a redelivery.
		return fmt.Errorf("restart session %s: %w", sid, ctx.Err())
	}
	return h.endRestart(ctx, sid, kernels, results)
}

// restartKernel restarts one kernel on its agent.
func (h *Handlers) restartKernel(ctx context.Context, sid uuid.UUID, k *dbsqlc.KernelListBySessionRow) lifecycle.KernelRestart {
	r := lifecycle.KernelRestart{KernelID: k.ID}
	fail := func(err error) lifecycle.KernelRestart {
		var re *agentrpc.RemoteError
		r.ErrName, r.Err = errorName(err), err.Error()
		if errors.As(err, &re) {
			r.Err = re.Message
			r.Gone = re.Kind == agentrpc.KindNotFound
		}
		return r
	}
	if k.AgentAddr == nil || *k.AgentAddr == "" {
		return fail(agentrpc.Errorf(agentrpc.KindNotFound, "kernel %s is on no agent", k.ID))
	}
	c, err := h.rpc.Get(*k.AgentAddr)
	if err != nil {
		return fail(fmt.Errorf("agent %s: %w", *k.AgentAddr, err))
	}
	cctx, cancel := context.WithTimeout(ctx, RestartCallTimeout)
	defer cancel()
	rep, err := c.RestartKernel(cctx, &agentrpc.RestartKernelRequest{SessionID: sid.String(), KernelID: k.ID.String()})
	if err != nil {
		h.Logger.Warn("kernel restart failed", "session", sid, "kernel", k.ID, "error", err)
		return fail(err)
	}
	if rep != nil {
		r.ContainerID = rep.ContainerID
	}
	return r
}

// endRestart records the restart's results and publishes its events: kernel_started for every
// restarted kernel, then session_started (withRestartedKernels).
func (h *Handlers) endRestart(ctx context.Context, sid uuid.UUID, kernels []*dbsqlc.KernelListBySessionRow, results []lifecycle.KernelRestart) error {
	now := h.Now()
	var evs []events.Event
	err := db.InTx(ctx, h.Pool, func(tx pgx.Tx) error {
		var err error
		evs, err = lifecycle.EndRestart(ctx, tx, sid, results, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("restart session %s: record: %w", sid, err)
	}
	h.Publish(ctx, withRestartedKernels(evs, kernels, results)...)
	return nil
}
