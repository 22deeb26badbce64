package jobs

import (
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Task types of the maintenance sweeps, which give every non-terminal state a way out
// (design.md invariant 3). The periodic ones are enqueued by the leader (BuiltinPeriodic).
const (
	// TypeAgentLostCheck marks LOST the agents whose last heartbeat is older than
	// manager.heartbeat-timeout, and ends the kernels left on LOST agents.
	TypeAgentLostCheck = "agent:lost-check"
	// TypeAgentSync reconciles one agent's kernels with the database through the agent's
	// sync_kernel_registry RPC: kernels the manager counts as ended are destroyed on the
	// agent, kernels the agent no longer has are closed in the database.
	TypeAgentSync = "agent:sync"
	// TypeSessionHangCheck force-ends the sessions stuck in a transitional status
	// (SCHEDULED, PREPARING, PULLING, TERMINATING, RESTARTING) longer than the hang tolerance.
	TypeSessionHangCheck = "session:hang-check"
	// TypeUsageRecalculate recomputes every agent's occupied slots from the kernels that
	// hold a reservation, and corrects the drift it finds.
	TypeUsageRecalculate = "usage:recalculate"
)

// Shared-config keys (below the namespace) of the sweeps' periods.
const (
	AgentLostCheckIntervalKey   = "config/hangar/periodic/agent-lost-check/interval"
	HangCheckIntervalKey        = "config/hangar/periodic/hang-check/interval"
	UsageRecalculateIntervalKey = "config/hangar/periodic/usage-recalculate/interval"
)

// Default periods of the sweeps.
const (
	DefaultAgentLostCheckEvery   = 5 * time.Second
	DefaultHangCheckEvery        = 10 * time.Second
	DefaultUsageRecalculateEvery = time.Minute
)

// SweepPayload is the payload of the periodic sweep tasks.
type SweepPayload struct {
	// Slot is the start of the period the task was enqueued for.
	Slot time.Time `json:"slot"`
}

// NewSweepTask returns a periodic sweep task of type typ for slot.
func NewSweepTask(typ string, slot time.Time, opts ...asynq.Option) (*asynq.Task, error) {
	return newTask(typ, SweepPayload{Slot: slot}, opts...)
}

// AgentSyncPayload is the payload of a TypeAgentSync task.
type AgentSyncPayload struct {
	// AgentID is the agent to reconcile.
	AgentID string `json:"agent_id"`
	// Reason says what asked for it ("revived", "heartbeat-drift", ...), for the logs.
	Reason string `json:"reason"`
}

// AgentSyncBucket is the width of the time buckets that deduplicate agent syncs: one sync
// per agent per bucket.
const AgentSyncBucket = 10 * time.Second

// NewAgentSyncTask returns a TypeAgentSync task for p, deduplicated per agent and
// AgentSyncBucket of now.
func NewAgentSyncTask(p AgentSyncPayload, now time.Time, opts ...asynq.Option) (*asynq.Task, error) {
	id := fmt.Sprintf("%s:%s:%d", TypeAgentSync, p.AgentID, now.UnixNano()/int64(AgentSyncBucket))
	all := append([]asynq.Option{asynq.TaskID(id)}, opts...)
	return newTask(TypeAgentSync, p, all...)
}
