// Package jobs is Hangar's task contract: the names, payloads, default options and queues of
// the asynq tasks that the API and the workers exchange, and the list of periodic jobs the
// elected worker leader enqueues. It holds no handlers; those live in one package per concern
// below jobs/, and internal/worker runs them:
//
//   - jobs/schedule: the schedule pass over a scaling group (TypeScheduleScalingGroup), with the
//     adapter from PostgreSQL rows to internal/scheduler's snapshot, and the schedule tick
//     (TypeScheduleTick);
//   - jobs/session: starting (TypeSessionStart, TypeSessionStartBatch), terminating
//     (TypeSessionTerminate) and restarting (TypeSessionRestart) sessions, and the kernel events
//     agents report (TypeKernelEvent);
//   - jobs/maintenance: the leader heartbeat (TypeLeaderHeartbeat) and the sweeps
//     (TypeAgentLostCheck, TypeAgentSync, TypeSessionHangCheck, TypeUsageRecalculate);
//   - jobs/agent: agent heartbeats (TypeAgentHeartbeat);
//   - jobs/idle: the idle check (TypeIdleCheck);
//   - jobs/image: registry rescans (TypeImageRescan).
//
// A handler package imports this package and internal packages, never a sibling handler
// package (a depguard rule in .golangci.yml): what several of them need (publishing events,
// enqueuing follow-ups, ending a kernel, requesting a session's termination) is in
// internal/jobkit, status changes are internal/lifecycle's. jobs/jobstest, the tests' harness,
// is the one package that wires them together.
//
// # Task types
//
// A task type is a constant in noun:verb form (TypeLeaderHeartbeat = "leader:heartbeat").
// Handlers are registered under the exact type name; never register a bare prefix such as
// "session", because asynq's ServeMux would route every "session:*" task to it.
//
// # Adding a task
//
//  1. Add the Type constant and its payload struct (JSON-encoded) to a file of this package.
//  2. Add a case to [DefaultsOf] when the task needs other than the default queue, retry
//     count or timeout.
//  3. Add a NewXxxTask constructor that calls newTask, so the defaults are applied.
//  4. In the handler package, decode with [Decode] (an undecodable payload is not retried)
//     and register the handler in the package's Register function under the Type constant.
//
// Handlers must be idempotent: asynq delivers at least once, and PostgreSQL, not Redis, holds
// the state, so a task is only a wake-up call.
//
// # Queues
//
// Tasks go to [QueueCritical], [QueueDefault] or [QueueLow]. Every queue name may carry a
// prefix ([Queues], [QueueName]) so tests and side-by-side deployments do not share queues;
// enqueue through an [Enqueuer], which applies the prefix.
//
// # Periodic jobs
//
// A [Periodic] describes a job that runs once per fixed period: its name, period and a
// function building the task for one period ("slot"). [BuiltinPeriodic] lists Hangar's
// periodic jobs. The worker that holds leadership enqueues each job once per slot, with a
// TaskID derived from the slot ([Periodic.TaskID]) so that two workers that both believe
// they lead (briefly, during a failover) still enqueue it only once.
//
// To add a periodic job, add the task as above and append a Periodic to the list
// BuiltinPeriodic returns (name = task type, period, a Task function building the task for
// a slot); give PeriodicOpts a field when the period must be configurable. Its handler must
// be safe to run twice for the same slot and must re-derive its work from PostgreSQL.
package jobs
