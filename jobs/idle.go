package jobs

import (
	"time"

	"github.com/hibiken/asynq"
)

// TypeIdleCheck is the leader's periodic idle check: it runs the idle checkers
// (internal/idle) over the RUNNING sessions and terminates the expired ones with reason
// idle-timeout, idle-session-lifetime or idle-utilization, as a user's destroy would.
const TypeIdleCheck = "idle:check"

// IdleCheckIntervalKey is the shared-config key (below the namespace) of the idle check's
// period; "0" turns the check off.
const IdleCheckIntervalKey = "config/hangar/periodic/idle-check/interval"

// DefaultIdleCheckEvery is the idle check's default period (Backend.AI checks every 15 s).
const DefaultIdleCheckEvery = 15 * time.Second

// IdleCheckPayload is the payload of a TypeIdleCheck task.
type IdleCheckPayload struct {
	// Slot is the start of the period the task was enqueued for.
	Slot time.Time `json:"slot"`
}

// NewIdleCheckTask returns a TypeIdleCheck task for p.
func NewIdleCheckTask(p IdleCheckPayload, opts ...asynq.Option) (*asynq.Task, error) {
	return newTask(TypeIdleCheck, p, opts...)
}
