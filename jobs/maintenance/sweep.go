package maintenance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hibiken/asynq"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/lifecycle"
	"github.com/hangar-run/hangar/internal/usage"
	"github.com/hangar-run/hangar/jobs"
)

// DefaultHeartbeatTimeout is manager.heartbeat-timeout's default: an agent not heard from
// for this long is LOST.
const DefaultHeartbeatTimeout = 40 * time.Second

// SyncGrace is how long a kernel must have been RUNNING (or TERMINATING) before a sync that
// finds it missing on its agent closes it: a younger kernel may still be on its way.
const SyncGrace = 30 * time.Second

// sweepBatch bounds the rows one sweep run handles; the next run takes the rest.
const sweepBatch = 1000

// Reasons the sweeps end kernels and sessions with (status_info, event reasons).
const (
	ReasonAgentLost         = "agent-lost"
	ReasonAlreadyTerminated = "already-terminated"
	ReasonHangTimeout       = "hang-timeout"
)

// HangToleranceKey is the shared-config prefix of the hang tolerance thresholds:
// <key>/<STATUS> = a duration ("30m", "1h"); "0" turns the check of that status off.
const HangToleranceKey = "config/session/hang-tolerance/threshold"

// DefaultHangTolerance is how long a session may stay in each transitional status when the
// shared config names no threshold. PREPARING and TERMINATING follow Backend.AI's sample
// configuration; the others are Hangar's, so that no status lacks a way out.
var DefaultHangTolerance = map[string]time.Duration{ //nolint:gochecknoglobals // read-only defaults
	lifecycle.Scheduled:   30 * time.Minute,
	lifecycle.Preparing:   time.Hour,
	lifecycle.Pulling:     2 * time.Hour,
	lifecycle.Terminating: 30 * time.Minute,
	lifecycle.Restarting:  30 * time.Minute,
}

// HandleAgentLostCheck marks LOST the ALIVE agents not heard from for the heartbeat timeout,
// then ends the kernels still live on LOST (or TERMINATED) agents: each becomes TERMINATED
// with reason agent-lost, its slots are released (exactly once, as for any kernel end), and a
// session whose last kernel it was ends too, with the usual events. The second step also
// picks up kernels a crashed earlier run left behind, so the sweep is idempotent.
//
// Heartbeats reach the database through the queue, so an agent counts as silent only for the
// time its heartbeats could not have been waiting there: the cutoff moves back by the age of
// the oldest pending task of the heartbeat queue. A manager under a backlog thus never takes
// its live agents for lost (and ends their sessions); a dead agent is found once the backlog
// is worked off.
//
// Nor does an outage of the manager's own side count against the agents: each run is recorded,
// and when the previous one is longer ago than twice the check's period (PostgreSQL or Redis
// was away, or no worker ran), heartbeats were not being applied either, so no agent is taken
// for lost until one heartbeat timeout after the check runs again.
func (h *Sweeps) HandleAgentLostCheck(ctx context.Context, _ *asynq.Task) error {
	now := h.Now()
	since, err := db.Q.AgentLostCheckRun(ctx, h.Pool, &dbsqlc.AgentLostCheckRunParams{Now: now, MaxGapSeconds: h.lostCheckMaxGap().Seconds()})
	if err != nil {
		return fmt.Errorf("record lost-agent check: %w", db.Translate(err))
	}
	if since != nil && now.Sub(*since) < h.heartbeatTimeout {
		h.Logger.Info("lost-agent check resumed after a gap: agents have one heartbeat timeout to be heard",
			"listening_since", *since, "timeout", h.heartbeatTimeout)
	} else {
		backlog := h.heartbeatBacklog()
		lost, err := db.Q.AgentMarkLost(ctx, h.Pool, &dbsqlc.AgentMarkLostParams{Now: now, Cutoff: now.Add(-h.heartbeatTimeout - backlog)})
		if err != nil {
			return fmt.Errorf("mark lost agents: %w", db.Translate(err))
		}
		for _, id := range lost {
			h.Logger.Warn("agent lost: no heartbeat within the timeout", "agent", id, "timeout", h.heartbeatTimeout)
		}
	}
	kernels, err := db.Q.KernelsLiveOnLostAgents(ctx, h.Pool, sweepBatch)
	if err != nil {
		return fmt.Errorf("list kernels on lost agents: %w", db.Translate(err))
	}
	var errs []error
	for _, k := range kernels {
		if err := h.EndKernel(ctx, k.SessionID, k.ID, ReasonAgentLost); err != nil {
			errs = append(errs, err)
			continue
		}
		h.Logger.Info("kernel ended: its agent is lost", "kernel", k.ID, "session", k.SessionID, "agent", k.Agent)
	}
	return errors.Join(errs...)
}

