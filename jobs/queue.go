package jobs

import "time"

// Queue names. A worker serves all three in strict priority (see Queues): a task of a lower
// queue runs only while the higher ones are empty.
const (
	// QueueCritical holds tasks a user is waiting for: starting and terminating a session,
	// kernel events.
	QueueCritical = "critical"
	// QueueDefault holds ordinary work: schedule passes, agent heartbeats and the periodic
	// sweeps.
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
	// SessionMaxRetry is how often a task of a session's path (start, terminate, kernel
	// event) is retried: with RetryDelay's cap, about a minute of PostgreSQL or Redis outage.
	// A start or termination archived after that is enqueued again by the schedule tick.
	SessionMaxRetry = 30
	// PeriodicMaxRetry is how often a periodic task or a schedule wake-up is retried: they
	// are idempotent, and the next period redoes their work anyway, so a few retries over a
	// short outage suffice.
	PeriodicMaxRetry = 3
)

// QueueName returns the name of queue q under prefix. Tests pass a unique prefix so that
// their tasks never meet another test's workers; production uses the empty prefix.
func QueueName(prefix, q string) string { return prefix + q }

// Queues returns the queues a worker serves, keyed by their prefixed name, with their
// priorities: critical 3, default 2, low 1. Workers serve them in strict priority
// (StrictPriority), so that starts and terminations never wait behind heartbeats or schedule
// passes; the passes are what feeds the critical queue, so it empties on its own.
func Queues(prefix string) map[string]int {
	return map[string]int{
		QueueName(prefix, QueueCritical): 3,
		QueueName(prefix, QueueDefault):  2,
		QueueName(prefix, QueueLow):      1,
	}
}

// StrictPriority says that workers serve Queues in strict priority order.
const StrictPriority = true

// Retry backoff of RetryDelay.
const (
	// RetryBaseDelay is the delay before the first retry.
	RetryBaseDelay = 100 * time.Millisecond
	// RetryMaxDelay caps the delay between retries.
	RetryMaxDelay = 2 * time.Second
)

// RetryDelay returns how long to wait before retry n (n >= 1 for the first retry, as
// asynq counts): RetryBaseDelay doubling up to RetryMaxDelay, with jitter rnd in [0, 1)
// taking off up to half of it, so that the tasks failed by one outage do not retry in
// lockstep. Every task is a wake-up call over state held in PostgreSQL, so retrying soon is
// cheap, and after an outage work resumes within RetryMaxDelay instead of asynq's default
// of tens of seconds.
func RetryDelay(n int, rnd float64) time.Duration {
	d := RetryMaxDelay
	if n < 1 {
		n = 1
	}
	if n <= 16 {
		d = min(RetryBaseDelay<<(n-1), RetryMaxDelay)
	}
	return d - time.Duration(rnd*float64(d/2))
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
		// Heartbeats are many and wait behind the critical queue, whose backlog the lost-agent
		// check allows for; one that keeps failing is superseded by the agent's next one, so
		// a couple of retries suffice.
		return Defaults{Queue: QueueDefault, MaxRetry: 2, Timeout: 30 * time.Second}
	case TypeScheduleScalingGroup, TypeScheduleTick:
		// A pass that finds another pass of its scaling group running returns at once, so a
		// retry does not pile up behind a lock; a few retries carry a wake-up over a short
		// outage instead of leaving its sessions to the next tick.
		return Defaults{Queue: QueueDefault, MaxRetry: PeriodicMaxRetry, Timeout: time.Minute}
	case TypeAgentLostCheck, TypeSessionHangCheck, TypeUsageRecalculate, TypeIdleCheck:
		// Sweeps are idempotent; a few retries carry one over a short outage, and the next
		// period's run redoes it anyway.
		return Defaults{Queue: QueueDefault, MaxRetry: PeriodicMaxRetry, Timeout: time.Minute}
	case TypeAgentSync:
		// A failed sync is asked for again by the agent's next heartbeat that shows drift.
		return Defaults{Queue: QueueDefault, MaxRetry: 2, Timeout: time.Minute}
	case TypeImageRescan:
		// Rescans may take minutes on big registries and wait behind user-facing work; a
		// failed one is retried a couple of times, and the next period redoes it anyway.
		return Defaults{Queue: QueueLow, MaxRetry: 2, Timeout: 30 * time.Minute}
	case TypeSessionStart, TypeSessionStartBatch, TypeSessionTerminate, TypeSessionRestart, TypeKernelEvent:
		// A user waits for these; they are idempotent and retried with short backoff
		// (RetryDelay) for about a minute.
		return Defaults{Queue: QueueCritical, MaxRetry: SessionMaxRetry, Timeout: 2 * time.Minute}
	default:
		return Defaults{Queue: QueueDefault, MaxRetry: DefaultMaxRetry, Timeout: DefaultTimeout}
	}
}
