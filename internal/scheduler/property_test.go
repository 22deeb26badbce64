package scheduler_test

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/scheduler"
)

// randomSnapshot builds a snapshot from r: agents of two architectures with random capacity,
// occupancy, container limits and schedulability, and sessions of random shapes, owners,
// limits and start times, scheduled with a random algorithm and strategy.
func randomSnapshot(r *rand.Rand) *scheduler.Snapshot {
	s := snap()
	s.ScalingGroup.Scheduler = []scheduler.Algorithm{scheduler.FIFO, scheduler.LIFO, scheduler.DRF}[r.Intn(3)]
	s.ScalingGroup.AgentSelectionStrategy = []scheduler.Strategy{
		scheduler.Dispersed, scheduler.Concentrated, scheduler.Legacy,
	}[r.Intn(3)]
	s.ScalingGroup.RoundRobin = r.Intn(4) == 0
	s.ScalingGroup.NumRetriesToSkip = r.Intn(3)
	s.ScalingGroup.MaxRetries = r.Intn(4)
	s.ScalingGroup.AllowedSessionTypes = []string{scheduler.SessionInteractive, scheduler.SessionBatch, scheduler.SessionInference}
	if r.Intn(3) == 0 {
		s.ScalingGroup.PendingTimeout = time.Duration(30+r.Intn(60)) * time.Minute
	}
	s.RoundRobinIndex = r.Intn(10)
	archs := []string{"x86_64", "aarch64"}
	for i := range 1 + r.Intn(12) {
		capacity := vec(float64(1+r.Intn(16)), int64(1+r.Intn(64)), float64(r.Intn(3))*float64(r.Intn(5)))
		used := make([]int64, len(capacity))
		for j, c := range capacity {
			used[j] = r.Int63n(c + 1)
		}
		a := scheduler.Agent{
			ID: fmt.Sprintf("i-%02d", r.Intn(100)*100+i), Architecture: archs[r.Intn(4)/3],
			Capacity: capacity, Occupied: used, Schedulable: r.Intn(6) != 0,
			ContainerCount: r.Intn(4),
		}
		if r.Intn(3) == 0 {
			a.MaxContainers = a.ContainerCount + r.Intn(4)
		}
		s.Agents = append(s.Agents, a)
	}
	keys := []string{"AK1", "AK2", "AK3"}
	for i := range r.Intn(40) {
		ss := session(fmt.Sprintf("s%03d", i), keys[r.Intn(len(keys))], r.Intn(90), nil)
		ss.ProjectID = fmt.Sprintf("p%d", r.Intn(2))
		ss.Retries = r.Intn(4)
		ss.Type = []string{scheduler.SessionInteractive, scheduler.SessionBatch}[r.Intn(2)]
		if r.Intn(2) == 0 {
			ss.ClusterMode = scheduler.MultiNode
		}
		ss.Kernels = nil
		arch := archs[r.Intn(4)/3]
		for k := range 1 + r.Intn(3) {
			ss.Kernels = append(ss.Kernels, scheduler.Kernel{
				ID:           fmt.Sprintf("%s-k%d", ss.ID, k),
				Requested:    vec(float64(r.Intn(9))/2, int64(r.Intn(16)), float64(r.Intn(3))/2),
				Architecture: arch,
			})
			if len(s.Agents) > 0 && r.Intn(10) == 0 {
				ss.Kernels[k].AgentID = s.Agents[r.Intn(len(s.Agents))].ID
			}
		}
		if r.Intn(8) == 0 {
			ss.StartsAt = ptr(t0.Add(time.Duration(r.Intn(120)) * time.Minute))
		}
		if r.Intn(8) == 0 {
			ss.Dependencies = []scheduler.DependencyState{{ID: "dep", Status: "TERMINATED", Result: []string{"SUCCESS", "FAILURE"}[r.Intn(2)]}}
		}
		add(s, ss)
	}
	for _, ak := range keys {
		policy := scheduler.KeypairPolicy{MaxConcurrentSessions: r.Intn(6)}
		if r.Intn(2) == 0 {
			policy.TotalSlots = vec(float64(r.Intn(40)), int64(r.Intn(200)), float64(r.Intn(4)))
		}
		s.Limits.Keypairs[ak] = policy
	}
	if r.Intn(2) == 0 {
		s.Limits.Projects = map[string][]int64{"p0": vec(float64(r.Intn(40)), 500, 10)}
	}
	return s
}

