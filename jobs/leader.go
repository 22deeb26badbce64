package jobs

import (
	"time"

	"github.com/hibiken/asynq"
)

// TypeLeaderHeartbeat is the periodic proof that a worker leader exists and that the
// periodic pipeline (leader → enqueue → some worker) works.
const TypeLeaderHeartbeat = "leader:heartbeat"

// LeaderHeartbeatPayload is the payload of a TypeLeaderHeartbeat task.
type LeaderHeartbeatPayload struct {
	// LeaderID names the worker that enqueued the heartbeat while it held leadership.
	LeaderID string `json:"leader_id"`
	// Slot is the start of the period the heartbeat belongs to; the handler reports how
	// late it ran relative to it.
	Slot time.Time `json:"slot"`
}

// NewLeaderHeartbeatTask returns a TypeLeaderHeartbeat task for p with the type's default
// options (QueueDefault, no retries, 30 s timeout) followed by opts.
func NewLeaderHeartbeatTask(p LeaderHeartbeatPayload, opts ...asynq.Option) (*asynq.Task, error) {
	return newTask(TypeLeaderHeartbeat, p, opts...)
}
