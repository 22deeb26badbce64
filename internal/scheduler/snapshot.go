package scheduler

import "time"

// Algorithm is a scaling group's queueing algorithm (scaling_groups.scheduler): the order in
// which a pass considers pending sessions.
type Algorithm string

// Queueing algorithms.
const (
	// FIFO considers the oldest pending session first. With ScalingGroup.NumRetriesToSkip > 0,
	// sessions that failed that many times already go after the others.
	FIFO Algorithm = "fifo"
	// LIFO considers the newest pending session first.
	LIFO Algorithm = "lifo"
	// DRF (dominant resource fairness) repeatedly picks the access key with the smallest
	// dominant share of the scaling group's capacity, then that key's oldest pending session.
	DRF Algorithm = "drf"
)

// Strategy is a scaling group's agent selection strategy
// (scheduler_opts.agent_selection_strategy).
type Strategy string

// Agent selection strategies.
const (
	// Dispersed prefers the agent with the most free resources (spreads sessions out).
	Dispersed Strategy = "dispersed"
	// Concentrated prefers the agent with the least free resources that still fits (packs
	// sessions together).
	Concentrated Strategy = "concentrated"
	// Legacy prefers the agent with the largest capacity, regardless of its occupancy.
	Legacy Strategy = "legacy"
)

// Session types.
const (
	// SessionInteractive is an interactive session.
	SessionInteractive = "interactive"
	// SessionBatch is a batch session (runs its startup command, may have a start time).
	SessionBatch = "batch"
	// SessionInference is a model-serving session.
	SessionInference = "inference"
)

// Cluster modes.
const (
	// SingleNode places all kernels of a session on one agent, sized by the session's total
	// request.
	SingleNode = "single-node"
	// MultiNode places each kernel of a session independently; an agent may take several.
	MultiNode = "multi-node"
)

// DefaultAllowedSessionTypes returns the session types a scaling group allows when its
// scheduler_opts do not say: interactive and batch (inference needs an explicit opt-in).
func DefaultAllowedSessionTypes() []string {
	return []string{SessionInteractive, SessionBatch}
}

// DefaultSlotPriority returns the default agent-selection-resource-priority of manager.toml:
// accelerators first, then cpu, then mem.
func DefaultSlotPriority() []string {
	return []string{"cuda", "rocm", "tpu", "cpu", "mem"}
}

// Snapshot is everything one scheduling pass over one scaling group looks at. Schedule never
// modifies it.
//
// Every amount vector ([]int64) is indexed like SlotNames and holds thousandths for count and
// unique slots (cpu 1 = 1000) and bytes for bytes slots; see ParseSlots. Limit vectors may
// hold Unlimited. A nil vector where one is optional means all zeros for usage and no limit
// for limits, as each field says.
type Snapshot struct {
	// ScalingGroup is the scaling group being scheduled and its options.
	ScalingGroup ScalingGroup
	// Now is the time of the pass, for start times and the pending timeout.
	Now time.Time
	// SlotNames are the known resource slots ("cpu", "mem", "cuda.shares", ...), in any
	// order. Every vector of the snapshot is indexed like this slice.
	SlotNames []string
	// SlotTypes maps slot names to SlotTypeCount, SlotTypeBytes or SlotTypeUnique. It only
	// shapes messages; an untyped name containing "mem" is bytes, any other count.
	SlotTypes map[string]string
	// SlotPriority is manager.toml's agent-selection-resource-priority, such as
	// DefaultSlotPriority(). Each entry ranks the slot of that exact name and then the slots
	// whose name before the first "." equals it (cuda → cuda.device, cuda.shares in name
	// order). Rankers compare agents on these slots in this order; slots matching no entry do
	// not take part in ranking. Nil means DefaultSlotPriority(); an empty slice ranks by
	// agent ID only.
	SlotPriority []string
	// Agents are the ALIVE agents of the scaling group, schedulable or not.
	Agents []Agent
	// Pending are the scaling group's PENDING sessions, in any order.
	Pending []Session
	// Usage is what is already occupied or pending, before this pass.
	Usage Usage
	// Limits are the resource policies that apply to the pending sessions.
	Limits Limits
	// RoundRobinIndex is the position, in the ID-sorted list of schedulable agents, where the
	// round-robin search starts; the previous Plan's NextRoundRobinIndex. Any value is taken
	// modulo the number of schedulable agents.
	RoundRobinIndex int
}

