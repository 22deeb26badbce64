// Package agent handles the tasks agents send to the manager. For now that is the heartbeat
// (jobs.TypeAgentHeartbeat), which registers an agent, keeps its address and resource slot
// capacities current and brings a LOST or TERMINATED agent back to ALIVE. A revived agent,
// or one whose heartbeat lists other kernels than the database has on it, gets an agent sync
// (jobs.TypeAgentSync, handled in jobs/maintenance).
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/slots"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
)

// Handlers processes the agent tasks. It is safe for concurrent use.
type Handlers struct {
	pool   *pgxpool.Pool
	enq    *jobs.Enqueuer
	logger *slog.Logger
	now    func() time.Time
}

// New returns Handlers working on deps.Pool.
func New(deps *worker.Deps) (*Handlers, error) {
	if deps.Pool == nil {
		return nil, errors.New("agent handlers: no PostgreSQL pool")
	}
	h := &Handlers{pool: deps.Pool, enq: deps.Enqueuer, logger: deps.Logger, now: deps.Now}
	if h.logger == nil {
		h.logger = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h, nil
}

// Register registers the agent handlers on mux.
func Register(mux *asynq.ServeMux, deps *worker.Deps) error {
	h, err := New(deps)
	if err != nil {
		return err
	}
	h.Register(mux)
	return nil
}

// Register registers h's handlers on mux under their exact task types.
func (h *Handlers) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(jobs.TypeAgentHeartbeat, h.HandleAgentHeartbeat)
}

// reportedSlot is one validated slot of a heartbeat.
type reportedSlot struct {
	name     string
	typ      string
	capacity decimal.Decimal
}

// validate checks a decoded heartbeat and returns its slots sorted by name. A slot the
// scheduler could not read never reaches the database: a name or type that is not valid, or
// an amount that is not a finite, non-negative decimal (slots.ParseStored), drops the slot;
// an amount above slots.Max is clipped to it. Each is returned as a warning to log, and the
// rest of the heartbeat still applies, so the agent stays ALIVE.
func validate(t *asynq.Task, p *jobs.AgentHeartbeatPayload) ([]reportedSlot, []string, error) {
	switch {
	case p.AgentID == "":
		return nil, nil, jobs.Invalid(t, "no agent id")
	case len(p.AgentID) > 64:
		return nil, nil, jobs.Invalid(t, fmt.Sprintf("agent id %q is longer than 64 characters", p.AgentID))
	case p.Addr == "":
		return nil, nil, jobs.Invalid(t, "no address")
	case p.ScalingGroup == "":
		return nil, nil, jobs.Invalid(t, "no scaling group")
	case p.Time.IsZero():
		return nil, nil, jobs.Invalid(t, "no time")
	}
	out := make([]reportedSlot, 0, len(p.Slots))
	var warnings []string
	for name, s := range p.Slots {
		if err := slots.CheckName(name); err != nil {
			warnings = append(warnings, fmt.Sprintf("slot dropped: %v", err))
			continue
		}
		switch s.Type {
		case slots.TypeCount, slots.TypeBytes, slots.TypeUnique:
		default:
			warnings = append(warnings, fmt.Sprintf("slot %q dropped: unknown type %q", name, s.Type))
			continue
		}
		a, err := slots.ParseStored(s.Amount, s.Type, slots.Finite)
		var d decimal.Decimal
		switch {
		case err == nil:
			d = a.Decimal()
		case errors.Is(err, slots.ErrOutOfRange) && len(s.Amount) <= slots.MaxInputLen:
			d = slots.Max(s.Type)
			warnings = append(warnings, fmt.Sprintf("slot %q: capacity %q clipped to %s: %v", name, s.Amount, d, err))
		default:
			warnings = append(warnings, fmt.Sprintf("slot %q dropped: invalid capacity %q: %v", name, trunc(s.Amount), err))
			continue
		}
		out = append(out, reportedSlot{name: name, typ: s.Type, capacity: d})
	}
	slices.SortFunc(out, func(a, b reportedSlot) int {
		if a.name < b.name {
			return -1
		}
		if a.name > b.name {
			return 1
		}
		return 0
	})
	slices.Sort(warnings)
	return out, warnings, nil
}

// trunc shortens a reported amount for a log line.
func trunc(s string) string {
	if len(s) > slots.MaxInputLen {
		return s[:slots.MaxInputLen] + "…"
	}
	return s
}

