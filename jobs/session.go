package jobs

import (
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Task types of the session lifecycle (design.md "Data flow: one session").
const (
	// TypeScheduleScalingGroup runs one schedule pass over one scaling group: it places the
	// group's PENDING sessions and enqueues TypeSessionStart for each placed one. It is a
	// wake-up call: the pass reads everything from PostgreSQL, so a lost or doubled task only
	// moves work in time.
	TypeScheduleScalingGroup = "schedule:sgroup"
	// TypeScheduleTick is the leader's periodic tick: it enqueues TypeScheduleScalingGroup for
	// every scaling group that has PENDING sessions, and TypeSessionStart /
	// TypeSessionTerminate for sessions whose wake-up was lost.
	TypeScheduleTick = "schedule:tick"
	// TypeSessionStart moves a SCHEDULED session to PREPARING and asks its agents to create
	// the kernels.
	TypeSessionStart = "session:start"
	// TypeSessionStartBatch starts the sessions one schedule pass placed, as one unit: it
	// moves them to PREPARING together, calls their agents concurrently and records the
	// outcome of all of them together. TypeSessionStart is the same work for one session.
	TypeSessionStartBatch = "session:start-batch"
	// TypeSessionTerminate destroys a TERMINATING session's kernels on their agents and ends
	// the session.
	TypeSessionTerminate = "session:terminate"
	// TypeSessionRestart restarts the kernels of a RESTARTING session on their agents and
	// moves the session back to RUNNING (or to ERROR when a kernel is gone).
	TypeSessionRestart = "session:restart"
	// TypeKernelEvent carries a kernel lifecycle event from an agent (started, terminated
	// with an exit code, ...) to the workers, which apply it to the kernel and its session.
	TypeKernelEvent = "kernel:event"
)

// PreparingRetryAfter is how long a session may stay PREPARING before the schedule tick
// retries its start under a fresh TaskID, and before a start task claims it again: its worker
// may have died in the middle of the agent call. A retry of a start still in flight costs one
// more create_kernels call, which agents answer idempotently; every transition after it is
// guarded by the session's status.
const PreparingRetryAfter = 5 * time.Second

// ScheduleTickIntervalKey is the etcd key (below the namespace) holding the schedule tick's
// period as a Go duration or seconds; DefaultScheduleTickEvery when absent.
const ScheduleTickIntervalKey = "config/hangar/periodic/schedule-tick/interval"

// DefaultScheduleTickEvery is the schedule tick's default period.
const DefaultScheduleTickEvery = 2 * time.Second

// ScheduleWakeupBucket is the width of the time buckets that deduplicate schedule wake-ups:
// all wake-ups for one scaling group within one bucket are one task.
const ScheduleWakeupBucket = 20 * time.Millisecond

// ScheduleScalingGroupPayload is the payload of a TypeScheduleScalingGroup task.
type ScheduleScalingGroupPayload struct {
	// ScalingGroup is the scaling group to schedule.
	ScalingGroup string `json:"scaling_group"`
}

// NewScheduleScalingGroupTask returns a TypeScheduleScalingGroup task for scaling group sg,
// deduplicated per ScheduleWakeupBucket: its TaskID names sg and the bucket of now, so that
// many creates in a burst wake the scheduler once or twice, not once each. A TaskID conflict
// on enqueue means a pass for that bucket is already queued, and is no error for callers.
func NewScheduleScalingGroupTask(sg string, now time.Time, opts ...asynq.Option) (*asynq.Task, error) {
	bucket := now.UnixNano() / int64(ScheduleWakeupBucket)
	all := make([]asynq.Option, 0, 1+len(opts))
	all = append(all, asynq.TaskID(fmt.Sprintf("%s:%s:%d", TypeScheduleScalingGroup, sg, bucket)))
	all = append(all, opts...)
	return newTask(TypeScheduleScalingGroup, ScheduleScalingGroupPayload{ScalingGroup: sg}, all...)
}

// ScheduleTickPayload is the payload of a TypeScheduleTick task.
type ScheduleTickPayload struct {
	// Slot is the start of the tick's period.
	Slot time.Time `json:"slot"`
}

// NewScheduleTickTask returns a TypeScheduleTick task for p.
func NewScheduleTickTask(p ScheduleTickPayload, opts ...asynq.Option) (*asynq.Task, error) {
	return newTask(TypeScheduleTick, p, opts...)
}

// SessionStartPayload is the payload of a TypeSessionStart task.
type SessionStartPayload struct {
	// SessionID is the session to start.
	SessionID string `json:"session_id"`
}

// NewSessionStartTask returns a TypeSessionStart task for the session, with TaskID
// "session:start:<id>" so that a session is started by one task at a time.
func NewSessionStartTask(sessionID string, opts ...asynq.Option) (*asynq.Task, error) {
	all := append([]asynq.Option{asynq.TaskID(TypeSessionStart + ":" + sessionID)}, opts...)
	return newTask(TypeSessionStart, SessionStartPayload{SessionID: sessionID}, all...)
}

// SessionStartBatchPayload is the payload of a TypeSessionStartBatch task.
type SessionStartBatchPayload struct {
	// SessionIDs are the sessions to start.
	SessionIDs []string `json:"session_ids"`
}

// SessionStartBatchTaskID is the TaskID of the TypeSessionStartBatch task of the schedule pass
// over scaling group sg that placed its sessions at placedAt (their SCHEDULED status_changed,
// to the microsecond PostgreSQL keeps): one task per pass, which the schedule tick can look up
// from a session it finds SCHEDULED.
func SessionStartBatchTaskID(sg string, placedAt time.Time) string {
	return fmt.Sprintf("%s:%s:%d", TypeSessionStartBatch, sg, placedAt.UnixMicro())
}

// NewSessionStartBatchTask returns the TypeSessionStartBatch task of the schedule pass over
// scaling group sg that placed sessionIDs at placedAt, with TaskID SessionStartBatchTaskID.
func NewSessionStartBatchTask(sg string, placedAt time.Time, sessionIDs []string, opts ...asynq.Option) (*asynq.Task, error) {
	all := append([]asynq.Option{asynq.TaskID(SessionStartBatchTaskID(sg, placedAt))}, opts...)
	return newTask(TypeSessionStartBatch, SessionStartBatchPayload{SessionIDs: sessionIDs}, all...)
}

// SessionTerminatePayload is the payload of a TypeSessionTerminate task.
type SessionTerminatePayload struct {
	// SessionID is the session to terminate.
	SessionID string `json:"session_id"`
	// Reason is the termination reason ("user-requested", "force-terminated", ...).
	Reason string `json:"reason"`
	// Forced asks to end the session in the database even when its agents cannot be
	// reached.
	Forced bool `json:"forced,omitempty"`
}

// NewSessionTerminateTask returns a TypeSessionTerminate task for p, with TaskID
// "session:terminate:<id>".
func NewSessionTerminateTask(p SessionTerminatePayload, opts ...asynq.Option) (*asynq.Task, error) {
	all := append([]asynq.Option{asynq.TaskID(TypeSessionTerminate + ":" + p.SessionID)}, opts...)
	return newTask(TypeSessionTerminate, p, all...)
}

// SessionRestartPayload is the payload of a TypeSessionRestart task.
type SessionRestartPayload struct {
	// SessionID is the session to restart.
	SessionID string `json:"session_id"`
	// RestartID names one restart of the session (the move to RESTARTING it follows).
	RestartID string `json:"restart_id"`
}

// NewSessionRestartTask returns a TypeSessionRestart task for p, with TaskID
// "session:restart:<id>:<restart id>": one task per restart, so that a restart asked for
// right after another never collides with the finishing task of the first.
func NewSessionRestartTask(p SessionRestartPayload, opts ...asynq.Option) (*asynq.Task, error) {
	all := append([]asynq.Option{asynq.TaskID(TypeSessionRestart + ":" + p.SessionID + ":" + p.RestartID)}, opts...)
	return newTask(TypeSessionRestart, p, all...)
}

// Kernel events an agent reports (KernelEventPayload.Event).
const (
	// KernelEventPreparing: the agent accepted the kernel and is setting it up.
	KernelEventPreparing = "preparing"
	// KernelEventStarted: the kernel runs.
	KernelEventStarted = "started"
	// KernelEventTerminated: the kernel's process ended (ExitCode set) or was destroyed.
	KernelEventTerminated = "terminated"
)

// KernelEventPayload is the payload of a TypeKernelEvent task.
type KernelEventPayload struct {
	// AgentID is the reporting agent.
	AgentID string `json:"agent_id"`
	// KernelID is the kernel.
	KernelID string `json:"kernel_id"`
	// SessionID is the kernel's session.
	SessionID string `json:"session_id"`
	// Event is KernelEventPreparing, KernelEventStarted or KernelEventTerminated.
	Event string `json:"event"`
	// ExitCode is the exit code of a terminated kernel's main process, when it exited by
	// itself (a batch task, a crash); nil when it was destroyed.
	ExitCode *int `json:"exit_code,omitempty"`
	// Reason explains the event ("self-terminated", "task-done", "user-requested", ...).
	Reason string `json:"reason,omitempty"`
	// Time is when the event happened on the agent.
	Time time.Time `json:"time"`
}

// NewKernelEventTask returns a TypeKernelEvent task for p, with TaskID
// "kernel:event:<kernel>:<event>" (one task per kernel and event).
func NewKernelEventTask(p KernelEventPayload, opts ...asynq.Option) (*asynq.Task, error) {
	all := append([]asynq.Option{asynq.TaskID(fmt.Sprintf("%s:%s:%s", TypeKernelEvent, p.KernelID, p.Event))}, opts...)
	return newTask(TypeKernelEvent, p, all...)
}
