// Package events holds Hangar's session and kernel lifecycle events: their names (Backend.AI's),
// their payload, and their fan-out over Redis pub/sub from the workers that cause them to the
// API processes that stream them (GET /events/session) or wait for them (POST /session).
//
// Events are notifications, not state: PostgreSQL holds the state, and a subscriber that may
// have missed an event (it subscribed late, Redis dropped the connection) re-reads the
// database.
package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Event names, as Backend.AI's /events/session stream sends them.
const (
	SessionEnqueued    = "session_enqueued"
	SessionScheduled   = "session_scheduled"
	SessionStarted     = "session_started"
	SessionTerminating = "session_terminating"
	SessionTerminated  = "session_terminated"
	SessionCancelled   = "session_cancelled"
	SessionSuccess     = "session_success"
	SessionFailure     = "session_failure"

	KernelPreparing   = "kernel_preparing"
	KernelPulling     = "kernel_pulling"
	KernelCreating    = "kernel_creating"
	KernelStarted     = "kernel_started"
	KernelTerminating = "kernel_terminating"
	KernelTerminated  = "kernel_terminated"
	KernelCancelled   = "kernel_cancelled"
)

// Names returns every event name in the order a session usually emits them.
func Names() []string {
	return []string{
		SessionEnqueued, SessionScheduled, KernelPreparing, KernelPulling, KernelCreating,
		KernelStarted, SessionStarted, KernelTerminating, KernelTerminated, KernelCancelled,
		SessionTerminating, SessionTerminated, SessionCancelled, SessionSuccess, SessionFailure,
	}
}

// IsSessionEvent reports whether name is a session_* event.
func IsSessionEvent(name string) bool { return strings.HasPrefix(name, "session_") }

// IsKernelEvent reports whether name is a kernel_* event.
func IsKernelEvent(name string) bool { return strings.HasPrefix(name, "kernel_") }

// IsSessionEnd reports whether name ends a session: after it, the session emits nothing more
// except possibly its result (session_success / session_failure come before
// session_terminated).
func IsSessionEnd(name string) bool {
	return name == SessionTerminated || name == SessionCancelled
}

// Event is one lifecycle event with what subscribers filter on.
type Event struct {
	// Name is the event name (SessionStarted, KernelTerminated, ...).
	Name string `json:"name"`
	// SessionID is the session's UUID.
	SessionID string `json:"session_id"`
	// SessionName is the session's name.
	SessionName string `json:"session_name"`
	// KernelID is the kernel's UUID; for session events the main kernel's.
	KernelID string `json:"kernel_id"`
	// AccessKey is the session owner's access key.
	AccessKey string `json:"access_key"`
	// Domain is the session's domain name.
	Domain string `json:"domain"`
	// ProjectID is the session's project (group) UUID.
	ProjectID string `json:"project_id"`
	// ClusterRole is the kernel's cluster role ("main", "sub"); kernel events only.
	ClusterRole string `json:"cluster_role,omitempty"`
	// ClusterIdx is the kernel's index in its cluster role; kernel events only.
	ClusterIdx int `json:"cluster_idx,omitempty"`
	// Reason is the event's reason ("user-requested", "task-done", ...).
	Reason string `json:"reason"`
	// ExitCode is set on kernel_terminating/terminated and session_success/failure.
	ExitCode *int `json:"exit_code,omitempty"`
	// Status is the session status after the event (RUNNING, CANCELLED, ...).
	Status string `json:"status,omitempty"`
	// Time is when the event happened.
	Time time.Time `json:"time"`
}

// SSEData returns the JSON object Backend.AI's /events/session sends as the event's data:
// reason, sessionName, ownerAccessKey, sessionId, exitCode, kernelId, and clusterRole /
// clusterIdx on kernel events when they are set.
func (e *Event) SSEData() map[string]any {
	d := map[string]any{
		"reason":         e.Reason,
		"sessionName":    e.SessionName,
		"ownerAccessKey": e.AccessKey,
		"sessionId":      e.SessionID,
		"kernelId":       e.KernelID,
		"exitCode":       nil,
	}
	if e.ExitCode != nil {
		d["exitCode"] = *e.ExitCode
	}
	if IsKernelEvent(e.Name) {
		if e.ClusterRole != "" {
			d["clusterRole"] = e.ClusterRole
		}
		if e.ClusterIdx != 0 {
			d["clusterIdx"] = e.ClusterIdx
		}
	}
	return d
}

// Channel returns the Redis pub/sub channel events go through for a deployment whose Redis
// keys and queues carry prefix (the empty prefix in production, a unique one per test).
func Channel(prefix string) string { return prefix + "events:session" }

// Publisher publishes events. It is safe for concurrent use.
type Publisher struct {
	rdb     redis.UniversalClient
	channel string
}

// NewPublisher returns a Publisher on rdb for the deployment with prefix.
func NewPublisher(rdb redis.UniversalClient, prefix string) *Publisher {
	return &Publisher{rdb: rdb, channel: Channel(prefix)}
}

// MaxBatch is the most events one message carries: well under a subscriber's buffer
// (subscriberBuffer), so that a reader keeping up with single events keeps up with batches.
const MaxBatch = 64

// Publish sends the events in order, in as few messages as it can: one event is a message of
// its own (a JSON object), several go as JSON arrays of up to MaxBatch events, so that a
// schedule pass or a start batch costs one PUBLISH per MaxBatch events, not one per event
// (Decode reads both). Publishing is best effort for callers: the state the events describe
// is already committed, so callers log a failure and go on.
func (p *Publisher) Publish(ctx context.Context, evs ...Event) error {
	if p == nil || p.rdb == nil || len(evs) == 0 {
		return nil
	}
	msgs := make([][]byte, 0, (len(evs)+MaxBatch-1)/MaxBatch)
	for chunk := range slices.Chunk(evs, MaxBatch) {
		var b []byte
		var err error
		if len(chunk) == 1 {
			b, err = json.Marshal(&chunk[0])
		} else {
			b, err = json.Marshal(chunk)
		}
		if err != nil {
			return fmt.Errorf("events: encode %s: %w", chunk[0].Name, err)
		}
		msgs = append(msgs, b)
	}
	if len(msgs) == 1 {
		if err := p.rdb.Publish(ctx, p.channel, msgs[0]).Err(); err != nil {
			return fmt.Errorf("events: publish: %w", err)
		}
		return nil
	}
	pipe := p.rdb.Pipeline()
	for _, b := range msgs {
		pipe.Publish(ctx, p.channel, b)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("events: publish: %w", err)
	}
	return nil
}

// Decode returns the events of one message of the channel, in order: a JSON object is one
// event, a JSON array several (see Publish).
func Decode(payload []byte) ([]Event, error) {
	trimmed := bytes.TrimLeft(payload, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var evs []Event
		if err := json.Unmarshal(trimmed, &evs); err != nil {
			return nil, fmt.Errorf("events: decode batch: %w", err)
		}
		return evs, nil
	}
	var ev Event
	if err := json.Unmarshal(trimmed, &ev); err != nil {
		return nil, fmt.Errorf("events: decode: %w", err)
	}
	return []Event{ev}, nil
}
