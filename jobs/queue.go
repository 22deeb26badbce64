package jobs

import "time"

// Queue names. A worker serves all three by weighted priority (see Queues).
const (
	// QueueCritical holds tasks a user is waiting for, such as starting or terminating a
	// session.
	QueueCritical = "critical"
	// QueueDefault holds ordinary work: schedule passes and other periodic jobs.
	QueueDefault = "default"
	// QueueLow holds background work that may wait, such as image rescans.
	QueueLow = "low"
)

// Default task options, used by task types that do not ask for others in DefaultsOf.
const (
	// DefaultMaxRetry is how often a failed task is retried before it is archived.
	DefaultMaxRetry = 10
	// DefaultTimeout bounds one run of a task; on expiry the task is retried.
	DefaultTimeout = 5 * time.Minute
)

// QueueName returns the name of queue q under prefix. Tests pass a unique prefix so that
// their tasks never meet another test's workers; production uses the empty prefix.
func QueueName(prefix, q string) string { return prefix + q }

// Queues returns the queues a worker serves, keyed by their prefixed name, with their
// weights for asynq's weighted priority: critical 6, default 3, low 1.
func Queues(prefix string) map[string]int {
	return map[string]int{
		QueueName(prefix, QueueCritical): 6,
		QueueName(prefix, QueueDefault):  3,
		QueueName(prefix, QueueLow):      1,
	}
}

// Defaults are the options a task type is enqueued with unless the caller overrides them.
type Defaults struct {
	// Queue is the unprefixed queue name.
	Queue string
	// MaxRetry is the number of retries after the first failure.
	MaxRetry int
	// Timeout bounds one run of the task.
	Timeout time.Duration
}

// DefaultsOf returns the default options of task type typ. Types without their own entry
// go to QueueDefault with DefaultMaxRetry and DefaultTimeout.
func DefaultsOf(typ string) Defaults {
	switch typ {
	case TypeLeaderHeartbeat:
		// A lost heartbeat is replaced by the next slot's: never retry.
		return Defaults{Queue: QueueDefault, MaxRetry: 0, Timeout: 30 * time.Second}
	case TypeAgentHeartbeat:
		// Liveness must not wait behind schedule passes; a heartbeat that keeps failing is
		// superseded by the agent's next one, so a couple of retries suffice.
		return Defaults{Queue: QueueCritical, MaxRetry: 2, Timeout: 30 * time.Second}
	case TypeScheduleScalingGroup, TypeScheduleTick:
		// A failed pass is redone by the next wake-up or tick; retrying it would only pile
		// up passes behind the scaling group's lock.
		return Defaults{Queue: QueueDefault, MaxRetry: 0, Timeout: time.Minute}
	case TypeAgentLostCheck, TypeSessionHangCheck, TypeUsageRecalculate, TypeIdleCheck:
		// The next period's run redoes a failed sweep.
		return Defaults{Queue: QueueDefault, MaxRetry: 0, Timeout: time.Minute}
	case TypeAgentSync:
		// A failed sync is asked for again by the agent's next heartbeat that shows drift.
		return Defaults{Queue: QueueDefault, MaxRetry: 2, Timeout: time.Minute}
	case TypeImageRescan:
		// Rescans may take minutes on big registries and wait behind user-facing work; a
		// failed one is retried a couple of times, and the next period redoes it anyway.
		return Defaults{Queue: QueueLow, MaxRetry: 2, Timeout: 30 * time.Minute}
	case TypeSessionStart, TypeSessionTerminate, TypeKernelEvent:
		// A user waits for these; they are idempotent and retried with backoff.
		return Defaults{Queue: QueueCritical, MaxRetry: DefaultMaxRetry, Timeout: 2 * time.Minute}
	default:
		return Defaults{Queue: QueueDefault, MaxRetry: DefaultMaxRetry, Timeout: DefaultTimeout}
	}
}