// ScalingGroup is a scaling group's name and scheduler options (scaling_groups.scheduler and
// scheduler_opts).
type ScalingGroup struct {
	// Name is the scaling group name, for messages.
	Name string
	// Scheduler is the queueing algorithm; empty means FIFO.
	Scheduler Algorithm
	// AllowedSessionTypes are the session types the group accepts; nil means
	// DefaultAllowedSessionTypes().
	AllowedSessionTypes []string
	// AgentSelectionStrategy ranks the agents that fit; empty means Dispersed.
	AgentSelectionStrategy Strategy
	// RoundRobin, when set, picks the first agent that fits at or after RoundRobinIndex in the
	// ID-sorted list of schedulable agents instead of ranking them.
	RoundRobin bool
	// NumRetriesToSkip is the FIFO option num_retries_to_skip: when > 0, sessions whose
	// Retries reached it are considered after all the others (still oldest first).
	NumRetriesToSkip int
	// PendingTimeout cancels sessions pending for at least this long (since CreatedAt) with
	// reason "pending-timeout"; 0 disables it.
	PendingTimeout time.Duration
	// MaxRetries cancels a session whose failed attempts (Retries after this pass) reach it,
	// with the reason of its last failure; 0 never cancels. Hangar's option: Backend.AI
	// keeps such sessions pending until the pending timeout.
	MaxRetries int
}

// Agent is one ALIVE agent of the scaling group.
type Agent struct {
	// ID is the agent ID. Ties between equally ranked agents go to the smaller ID.
	ID string
	// Architecture is the agent's machine architecture ("x86_64", "aarch64").
	Architecture string
	// Capacity is the agent's available_slots.
	Capacity []int64
	// Occupied is the agent's occupied_slots; nil means nothing is occupied.
	Occupied []int64
	// Schedulable is false for agents excluded from new placements.
	Schedulable bool
	// ContainerCount is the number of containers the agent runs.
	ContainerCount int
	// MaxContainers is the container limit (config/agent/max-container-count); 0 means none.
	MaxContainers int
}

// Session is one PENDING session with its kernels.
type Session struct {
	// ID is the session ID.
	ID string
	// Name is the session name, for messages.
	Name string
	// AccessKey is the owner's access key; Limits.Keypairs must hold its policy.
	AccessKey string
	// UserUUID is the owner's user UUID.
	UserUUID string
	// ProjectID is the session's project (group) ID.
	ProjectID string
	// Domain is the session's domain name.
	Domain string
	// Type is SessionInteractive, SessionBatch or SessionInference.
	Type string
	// ClusterMode is SingleNode or MultiNode; empty means SingleNode.
	ClusterMode string
	// Private marks a SYSTEM-role session (such as an SFTP session): it counts against the
	// SFTP concurrency limit, skips the resource and pending limits, and is cancelled at once
	// when a predicate fails.
	Private bool
	// Kernels are the session's kernels, main kernel first. There is at least one.
	Kernels []Kernel
	// Requested is the session's requested_slots, the sum of its kernels' requests; nil means
	// Schedule computes it.
	Requested []int64
	// StartsAt is a batch session's start time; nil means start at once.
	StartsAt *time.Time
	// CreatedAt orders the queue and starts the pending timeout.
	CreatedAt time.Time
	// Dependencies are the sessions this one waits for.
	Dependencies []DependencyState
	// Retries is status_data.scheduler.retries: how many passes failed to place it so far.
	Retries int
}