// lostCheckMaxGap is the longest gap between two runs of the lost-agent check that still
// counts as the manager listening all along: twice its period, plus a second of slack.
func (h *Sweeps) lostCheckMaxGap() time.Duration {
	every := jobs.DefaultAgentLostCheckEvery
	if h.shared != nil {
		every = h.shared.Duration(jobs.AgentLostCheckIntervalKey, every)
	}
	return 2*every + time.Second
}

// heartbeatBacklog returns how long the oldest heartbeat waiting in the queue has waited
// (zero without a Redis client or when the queue is empty or unreadable).
func (h *Sweeps) heartbeatBacklog() time.Duration {
	if h.inspector == nil {
		return 0
	}
	q := jobs.QueueName(h.Enq.Prefix(), jobs.DefaultsOf(jobs.TypeAgentHeartbeat).Queue)
	info, err := h.inspector.GetQueueInfo(q)
	if err != nil || info.Latency < 0 {
		return 0
	}
	if info.Latency > time.Second {
		h.Logger.Info("heartbeat queue backlog extends the lost-agent timeout", "backlog", info.Latency.Round(time.Millisecond))
	}
	return info.Latency
}

// HandleAgentSync reconciles an ALIVE agent's kernels with the database. It sends the agent
// the kernels the manager counts as live there (sync_kernel_registry): the agent destroys
// the kernels it has that are not listed (but none younger than its own grace period, which
// covers a kernel created after the list was read), and reports the listed ones it does not
// have. Of those, the ones RUNNING or TERMINATING for longer than SyncGrace are closed here
// (reason already-terminated); younger ones and those still being started are left to
// session:start and the hang check. Kernels of other agents are never touched.
func (h *Sweeps) HandleAgentSync(ctx context.Context, t *asynq.Task) error {
	var p jobs.AgentSyncPayload
	if err := jobs.Decode(t, &p); err != nil {
		return err
	}
	if p.AgentID == "" {
		return jobs.Invalid(t, "no agent id")
	}
	agent, err := db.Q.AgentGetAddr(ctx, h.Pool, p.AgentID)
	if db.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("agent %s: %w", p.AgentID, db.Translate(err))
	}
	if agent.Status != "ALIVE" {
		h.Logger.Debug("agent sync skipped: agent not alive", "agent", p.AgentID, "status", agent.Status)
		return nil
	}
	live, err := db.Q.KernelsLiveOnAgent(ctx, h.Pool, &p.AgentID)
	if err != nil {
		return fmt.Errorf("agent %s: list kernels: %w", p.AgentID, db.Translate(err))
	}
	listedAt := h.Now()
	req := &agentrpc.SyncKernelsRequest{Kernels: make([]agentrpc.KernelRef, 0, len(live))}
	byID := make(map[string]*dbsqlc.KernelsLiveOnAgentRow, len(live))
	for _, k := range live {
		req.Kernels = append(req.Kernels, agentrpc.KernelRef{KernelID: k.ID.String(), SessionID: k.SessionID.String()})
		byID[k.ID.String()] = k
	}
	c, err := h.rpc.Get(agent.Addr)
	if err != nil {
		return fmt.Errorf("agent %s: %w", p.AgentID, err)
	}
	cctx, cancel := context.WithTimeout(ctx, h.rpcTimeout)
	defer cancel()
	rep, err := c.SyncKernels(cctx, req)
	if err != nil {
		return fmt.Errorf("agent %s: sync kernels: %w", p.AgentID, err)
	}
	for _, id := range rep.Unknown {
		h.Logger.Warn("agent had a kernel the manager counts as ended; the agent destroys it", "agent", p.AgentID, "kernel", id)
	}
	var errs []error
	for _, id := range rep.Missing {
		k := byID[id]
		if k == nil || !slices.Contains([]string{lifecycle.Running, lifecycle.Terminating, lifecycle.RunningDegraded}, k.Status) ||
			!k.StatusChanged.Before(listedAt.Add(-SyncGrace)) {
			continue
		}
		if err := h.EndKernel(ctx, k.SessionID, k.ID, ReasonAlreadyTerminated); err != nil {
			errs = append(errs, err)
			continue
		}
		h.Logger.Warn("kernel closed: its agent no longer has it", "agent", p.AgentID, "kernel", id, "session", k.SessionID, "reason", p.Reason)
	}
	return errors.Join(errs...)
}

