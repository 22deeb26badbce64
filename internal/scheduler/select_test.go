package scheduler_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/scheduler"
)

// occupied returns an agent with the given capacity and occupancy.
func occupied(a scheduler.Agent, used []int64) scheduler.Agent {
	a.Occupied = used
	return a
}

func TestAgentSelectionStrategies(t *testing.T) {
	t.Parallel()
	// Free cpu: i-a 8, i-b 4, i-c 16 (i-b is the biggest machine, mostly full).
	agents := func() []scheduler.Agent {
		return []scheduler.Agent{
			occupied(agent("i-c", vec(32, 128, 0)), vec(16, 0, 0)),
			agent("i-a", vec(8, 128, 0)),
			occupied(agent("i-b", vec(64, 128, 0)), vec(60, 0, 0)),
		}
	}
	for _, tc := range []struct {
		name     string
		strategy scheduler.Strategy
		rr       bool
		rrIndex  int
		cpu      float64
		want     string
		wantNext int
	}{
		{name: "dispersed takes the most free", strategy: scheduler.Dispersed, cpu: 2, want: "i-c"},
		{name: "default is dispersed", cpu: 2, want: "i-c"},
		{name: "concentrated takes the least free that fits", strategy: scheduler.Concentrated, cpu: 2, want: "i-b"},
		{name: "concentrated skips agents short of the request", strategy: scheduler.Concentrated, cpu: 6, want: "i-a"},
		{name: "legacy takes the largest capacity", strategy: scheduler.Legacy, cpu: 2, want: "i-b"},
		{name: "legacy skips agents short of the request", strategy: scheduler.Legacy, cpu: 6, want: "i-c"},
		{name: "round-robin from the index", rr: true, rrIndex: 1, cpu: 2, want: "i-b", wantNext: 2},
		{name: "round-robin skips agents that do not fit", rr: true, rrIndex: 1, cpu: 6, want: "i-c", wantNext: 0},
		{name: "round-robin wraps around", rr: true, rrIndex: 2, cpu: 10, want: "i-c", wantNext: 0},
		{name: "round-robin index modulo agents", rr: true, rrIndex: 3, cpu: 1, want: "i-a", wantNext: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := snap()
			s.ScalingGroup.AgentSelectionStrategy = tc.strategy
			s.ScalingGroup.RoundRobin = tc.rr
			s.RoundRobinIndex = tc.rrIndex
			s.Agents = agents()
			add(s, session("s1", "AK1", 1, vec(tc.cpu, 1, 0)))
			plan := schedule(t, s)
			require.Equal(t, tc.want, agentOf(plan, "s1"))
			require.Equal(t, tc.wantNext, plan.NextRoundRobinIndex)
		})
	}
}