// TestPlanInvariants checks, over many random snapshots, that no plan over-commits an agent
// or its container limit, that kernels land on agents of their architecture (single-node
// sessions on one agent), that every session is in the plan exactly once, and that Schedule
// leaves the snapshot untouched.
func TestPlanInvariants(t *testing.T) {
	t.Parallel()
	placements := 0
	for seed := range int64(500) {
		s := randomSnapshot(rand.New(rand.NewSource(seed)))
		pristine := randomSnapshot(rand.New(rand.NewSource(seed)))
		plan := schedule(t, s)
		require.Equal(t, pristine, s, "seed %d: Schedule modified the snapshot", seed)

		agents := map[string]*scheduler.Agent{}
		for i := range s.Agents {
			agents[s.Agents[i].ID] = &s.Agents[i]
		}
		sessions := map[string]*scheduler.Session{}
		for i := range s.Pending {
			sessions[s.Pending[i].ID] = &s.Pending[i]
		}
		containers := map[string]int{}
		for _, pl := range plan.Placements {
			placements++
			ss := sessions[pl.SessionID]
			require.Len(t, pl.Kernels, len(ss.Kernels))
			for i, k := range pl.Kernels {
				a := agents[k.AgentID]
				designated := ss.Kernels[i].AgentID
				if ss.ClusterMode != scheduler.MultiNode {
					designated = ss.Kernels[0].AgentID
				}
				if designated != "" {
					require.Equal(t, designated, a.ID)
				} else {
					require.True(t, a.Schedulable, "seed %d: %s on unschedulable %s", seed, pl.SessionID, a.ID)
				}
				require.Equal(t, ss.Kernels[i].ID, k.KernelID)
				require.Equal(t, ss.Kernels[i].Architecture, a.Architecture)
				if ss.ClusterMode != scheduler.MultiNode {
					require.Equal(t, pl.Kernels[0].AgentID, k.AgentID)
				}
				containers[k.AgentID]++
			}
		}
		for id, delta := range plan.AgentDeltas() {
			a := agents[id]
			for j := range delta {
				require.LessOrEqual(t, a.Occupied[j]+delta[j], a.Capacity[j],
					"seed %d: agent %s over-committed in slot %s", seed, id, s.SlotNames[j])
			}
			if a.MaxContainers > 0 {
				require.LessOrEqual(t, a.ContainerCount+containers[id], a.MaxContainers, "seed %d: agent %s", seed, id)
			}
		}
	}
	require.Greater(t, placements, 500, "the random snapshots should place many sessions")
}

// TestDeterminism checks that a snapshot gives the same plan every time, whatever the order
// of its agents and pending sessions.
func TestDeterminism(t *testing.T) {
	t.Parallel()
	for seed := range int64(200) {
		r := rand.New(rand.NewSource(seed))
		s := randomSnapshot(r)
		want := schedule(t, s)
		again := schedule(t, s)
		require.Equal(t, want, again, "seed %d", seed)

		shuffled := randomSnapshot(rand.New(rand.NewSource(seed)))
		r.Shuffle(len(shuffled.Agents), func(i, j int) {
			shuffled.Agents[i], shuffled.Agents[j] = shuffled.Agents[j], shuffled.Agents[i]
		})
		r.Shuffle(len(shuffled.Pending), func(i, j int) {
			shuffled.Pending[i], shuffled.Pending[j] = shuffled.Pending[j], shuffled.Pending[i]
		})
		got := schedule(t, shuffled)
		require.Equal(t, want, got, "seed %d: the plan depends on the snapshot's order", seed)
	}
}

// TestRandomPlansExerciseEveryOutcome guards the random generator: it must produce placed,
// skipped and cancelled sessions of every kind, or the invariants above prove little.
func TestRandomPlansExerciseEveryOutcome(t *testing.T) {
	t.Parallel()
	reasons := map[string]int{}
	multi, designated := 0, 0
	for seed := range int64(500) {
		s := randomSnapshot(rand.New(rand.NewSource(seed)))
		plan := schedule(t, s)
		for _, k := range plan.Skipped {
			reasons[k.Reason]++
		}
		for _, c := range plan.Cancelled {
			reasons["cancel:"+c.Reason]++
		}
		for _, pl := range plan.Placements {
			agents := map[string]bool{}
			for i, k := range pl.Kernels {
				agents[k.AgentID] = true
				if s.Pending[slices.IndexFunc(s.Pending, func(ss scheduler.Session) bool { return ss.ID == pl.SessionID })].Kernels[i].AgentID != "" {
					designated++
				}
			}
			if len(agents) > 1 {
				multi++
			}
		}
	}
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	require.Equal(t, []string{
		"cancel:" + scheduler.StatusNoAvailableInstances,
		"cancel:" + scheduler.StatusPendingTimeout,
		"cancel:" + scheduler.StatusPredicateChecksFailed,
		scheduler.StatusNoAvailableInstances,
		scheduler.StatusPredicateChecksFailed,
	}, keys)
	require.Positive(t, multi, "some multi-node session should span agents")
	require.Positive(t, designated, "some session should be placed on a designated agent")
}

