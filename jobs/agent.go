package jobs

import (
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// TypeAgentHeartbeat is an agent's periodic report of its identity, address and resource
// slots; its handler keeps the agents and agent_slots rows up to date.
const TypeAgentHeartbeat = "agent:heartbeat"

// AgentHeartbeatRetention is how long a processed heartbeat stays in Redis. It only has to
// outlive redeliveries of the same heartbeat, whose TaskID it keeps taken meanwhile.
const AgentHeartbeatRetention = time.Minute

// AgentSlot is one resource slot an agent reports: its slot type ("count", "bytes" or
// "unique") and its capacity as a decimal string.
type AgentSlot struct {
	// Type is the slot type: count, bytes or unique.
	Type string `json:"type"`
	// Amount is the capacity as a decimal string ("4", "8589934592").
	Amount string `json:"amount"`
}

// AgentHeartbeatPayload is the payload of a TypeAgentHeartbeat task.
type AgentHeartbeatPayload struct {
	// AgentID is the agent's id ("i-node1").
	AgentID string `json:"agent_id"`
	// Addr is the agent's advertised RPC address ("tcp://10.0.0.5:6001").
	Addr string `json:"addr"`
	// Region is the agent's region.
	Region string `json:"region"`
	// ScalingGroup is the resource group the agent serves.
	ScalingGroup string `json:"scaling_group"`
	// Architecture is the agent's CPU architecture ("x86_64", "aarch64").
	Architecture string `json:"architecture"`
	// Version is the agent's version.
	Version string `json:"version"`
	// Slots are the agent's resource slot capacities by slot name.
	Slots map[string]AgentSlot `json:"slots"`
	// KernelIDs are the kernels the agent runs.
	KernelIDs []string `json:"kernel_ids"`
	// Utilization maps kernel ids to the kernels' utilization since the previous heartbeat,
	// for the idle checkers; kernels the runtime cannot measure are absent.
	Utilization map[string]KernelUtilization `json:"utilization,omitempty"`
	// Time is when the agent sent the heartbeat; the handler ignores a heartbeat older than
	// the last one it applied.
	Time time.Time `json:"time"`
}

// KernelUtilization is one kernel's utilization, in percent, under the metric names of the
// idle checkers' resource thresholds. A metric the runtime does not measure is nil.
type KernelUtilization struct {
	// CPUUtil is the CPU time used over the sampling interval, in percent of the kernel's
	// cpu slot (100 = every allotted core busy).
	CPUUtil *float64 `json:"cpu_util,omitempty"`
	// Mem is the memory in use, in percent of the kernel's mem slot.
	Mem *float64 `json:"mem,omitempty"`
	// CUDAUtil is the GPU utilization, in percent.
	CUDAUtil *float64 `json:"cuda_util,omitempty"`
	// CUDAMem is the GPU memory in use, in percent of the kernel's share.
	CUDAMem *float64 `json:"cuda_mem,omitempty"`
}

// AgentHeartbeatTaskID returns the TaskID of the heartbeat agent sends at t: one per agent
// and second, so that a heartbeat enqueued twice is processed once.
func AgentHeartbeatTaskID(agentID string, t time.Time) string {
	return fmt.Sprintf("%s:%s:%d", TypeAgentHeartbeat, agentID, t.Unix())
}

// NewAgentHeartbeatTask returns a TypeAgentHeartbeat task for p with the type's default
// options (QueueCritical, 2 retries, 30 s timeout), the TaskID AgentHeartbeatTaskID(p.AgentID,
// p.Time) and AgentHeartbeatRetention, followed by opts.
func NewAgentHeartbeatTask(p AgentHeartbeatPayload, opts ...asynq.Option) (*asynq.Task, error) {
	all := make([]asynq.Option, 0, 2+len(opts))
	all = append(all, asynq.TaskID(AgentHeartbeatTaskID(p.AgentID, p.Time)), asynq.Retention(AgentHeartbeatRetention))
	all = append(all, opts...)
	return newTask(TypeAgentHeartbeat, p, all...)
}
