package scheduler

import "time"

// Session status_info values the plan asks for.
const (
	// StatusPredicateChecksFailed is the status_info of a session that failed a predicate.
	StatusPredicateChecksFailed = "predicate-checks-failed"
	// StatusNoAvailableInstances is the status_info of a session no agent could host.
	StatusNoAvailableInstances = "no-available-instances"
	// StatusPendingTimeout is the status_info and cancellation reason of a session pending
	// for longer than the scaling group's pending timeout, and of a private session that
	// failed a predicate.
	StatusPendingTimeout = "pending-timeout"
)

// Plan is the outcome of one pass: what to reserve, what to record and what to cancel. Each
// pending session of the snapshot appears in exactly one of Placements, Skipped and
// Cancelled. Placements and Skipped are in the order the sessions were considered.
type Plan struct {
	// Placements are the sessions to mark SCHEDULED, with the agent of every kernel.
	Placements []Placement
	// Skipped are the sessions that stay PENDING, with the reason to record.
	Skipped []Skip
	// Cancelled are the sessions to mark CANCELLED.
	Cancelled []Cancel
	// NextRoundRobinIndex is the RoundRobinIndex for the next pass.
	NextRoundRobinIndex int
}

// Placement assigns every kernel of one session to an agent.
type Placement struct {
	// SessionID is the placed session.
	SessionID string
	// Kernels are the session's kernels in snapshot order with their agents. In a
	// single-node session they all share one agent.
	Kernels []KernelPlacement
}

// KernelPlacement assigns one kernel to an agent.
type KernelPlacement struct {
	// KernelID is the kernel.
	KernelID string
	// AgentID is the agent that hosts it.
	AgentID string
	// Slots is the kernel's request, to add to the agent's occupied_slots. It shares the
	// snapshot's vector; do not modify it.
	Slots []int64
}

// PredicateResult is one failed predicate: its name and why it failed.
type PredicateResult struct {
	// Name is the predicate name ("concurrency", "keypair_resource_limit", ...).
	Name string
	// Msg is the human-readable reason.
	Msg string
}

// Skip records why a session stays PENDING this pass. Skipping is not an error: the next pass
// tries again.
type Skip struct {
	// SessionID is the skipped session.
	SessionID string
	// Reason is the status_info to write: StatusPredicateChecksFailed or
	// StatusNoAvailableInstances.
	Reason string
	// Retries is the new status_data.scheduler.retries (the snapshot's plus one).
	Retries int
	// FailedPredicates are the predicates that failed, in evaluation order.
	FailedPredicates []PredicateResult
	// PassedPredicates are the names of the predicates that passed, in evaluation order.
	PassedPredicates []string
	// Msg explains a StatusNoAvailableInstances skip, with the agents filtered out per reason
	// and the agents short of each slot.
	Msg string
	// KernelID is, for a multi-node session, the kernel no agent could host.
	KernelID string
	// Metrics are the counts behind Msg (nil for predicate failures).
	Metrics *Metrics
}

// Cancel asks for a session to be cancelled.
type Cancel struct {
	// SessionID is the session to cancel.
	SessionID string
	// Reason is the status_info and session_cancelled reason: StatusPendingTimeout, or for
	// ScalingGroup.MaxRetries the reason of the last failure.
	Reason string
	// Attempt is the failed attempt that led to the cancellation; nil for a pending timeout.
	Attempt *Skip
}

// Metrics counts what happened to the agents considered for one session (or, multi-node,
// one kernel) that no agent could host.
type Metrics struct {
	// AgentsEvaluated is the number of agents in the scaling group.
	AgentsEvaluated int
	// AgentsFiltered counts the agents filtered out per reason (FilterUnschedulable,
	// FilterArchitecture, FilterContainerLimit).
	AgentsFiltered map[string]int
	// AgentsExhausted is the number of agents that passed the filters but lacked free slots.
	AgentsExhausted int
	// SlotsExhausted counts, per slot name, the agents among AgentsExhausted short of it.
	SlotsExhausted map[string]int
}

// Reasons an agent is filtered out before its free slots are looked at.
const (
	// FilterUnschedulable: the agent is not schedulable.
	FilterUnschedulable = "not schedulable"
	// FilterArchitecture: the agent's architecture differs from the kernel image's.
	FilterArchitecture = "architecture mismatch"
	// FilterContainerLimit: the agent runs as many containers as it may.
	FilterContainerLimit = "container limit reached"
)

// StatusData returns the status_data to store for a skipped session:
// {"scheduler": {"retries", "last_try", "failed_predicates", "passed_predicates", "msg"}},
// with last_try in ISO 8601.
func (s *Skip) StatusData(lastTry time.Time) map[string]any {
	failed := make([]map[string]any, 0, len(s.FailedPredicates))
	for _, f := range s.FailedPredicates {
		failed = append(failed, map[string]any{"name": f.Name, "msg": f.Msg})
	}
	passed := make([]map[string]any, 0, len(s.PassedPredicates))
	for _, name := range s.PassedPredicates {
		passed = append(passed, map[string]any{"name": name})
	}
	sched := map[string]any{
		"retries":           s.Retries,
		"last_try":          isoformat(lastTry),
		"failed_predicates": failed,
		"passed_predicates": passed,
	}
	if s.Msg != "" {
		sched["msg"] = s.Msg
	}
	return map[string]any{"scheduler": sched}
}

// isoformat writes t in UTC like Python's datetime.isoformat: microseconds only when
// non-zero, offset as +00:00.
func isoformat(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 != 0 {
		return t.Format("2006-01-02T15:04:05.000000-07:00")
	}
	return t.Format("2006-01-02T15:04:05-07:00")
}

// AgentDeltas sums the plan's kernel requests per agent: the amounts to add to each agent's
// occupied_slots. Vectors are indexed like the snapshot's SlotNames.
func (p *Plan) AgentDeltas() map[string][]int64 {
	out := make(map[string][]int64)
	for _, pl := range p.Placements {
		for _, k := range pl.Kernels {
			d, ok := out[k.AgentID]
			if !ok {
				d = make([]int64, len(k.Slots))
				out[k.AgentID] = d
			}
			for i, v := range k.Slots {
				d[i] += v
			}
		}
	}
	return out
}