// Kernel is one kernel of a pending session.
type Kernel struct {
	// ID is the kernel ID.
	ID string
	// Requested is the kernel's requested_slots.
	Requested []int64
	// Architecture is the architecture of the kernel's image; empty matches every agent.
	Architecture string
	// AgentID is the agent the session's creator designated for the kernel (a superadmin's
	// agent list); empty lets the scheduler choose. A single-node session follows its main
	// kernel's designation. A designated agent is used even when not schedulable, but must
	// be an agent of the snapshot, have the architecture, the containers and the free slots.
	AgentID string
}

// DependencyState is the state of a session another one depends on.
type DependencyState struct {
	// ID is the dependency's session ID.
	ID string
	// Name is its session name, for messages.
	Name string
	// Status is its session status name ("TERMINATED", "RUNNING", ...).
	Status string
	// Result is its result name ("SUCCESS", "FAILURE", "UNDEFINED").
	Result string
}

// Usage is what is occupied (and pending) before the pass. Missing map entries and nil
// vectors mean zero.
type Usage struct {
	// Keypairs is the usage per access key.
	Keypairs map[string]KeypairUsage
	// Users is the occupancy per user UUID (all kernels of the user, in every scaling group).
	Users map[string][]int64
	// Projects is the occupancy per project ID.
	Projects map[string][]int64
	// Domains is the occupancy per domain name.
	Domains map[string][]int64
}

// KeypairUsage is what one access key holds before the pass.
type KeypairUsage struct {
	// Occupied is the key's occupancy in every scaling group (non-SYSTEM kernels in
	// resource-occupying states), checked against the keypair policy.
	Occupied []int64
	// GroupOccupied is the key's occupancy in this scaling group only, which DRF shares are
	// computed from.
	GroupOccupied []int64
	// ConcurrencyUsed is keypair.concurrency_used: the key's running sessions.
	ConcurrencyUsed int
	// SFTPConcurrencyUsed is keypair.sftp_concurrency_used: the key's running private
	// sessions.
	SFTPConcurrencyUsed int
	// PendingCount is the number of the key's PENDING sessions in every scaling group,
	// including those of this snapshot.
	PendingCount int
	// PendingSlots is the sum of the requested slots of those PENDING sessions.
	PendingSlots []int64
}

// Limits are the policies the predicates check.
type Limits struct {
	// Keypairs is the keypair resource policy of every access key of a pending session.
	Keypairs map[string]KeypairPolicy
	// Users maps a user UUID to the total_resource_slots of the policy of the user's main
	// access key (nil vector: no limit). A user missing here has no main access key, and
	// the user_resource_limit predicate fails.
	Users map[string][]int64
	// Projects is groups.total_resource_slots per project ID; missing or nil means no limit.
	Projects map[string][]int64
	// Domains is domains.total_resource_slots per domain name; missing or nil means no limit.
	Domains map[string][]int64
}

// KeypairPolicy is the part of a keypair resource policy the scheduler checks.
type KeypairPolicy struct {
	// TotalSlots is the policy's total_resource_slots with default_for_unspecified applied
	// (see PolicySlots); nil means no limit.
	TotalSlots []int64
	// MaxConcurrentSessions caps the key's running sessions; 0 means no cap.
	MaxConcurrentSessions int
	// MaxConcurrentSFTPSessions caps the key's running private sessions; 0 means no cap.
	MaxConcurrentSFTPSessions int
	// MaxPendingSessionCount caps the key's PENDING sessions (including the one being
	// checked): the check fails above the cap; nil means no cap.
	MaxPendingSessionCount *int
	// MaxPendingSessionResourceSlots caps the requested slots of the key's PENDING sessions
	// (including the one being checked); the check fails when any slot is above the cap.
	// Slots the policy does not name are 0 here; nil (an empty or null policy value) means
	// no cap.
	MaxPendingSessionResourceSlots []int64
}