// HandleAgentHeartbeat applies an agent's heartbeat in one transaction (one commit, whatever
// the heartbeat brings): it checks the scaling group, inserts a new agent as ALIVE, updates a known one (address, region, scaling group, version,
// architecture, last heartbeat) and revives a LOST, RESTARTING or TERMINATED one, then sets
// the capacities of the reported slots and shrinks the slots no longer reported. A capacity
// never drops below what kernels occupy; when the agent reports less, the capacity stays at
// the occupied amount and a warning names the agent and slot. The same transaction compares
// the reported kernels with the database's (checkKernels) and stores the utilization
// samples; an agent sync it calls for is enqueued after the commit.
//
// It is idempotent and order-insensitive: a heartbeat older than the last one applied is
// ignored. A heartbeat naming an unknown scaling group is logged and dropped without retry.
func (h *Handlers) HandleAgentHeartbeat(ctx context.Context, t *asynq.Task) error {
	var p jobs.AgentHeartbeatPayload
	if err := jobs.Decode(t, &p); err != nil {
		return err
	}
	reported, warnings, err := validate(t, &p)
	if err != nil {
		return err
	}
	logger := h.logger.With("agent", p.AgentID)
	for _, w := range warnings {
		logger.Warn("heartbeat: invalid resource slot", "problem", w)
	}

	now := h.now()
	hbTime := p.Time
	syncReason := ""
	err = db.InTx(ctx, h.pool, func(tx pgx.Tx) error {
		if _, err := db.Q.ScalingGroupGetByName(ctx, tx, p.ScalingGroup); err != nil {
			if errors.Is(db.Translate(err), db.ErrNotFound) {
				return errUnknownScalingGroup
			}
			return fmt.Errorf("look up scaling group: %w", err)
		}
		prev, err := db.Q.AgentLockForHeartbeat(ctx, tx, p.AgentID)
		known := err == nil
		if err != nil && !db.IsNotFound(err) {
			return fmt.Errorf("lock agent: %w", err)
		}
		if known && prev.LastHeartbeat != nil && hbTime.Before(*prev.LastHeartbeat) {
			logger.Debug("stale heartbeat ignored", "time", hbTime, "last_heartbeat", *prev.LastHeartbeat)
			return nil
		}
		if _, err := db.Q.AgentUpsertFromHeartbeat(ctx, tx, &dbsqlc.AgentUpsertFromHeartbeatParams{
			ID:           p.AgentID,
			Now:          &now,
			Region:       p.Region,
			ScalingGroup: p.ScalingGroup,
			Addr:         p.Addr,
			Heartbeat:    &hbTime,
			Version:      p.Version,
			Architecture: p.Architecture,
		}); err != nil {
			if db.IsNotFound(err) {
				// A newer heartbeat committed between the lock and the upsert (the row
				// was new, so there was nothing to lock).
				logger.Debug("stale heartbeat ignored", "time", hbTime)
				return nil
			}
			return fmt.Errorf("upsert agent: %w", err)
		}
		revived := false
		switch {
		case !known:
			logger.Info("agent registered", "addr", p.Addr, "scaling_group", p.ScalingGroup)
		case prev.Status != dbsqlc.AgentStatusALIVE:
			revived = true
			logger.Info("agent revived", "previous_status", prev.Status, "addr", p.Addr)
		}
		if err := h.applySlots(ctx, tx, logger, p.AgentID, reported); err != nil {
			return err
		}
		if syncReason, err = h.checkKernels(ctx, tx, &p, revived, now); err != nil {
			return fmt.Errorf("check kernels: %w", err)
		}
		h.storeUtilization(ctx, tx, logger, &p)
		return nil
	})
	if errors.Is(err, errUnknownScalingGroup) {
		logger.Warn("heartbeat names an unknown scaling group; ignored", "scaling_group", p.ScalingGroup)
		return fmt.Errorf("agent %s: unknown scaling group %q: %w", p.AgentID, p.ScalingGroup, asynq.SkipRetry)
	}
	if err != nil {
		return fmt.Errorf("agent %s: apply heartbeat: %w", p.AgentID, err)
	}
	if syncReason != "" {
		h.requestSync(ctx, logger, p.AgentID, syncReason, now)
	}
	return nil
}