// hangTolerance returns the threshold of every checked status: the shared config's, else
// DefaultHangTolerance; statuses set to zero are left out.
func (h *Sweeps) hangTolerance() map[string]time.Duration {
	out := make(map[string]time.Duration, len(DefaultHangTolerance))
	for status, def := range DefaultHangTolerance {
		d := def
		if h.shared != nil {
			d = h.shared.Duration(HangToleranceKey+"/"+status, def)
		}
		if d > 0 {
			out[status] = d
		}
	}
	return out
}

// HandleSessionHangCheck force-terminates the sessions that have stayed in a transitional
// status longer than its hang tolerance, with reason hang-timeout: a SCHEDULED one is
// cancelled, any other ends even when its agents cannot be reached (session:terminate with
// Forced). A session still hung at the next run is enqueued again.
func (h *Sweeps) HandleSessionHangCheck(ctx context.Context, _ *asynq.Task) error {
	now := h.Now()
	cutoffs := map[string]string{}
	for status, d := range h.hangTolerance() {
		cutoffs[status] = lifecycle.FormatTime(now.Add(-d))
	}
	if len(cutoffs) == 0 {
		return nil
	}
	raw, err := json.Marshal(cutoffs)
	if err != nil {
		return fmt.Errorf("hang check: %w", err)
	}
	hung, err := db.Q.SessionsHung(ctx, h.Pool, &dbsqlc.SessionsHungParams{Cutoffs: raw, MaxRows: sweepBatch})
	if err != nil {
		return fmt.Errorf("hang check: list sessions: %w", db.Translate(err))
	}
	var errs []error
	for _, s := range hung {
		id := s.ID.String()
		task, err := jobs.NewSessionTerminateTask(jobs.SessionTerminatePayload{SessionID: id, Reason: ReasonHangTimeout, Forced: true},
			// Its own TaskID: an earlier termination of the session may still hold the usual one.
			asynq.TaskID(fmt.Sprintf("%s:%s:%s", jobs.TypeSessionTerminate, id, ReasonHangTimeout)))
		if err := h.Enqueue(ctx, task, err); err != nil {
			errs = append(errs, fmt.Errorf("enqueue termination of hung session %s: %w", id, err))
			continue
		}
		h.Logger.Warn("session hung; force-terminating it", "session", id, "status", s.Status)
	}
	return errors.Join(errs...)
}

// HandleUsageRecalculate recomputes agent occupancy from the kernels holding reservations
// and corrects any drift, logging each correction (see internal/usage).
func (h *Sweeps) HandleUsageRecalculate(ctx context.Context, _ *asynq.Task) error {
	res, err := usage.Recalculate(ctx, h.Pool)
	if err != nil {
		return err
	}
	res.Log(h.Logger)
	return nil
}