// TestPlacementsMatchBruteForce replays every plan of random snapshots and checks each
// chosen agent against a brute-force choice: among the agents that fit, the one with the
// fewest unneeded slot types (not for DRF), then the best by the strategy on cuda.shares,
// cpu, mem (the default priority), then the smallest ID; for round-robin, the first agent
// that fits from the round-robin position in ID order.
func TestPlacementsMatchBruteForce(t *testing.T) {
	t.Parallel()
	rank := []int{2, 0, 1} // cuda.shares, cpu, mem
	checked := 0
	for seed := range int64(500) {
		s := randomSnapshot(rand.New(rand.NewSource(seed)))
		plan := schedule(t, s)
		n := len(s.SlotNames)
		free := map[string][]int64{}
		containers := map[string]int{}
		var byID []*scheduler.Agent
		for i := range s.Agents {
			a := &s.Agents[i]
			free[a.ID] = make([]int64, n)
			for j := range n {
				free[a.ID][j] = a.Capacity[j] - a.Occupied[j]
			}
			containers[a.ID] = a.ContainerCount
			if a.Schedulable {
				byID = append(byID, a)
			}
		}
		slices.SortFunc(byID, func(x, y *scheduler.Agent) int { return strings.Compare(x.ID, y.ID) })
		sessions := map[string]*scheduler.Session{}
		for i := range s.Pending {
			sessions[s.Pending[i].ID] = &s.Pending[i]
		}
		rrNext := 0
		if len(byID) > 0 {
			rrNext = s.RoundRobinIndex % len(byID)
		}
		fits := func(a *scheduler.Agent, req []int64, arch string, c int) bool {
			if arch != "" && a.Architecture != arch {
				return false
			}
			if a.MaxContainers > 0 && containers[a.ID]+c > a.MaxContainers {
				return false
			}
			for j := range n {
				if free[a.ID][j] < req[j] {
					return false
				}
			}
			return true
		}
		extras := func(a *scheduler.Agent, req []int64) int {
			if s.ScalingGroup.Scheduler == scheduler.DRF {
				return 0
			}
			e := 0
			for j := range n {
				if req[j] == 0 && a.Capacity[j] > 0 {
					e++
				}
			}
			return e
		}
		better := func(a, b *scheduler.Agent, req []int64) bool {
			if ea, eb := extras(a, req), extras(b, req); ea != eb {
				return ea < eb
			}
			for _, j := range rank {
				var x, y int64
				switch s.ScalingGroup.AgentSelectionStrategy {
				case scheduler.Dispersed:
					x, y = -free[a.ID][j], -free[b.ID][j]
				case scheduler.Concentrated:
					x, y = free[a.ID][j], free[b.ID][j]
				case scheduler.Legacy:
					x, y = -a.Capacity[j], -b.Capacity[j]
				}
				if x != y {
					return x < y
				}
			}
			return a.ID < b.ID
		}
		choose := func(req []int64, arch string, c int, designated string) string {
			if designated != "" {
				for i := range s.Agents {
					if a := &s.Agents[i]; a.ID == designated && fits(a, req, arch, c) {
						return a.ID
					}
				}
				return ""
			}
			if s.ScalingGroup.RoundRobin {
				for k := range byID {
					i := (rrNext + k) % len(byID)
					if fits(byID[i], req, arch, c) {
						rrNext = (i + 1) % len(byID)
						return byID[i].ID
					}
				}
				return ""
			}
			var best *scheduler.Agent
			for _, a := range byID {
				if fits(a, req, arch, c) && (best == nil || better(a, best, req)) {
					best = a
				}
			}
			if best == nil {
				return ""
			}
			return best.ID
		}
		take := func(id string, req []int64, c int) {
			for j := range n {
				free[id][j] -= req[j]
			}
			containers[id] += c
		}
		for _, pl := range plan.Placements {
			ss := sessions[pl.SessionID]
			if ss.ClusterMode == scheduler.MultiNode {
				for i, k := range ss.Kernels {
					require.Equal(t, choose(k.Requested, k.Architecture, 1, k.AgentID), pl.Kernels[i].AgentID,
						"seed %d: session %s kernel %d", seed, ss.ID, i)
					take(pl.Kernels[i].AgentID, k.Requested, 1)
				}
			} else {
				total := make([]int64, n)
				for _, k := range ss.Kernels {
					for j := range n {
						total[j] += k.Requested[j]
					}
				}
				require.Equal(t, choose(total, ss.Kernels[0].Architecture, len(ss.Kernels), ss.Kernels[0].AgentID), pl.Kernels[0].AgentID,
					"seed %d: session %s", seed, ss.ID)
				take(pl.Kernels[0].AgentID, total, len(ss.Kernels))
			}
			checked++
		}
		if s.ScalingGroup.RoundRobin {
			require.Equal(t, rrNext, plan.NextRoundRobinIndex, "seed %d", seed)
		}
	}
	require.Greater(t, checked, 500)
}