// errUnknownScalingGroup ends the transaction of a heartbeat naming an unknown scaling group.
var errUnknownScalingGroup = errors.New("unknown scaling group")

// syncDriftGrace is how long a kernel must have been RUNNING before a heartbeat that does
// not list it counts as drift: the heartbeat may have been built before the kernel started.
const syncDriftGrace = 30 * time.Second

// checkKernels compares, on tx, the kernels a heartbeat lists with those the database counts
// as live on the agent, and returns why an agent sync (jobs.TypeAgentSync, which decides with
// the agent's own answer) is needed: they disagree, or the agent came back from LOST; "" when
// none is.
func (h *Handlers) checkKernels(ctx context.Context, tx pgx.Tx, p *jobs.AgentHeartbeatPayload, revived bool, now time.Time) (string, error) {
	if h.enq == nil {
		return "", nil
	}
	if revived {
		return "revived", nil
	}
	reason := ""
	live, err := db.Q.KernelsLiveOnAgent(ctx, tx, &p.AgentID)
	if err != nil {
		return "", err
	}
	reported := make(map[string]bool, len(p.KernelIDs))
	for _, id := range p.KernelIDs {
		reported[id] = true
	}
	known := make(map[string]bool, len(live))
	for _, k := range live {
		known[k.ID.String()] = true
		if !reported[k.ID.String()] && k.Status == "RUNNING" && k.StatusChanged.Before(now.Add(-syncDriftGrace)) {
			reason = "heartbeat-missing-kernel"
		}
	}
	var unknown []string
	for id := range reported {
		if !known[id] {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		// A heartbeat built just before a kernel was destroyed still lists it: only
		// kernels the manager never had, or that ended a while ago, are drift.
		ended, err := db.Q.KernelsEndedAmong(ctx, tx, &dbsqlc.KernelsEndedAmongParams{
			IDs: unknown, AgentID: &p.AgentID, Cutoff: now.Add(-syncDriftGrace),
		})
		if err != nil {
			return "", err
		}
		if len(ended) > 0 {
			reason = "heartbeat-unknown-kernel"
		}
	}
	return reason, nil
}

// requestSync enqueues an agent sync of agentID for reason. A failure is only logged: the
// next heartbeat checks again.
func (h *Handlers) requestSync(ctx context.Context, logger *slog.Logger, agentID, reason string, now time.Time) {
	task, err := jobs.NewAgentSyncTask(jobs.AgentSyncPayload{AgentID: agentID, Reason: reason}, now)
	if err == nil {
		_, err = h.enq.Enqueue(ctx, task)
	}
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		logger.Warn("agent sync not enqueued", "reason", reason, "err", err)
		return
	}
	logger.Info("agent sync requested", "reason", reason)
}

// applySlots writes the reported capacities of agentID's slots and retires the slots it no
// longer reports.
func (h *Handlers) applySlots(ctx context.Context, tx pgx.Tx, logger *slog.Logger, agentID string, reported []reportedSlot) error {
	names := make([]string, 0, len(reported))
	for _, s := range reported {
		names = append(names, s.name)
		row, err := db.Q.AgentSlotUpsertCapacity(ctx, tx, &dbsqlc.AgentSlotUpsertCapacityParams{
			AgentID:  agentID,
			Slot:     s.name,
			SlotType: s.typ,
			Capacity: s.capacity,
		})
		if err != nil {
			return fmt.Errorf("set capacity of slot %s: %w", s.name, err)
		}
		if row.Capacity.GreaterThan(s.capacity) {
			logger.Warn("agent reports less capacity than its kernels occupy; keeping the occupied amount",
				"slot", s.name, "reported", s.capacity.String(), "occupied", row.Occupied.String())
		}
	}
	retired, err := db.Q.AgentSlotRetireUnreported(ctx, tx, &dbsqlc.AgentSlotRetireUnreportedParams{
		AgentID: agentID,
		Slots:   names,
	})
	if err != nil {
		return fmt.Errorf("retire unreported slots: %w", err)
	}
	for _, r := range retired {
		if r.Occupied.IsPositive() {
			logger.Warn("agent no longer reports an occupied slot; keeping the occupied amount",
				"slot", r.Slot, "occupied", r.Occupied.String())
		} else {
			logger.Info("agent no longer reports a slot; capacity set to 0", "slot", r.Slot)
		}
	}
	return nil
}