func TestRankingFollowsPlacementsInThePass(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		strategy scheduler.Strategy
		want     []string
	}{
		// Two equal agents: dispersed alternates, concentrated fills i-1 first.
		{scheduler.Dispersed, []string{"i-1", "i-2", "i-1", "i-2"}},
		{scheduler.Concentrated, []string{"i-1", "i-1", "i-2", "i-2"}},
		// Legacy ignores occupancy: the larger capacity first (equal here: the smaller ID).
		{scheduler.Legacy, []string{"i-1", "i-1", "i-2", "i-2"}},
	} {
		t.Run(string(tc.strategy), func(t *testing.T) {
			t.Parallel()
			s := snap()
			s.ScalingGroup.AgentSelectionStrategy = tc.strategy
			s.Agents = []scheduler.Agent{agent("i-2", vec(4, 16, 0)), agent("i-1", vec(4, 16, 0))}
			for i, id := range []string{"s1", "s2", "s3", "s4"} {
				add(s, session(id, "AK1", i, vec(2, 4, 0)))
			}
			plan := schedule(t, s)
			var got []string
			for _, id := range []string{"s1", "s2", "s3", "s4"} {
				got = append(got, agentOf(plan, id))
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestSlotPriority(t *testing.T) {
	t.Parallel()
	// i-gpu-b has more GPU free, i-gpu-a much more cpu free.
	agents := func() []scheduler.Agent {
		return []scheduler.Agent{
			agent("i-gpu-b", vec(8, 64, 4)),
			occupied(agent("i-gpu-a", vec(64, 64, 4)), vec(0, 0, 2)),
		}
	}
	for _, tc := range []struct {
		name     string
		priority []string
		want     string
	}{
		{"the GPU slot outranks cpu by default", scheduler.DefaultSlotPriority(), "i-gpu-b"},
		{"nil is the default priority", nil, "i-gpu-b"},
		{"cpu first when configured", []string{"cpu", "mem", "cuda"}, "i-gpu-a"},
		{"the exact slot name matches too", []string{"mem", "cuda.shares", "cpu"}, "i-gpu-b"},
		{"no ranked slot: smallest ID", []string{"tpu"}, "i-gpu-a"},
		{"empty ranks by ID only", []string{}, "i-gpu-a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := snap()
			s.SlotPriority = tc.priority
			s.Agents = agents()
			add(s, session("s1", "AK1", 1, vec(1, 1, 1)))
			require.Equal(t, tc.want, agentOf(schedule(t, s), "s1"))
		})
	}
}

func TestAgentsWithoutUnneededSlotsFirst(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		algo scheduler.Algorithm
		want string
	}{
		// FIFO and LIFO keep GPU agents for GPU sessions even when they are emptier.
		{scheduler.FIFO, "i-cpu"},
		{scheduler.LIFO, "i-cpu"},
		// DRF ranks on free slots only.
		{scheduler.DRF, "i-gpu"},
	} {
		t.Run(string(tc.algo), func(t *testing.T) {
			t.Parallel()
			s := snap()
			s.ScalingGroup.Scheduler = tc.algo
			s.Agents = []scheduler.Agent{agent("i-gpu", vec(64, 256, 8)), agent("i-cpu", vec(8, 32, 0))}
			add(s, session("s1", "AK1", 1, vec(1, 1, 0)))
			require.Equal(t, tc.want, agentOf(schedule(t, s), "s1"))
		})
	}
}

func TestArchitectureFilter(t *testing.T) {
	t.Parallel()
	s := snap()
	arm := agent("i-arm", vec(4, 16, 0))
	arm.Architecture = "aarch64"
	s.Agents = []scheduler.Agent{agent("i-x86", vec(64, 256, 0)), arm}
	armSession := session("arm", "AK1", 1, vec(1, 1, 0))
	armSession.Kernels[0].Architecture = "aarch64"
	add(s, armSession, session("x86", "AK1", 2, vec(1, 1, 0)))
	plan := schedule(t, s)
	require.Equal(t, "i-arm", agentOf(plan, "arm"))
	require.Equal(t, "i-x86", agentOf(plan, "x86"))
}

func TestClusterModes(t *testing.T) {
	t.Parallel()
	twoKernels := func(mode string) scheduler.Session {
		ss := session("s1", "AK1", 1, vec(3, 4, 0))
		ss.ClusterMode = mode
		ss.Kernels = append(ss.Kernels, scheduler.Kernel{ID: "s1-k1", Requested: vec(3, 4, 0), Architecture: "x86_64"})
		return ss
	}
	t.Run("single-node needs one agent for the whole session", func(t *testing.T) {
		t.Parallel()
		s := snap()
		s.Agents = []scheduler.Agent{agent("i-1", vec(4, 16, 0)), agent("i-2", vec(4, 16, 0)), agent("i-3", vec(8, 16, 0))}
		add(s, twoKernels(scheduler.SingleNode))
		plan := schedule(t, s)
		require.Equal(t, []scheduler.KernelPlacement{
			{KernelID: "s1-k0", AgentID: "i-3", Slots: vec(3, 4, 0)},
			{KernelID: "s1-k1", AgentID: "i-3", Slots: vec(3, 4, 0)},
		}, plan.Placements[0].Kernels)
		require.Equal(t, map[string][]int64{"i-3": vec(6, 8, 0)}, plan.AgentDeltas())
	})
	t.Run("single-node fails where only multi-node fits", func(t *testing.T) {
		t.Parallel()
		s := snap()
		s.Agents = []scheduler.Agent{agent("i-1", vec(4, 16, 0)), agent("i-2", vec(4, 16, 0))}
		add(s, twoKernels(scheduler.SingleNode))
		plan := schedule(t, s)
		require.Empty(t, plan.Placements)
		require.Equal(t, scheduler.StatusNoAvailableInstances, plan.Skipped[0].Reason)
		require.Equal(t, "No agent can host the session (cpu=6 mem=8g cuda.shares=0) in the scaling group default: "+
			"2 agents evaluated; 2 out of free slots (cpu on 2)", plan.Skipped[0].Msg)
	})
	t.Run("multi-node spreads kernels", func(t *testing.T) {
		t.Parallel()
		s := snap()
		s.Agents = []scheduler.Agent{agent("i-1", vec(4, 16, 0)), agent("i-2", vec(4, 16, 0))}
		add(s, twoKernels(scheduler.MultiNode))
		plan := schedule(t, s)
		require.Equal(t, []scheduler.KernelPlacement{
			{KernelID: "s1-k0", AgentID: "i-1", Slots: vec(3, 4, 0)},
			{KernelID: "s1-k1", AgentID: "i-2", Slots: vec(3, 4, 0)},
		}, plan.Placements[0].Kernels)
	})
	t.Run("multi-node may put several kernels on one agent", func(t *testing.T) {
		t.Parallel()
		s := snap()
		s.ScalingGroup.AgentSelectionStrategy = scheduler.Concentrated
		s.Agents = []scheduler.Agent{agent("i-1", vec(16, 16, 0)), agent("i-2", vec(16, 16, 0))}
		add(s, twoKernels(scheduler.MultiNode))
		plan := schedule(t, s)
		require.Equal(t, "i-1", plan.Placements[0].Kernels[0].AgentID)
		require.Equal(t, "i-1", plan.Placements[0].Kernels[1].AgentID)
	})
	t.Run("multi-node failure releases the kernels already placed", func(t *testing.T) {
		t.Parallel()
		s := snap()
		s.Agents = []scheduler.Agent{agent("i-1", vec(4, 16, 0)), agent("i-2", vec(4, 16, 0))}
		big := twoKernels(scheduler.MultiNode)
		big.Kernels = append(big.Kernels, scheduler.Kernel{ID: "s1-k2", Requested: vec(3, 4, 0)})
		// s2 needs a whole empty agent; it fits only if s1's first two kernels were released.
		add(s, big, session("s2", "AK1", 2, vec(4, 4, 0)), session("s3", "AK1", 3, vec(4, 4, 0)))
		plan := schedule(t, s)
		require.Equal(t, []string{"s2", "s3"}, placedIDs(plan))
		skip := skipOf(plan, "s1")
		require.Equal(t, "s1-k2", skip.KernelID)
		require.Equal(t, "No agent can host the kernel s1-k2 (cpu=3 mem=4g cuda.shares=0) in the scaling group default: "+
			"2 agents evaluated; 2 out of free slots (cpu on 2)", skip.Msg)
	})
}

func TestNoAvailableInstances(t *testing.T) {
	t.Parallel()
	s := snap()
	down := agent("i-down", vec(64, 256, 0))
	down.Schedulable = false
	arm := agent("i-arm", vec(64, 256, 0))
	arm.Architecture = "aarch64"
	full := agent("i-full", vec(64, 256, 0))
	full.ContainerCount, full.MaxContainers = 10, 10
	s.Agents = []scheduler.Agent{
		down, arm, full,
		occupied(agent("i-busy", vec(8, 32, 0)), vec(8, 30, 0)),
		agent("i-small", vec(4, 4, 0)),
	}
	big := session("big", "AK1", 1, vec(6, 8, 0))
	big.Retries = 7
	// The big session fits nowhere; the small ones behind it are still placed.
	add(s, big, session("small1", "AK1", 2, vec(1, 1, 0)), session("small2", "AK1", 3, vec(1, 1, 0)))
	plan := schedule(t, s)
	require.Equal(t, []string{"small1", "small2"}, placedIDs(plan))
	skip := skipOf(plan, "big")
	require.Equal(t, scheduler.StatusNoAvailableInstances, skip.Reason)
	require.Equal(t, 8, skip.Retries)
	require.Empty(t, skip.FailedPredicates)
	require.Equal(t, allPredicates(), skip.PassedPredicates)
	require.Equal(t, &scheduler.Metrics{
		AgentsEvaluated: 5,
		AgentsFiltered: map[string]int{
			scheduler.FilterUnschedulable: 1, scheduler.FilterArchitecture: 1, scheduler.FilterContainerLimit: 1,
		},
		AgentsExhausted: 2,
		SlotsExhausted:  map[string]int{"cpu": 2, "mem": 2},
	}, skip.Metrics)
	require.Equal(t, "No agent can host the session (cpu=6 mem=8g cuda.shares=0) in the scaling group default: "+
		"5 agents evaluated; 1 not schedulable; 1 architecture mismatch; 1 container limit reached; "+
		"2 out of free slots (cpu on 2, mem on 2)", skip.Msg)
}

func TestContainerLimit(t *testing.T) {
	t.Parallel()
	s := snap()
	a := agent("i-1", vec(64, 256, 0))
	a.ContainerCount, a.MaxContainers = 1, 4
	s.Agents = []scheduler.Agent{a}
	two := session("two", "AK1", 1, vec(1, 1, 0))
	two.Kernels = append(two.Kernels, scheduler.Kernel{ID: "two-k1", Requested: vec(1, 1, 0)})
	// 1 running + 2 kernels = 3; then one more fits (4); the last does not.
	add(s, two, session("s2", "AK1", 2, vec(1, 1, 0)), session("s3", "AK1", 3, vec(1, 1, 0)))
	plan := schedule(t, s)
	require.Equal(t, []string{"two", "s2"}, placedIDs(plan))
	require.Equal(t, map[string]int{scheduler.FilterContainerLimit: 1}, skipOf(plan, "s3").Metrics.AgentsFiltered)
}

func TestMaxRetriesCancels(t *testing.T) {
	t.Parallel()
	s := snap()
	s.ScalingGroup.MaxRetries = 3
	s.Agents = []scheduler.Agent{agent("i-1", vec(4, 16, 0))}
	tooBig := session("big", "AK1", 1, vec(8, 1, 0))
	tooBig.Retries = 2
	again := session("again", "AK1", 2, vec(8, 1, 0))
	again.Retries = 1
	add(s, tooBig, again)
	plan := schedule(t, s)
	require.Len(t, plan.Cancelled, 1)
	require.Equal(t, "big", plan.Cancelled[0].SessionID)
	require.Equal(t, scheduler.StatusNoAvailableInstances, plan.Cancelled[0].Reason)
	require.Equal(t, 3, plan.Cancelled[0].Attempt.Retries)
	require.Equal(t, 2, skipOf(plan, "again").Retries)
}

func TestPendingTimeout(t *testing.T) {
	t.Parallel()
	s := snap()
	s.ScalingGroup.PendingTimeout = 10 * time.Minute
	s.Agents = []scheduler.Agent{agent("i-1", vec(4, 16, 0))}
	// Now is t0+60m: created at +50m is exactly 10 minutes old, +51m is younger.
	add(s, session("young", "AK1", 51, vec(1, 1, 0)), session("edge", "AK1", 50, vec(1, 1, 0)),
		session("old", "AK1", 0, vec(1, 1, 0)))
	plan := schedule(t, s)
	require.Equal(t, []scheduler.Cancel{
		{SessionID: "old", Reason: scheduler.StatusPendingTimeout},
		{SessionID: "edge", Reason: scheduler.StatusPendingTimeout},
	}, plan.Cancelled)
	require.Equal(t, []string{"young"}, placedIDs(plan))
}

func TestDesignatedAgents(t *testing.T) {
	t.Parallel()
	agents := func() []scheduler.Agent {
		down := agent("i-down", vec(8, 16, 0))
		down.Schedulable = false
		return []scheduler.Agent{agent("i-big", vec(64, 256, 0)), agent("i-small", vec(2, 16, 0)), down}
	}
	for _, tc := range []struct {
		name       string
		designated []string // per kernel
		mode       string
		want       []string // agent per kernel, nil when skipped
		msg        string
	}{
		{name: "single-node follows the main kernel", designated: []string{"i-small", ""}, want: []string{"i-small", "i-small"}},
		{name: "designation overrides schedulable", designated: []string{"i-down", ""}, want: []string{"i-down", "i-down"}},
		{
			name: "designated agent too small", designated: []string{"i-small", ""},
			msg: "The designated agent i-small cannot host the session (cpu=4 mem=2g cuda.shares=0) in the scaling group default: " +
				"1 agents evaluated; 1 out of free slots (cpu on 1)",
		},
		{
			name: "designated agent unknown", designated: []string{"i-gone", ""},
			msg: "The designated agent i-gone cannot host the session (cpu=2 mem=2g cuda.shares=0) in the scaling group default: " +
				"0 agents evaluated",
		},
		{
			name: "multi-node designations per kernel", mode: scheduler.MultiNode, designated: []string{"i-small", "i-down"},
			want: []string{"i-small", "i-down"},
		},
		{
			name: "multi-node undesignated kernel ranked as usual", mode: scheduler.MultiNode, designated: []string{"i-small", ""},
			want: []string{"i-small", "i-big"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := snap()
			s.Agents = agents()
			cpu := 1.0
			if tc.name == "designated agent too small" {
				cpu = 2
			}
			ss := session("s1", "AK1", 1, vec(cpu, 1, 0))
			ss.ClusterMode = tc.mode
			ss.Kernels = append(ss.Kernels, scheduler.Kernel{ID: "s1-k1", Requested: vec(cpu, 1, 0)})
			for i, id := range tc.designated {
				ss.Kernels[i].AgentID = id
			}
			add(s, ss)
			plan := schedule(t, s)
			if tc.want == nil {
				require.Empty(t, plan.Placements)
				require.Equal(t, tc.msg, skipOf(plan, "s1").Msg)
				return
			}
			var got []string
			for _, k := range plan.Placements[0].Kernels {
				got = append(got, k.AgentID)
			}
			require.Equal(t, tc.want, got)
		})
	}
}
