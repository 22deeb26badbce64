// Package scheduler decides where Hangar's pending sessions run. It is pure: a [Snapshot] of
// one scaling group (its agents with their free slots, its pending sessions, the usage and
// the resource policies that apply) goes in, a [Plan] comes out, and nothing else happens:
// no I/O, no clock, no randomness, no import of another Hangar package but the pure amount
// parser internal/slots. The schedule job loads the snapshot inside its transaction, calls
// [Schedule], and writes the plan back (reserving agent slots with guarded updates, setting
// SCHEDULED, recording status_info and status_data for the rest). The same snapshot always
// gives the same plan.
//
// # Amounts
//
// Resource slots are held as vectors ([]int64) indexed like Snapshot.SlotNames, so the hot
// loop adds and compares integers instead of decimals. Count and unique slots (cpu,
// cuda.shares) are in thousandths (cpu 1 = 1000, the three decimal places Hangar keeps);
// bytes slots (mem) are in bytes. [Unlimited] stands for an "Infinity" limit. [ParseSlots],
// [PolicySlots] and [FormatSlots] convert from and to resource slot maps of normalized
// decimal strings.
//
// # One pass
//
// [Schedule] first cancels the sessions pending longer than the scaling group's pending
// timeout. It then considers every other pending session once, in the order of the
// scaling group's algorithm ([FIFO], [LIFO] or [DRF]). A session runs the predicates in a
// fixed order (reserved_time, dependencies, concurrency, pending_session_resource_limit,
// pending_session_count_limit, keypair_resource_limit, user_resource_limit,
// user_group_resource_limit, domain_resource_limit, allowed_session_types, architecture);
// every predicate runs, and any failure leaves the session pending with status_info
// predicate-checks-failed and the failed and passed predicates in status_data. A session
// that passes gets agents: a single-node session one agent for its whole request, a
// multi-node session one agent per kernel. Agents are filtered (schedulable, architecture,
// container limit, free slots) and ranked ([Dispersed], [Concentrated], [Legacy], or
// round-robin); when none fits, the session stays pending with status_info
// no-available-instances and a message counting the agents filtered out per reason and
// short of each slot ([Metrics]). Failing is not an error, and it does not stop the pass:
// the next session is considered, so one unschedulable session never blocks the others.
// Each placement updates the agents' free slots and the owners' usage in memory, so the
// sessions after it see it.
//
// # Differences from Backend.AI
//
// Hangar keeps Backend.AI's predicate names, orders and rules, with these changes:
//
//   - A session no agent can host does not end the pass (Backend.AI stops the scaling
//     group's round there), so num_retries_to_skip only reorders FIFO: sessions that
//     failed that often go after the others.
//   - DRF shares accumulate the sessions placed in the pass on top of the key's occupancy
//     in the scaling group (KeypairUsage.GroupOccupied).
//   - The container limit filters agents for every placement.
//   - Round-robin keeps one position over the ID-sorted schedulable agents of all
//     architectures, accepts an agent whose free slots equal the request, and applies to
//     the kernels of multi-node sessions too.
//   - allowed_session_types and architecture are predicates, so a session of a type or
//     architecture the scaling group cannot serve records why.
//   - ScalingGroup.MaxRetries, when set, cancels a session after that many failed passes.
//
// Private (SYSTEM-role) sessions behave as in Backend.AI: they count against the SFTP
// concurrency limit, skip the resource and pending limits, and are cancelled with reason
// pending-timeout when a predicate fails.
//
// # Speed
//
// The schedulable agents are kept in groups (same architecture, same offered slots), each
// sorted best first by the ranker; the group is also sorted by the free amount of the first
// ranked slot, so the search skips agents short of it, and a placement moves only the
// agent it changed. The no-fit counts of a skipped session are kept per request shape and
// updated, for the one agent it changed, by every later reservation or release, so a queue
// of sessions the group cannot host costs one count over the agents per shape rather than
// one per session. BenchmarkPlacement places 32,000 sessions on 1,000 agents in one pass;
// BenchmarkPassScale plans 100,000 sessions over 10,000 agents.
package scheduler
