package scheduler

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// reasonSnapshot builds a snapshot from r in which many sessions do not fit: few small
// agents (some unschedulable, of two architectures, with container limits), and a queue of
// sessions drawn from a handful of shapes, single- and multi-node, some on designated
// agents, so that skips of one shape alternate with placements that change the agents.
func reasonSnapshot(r *rand.Rand) *Snapshot {
	const gib = int64(1) << 30
	t0 := time.Date(2024, 3, 15, 9, 0, 0, 0, time.UTC)
	s := &Snapshot{
		ScalingGroup: ScalingGroup{
			Name:                   "default",
			Scheduler:              []Algorithm{FIFO, LIFO, DRF}[r.Intn(3)],
			AgentSelectionStrategy: []Strategy{Dispersed, Concentrated, Legacy}[r.Intn(3)],
			RoundRobin:             r.Intn(5) == 0,
		},
		Now:          t0.Add(time.Hour),
		SlotNames:    []string{"cpu", "mem", "cuda.shares"},
		SlotTypes:    map[string]string{"cpu": SlotTypeCount, "mem": SlotTypeBytes, "cuda.shares": SlotTypeCount},
		SlotPriority: DefaultSlotPriority(),
		Usage:        Usage{Keypairs: map[string]KeypairUsage{}},
		Limits:       Limits{Keypairs: map[string]KeypairPolicy{}, Users: map[string][]int64{}},
	}
	archs := []string{"x86_64", "aarch64"}
	for i := range 2 + r.Intn(10) {
		c := []int64{int64(1+r.Intn(8)) * MilliPerUnit, int64(1+r.Intn(16)) * gib, int64(r.Intn(3)) * MilliPerUnit}
		a := Agent{
			ID: fmt.Sprintf("i-%02d", i), Architecture: archs[r.Intn(4)/3], Capacity: c,
			Occupied: make([]int64, 3), Schedulable: r.Intn(5) != 0, ContainerCount: r.Intn(3),
		}
		if r.Intn(3) == 0 {
			a.MaxContainers = a.ContainerCount + 1 + r.Intn(3)
		}
		s.Agents = append(s.Agents, a)
	}
	shapes := make([][]int64, 2+r.Intn(4))
	for i := range shapes {
		shapes[i] = []int64{int64(1+r.Intn(6)) * MilliPerUnit, int64(1+r.Intn(12)) * gib, int64(r.Intn(2)) * MilliPerUnit}
	}
	for i := range 20 + r.Intn(60) {
		ak := fmt.Sprintf("AK%d", r.Intn(3))
		ss := Session{
			ID: fmt.Sprintf("s%03d", i), AccessKey: ak, UserUUID: "u-" + ak, ProjectID: "p", Domain: "d",
			Type: SessionInteractive, ClusterMode: SingleNode, CreatedAt: t0.Add(time.Duration(i) * time.Second),
		}
		if r.Intn(4) == 0 {
			ss.ClusterMode = MultiNode
		}
		arch := archs[r.Intn(4)/3]
		for k := range 1 + r.Intn(3) {
			kr := Kernel{ID: fmt.Sprintf("%s-k%d", ss.ID, k), Requested: shapes[r.Intn(len(shapes))], Architecture: arch}
			if r.Intn(12) == 0 {
				kr.AgentID = s.Agents[r.Intn(len(s.Agents))].ID
			}
			ss.Kernels = append(ss.Kernels, kr)
		}
		s.Limits.Keypairs[ak] = KeypairPolicy{}
		s.Limits.Users[ss.UserUUID] = nil
		u := s.Usage.Keypairs[ak]
		u.PendingCount++
		s.Usage.Keypairs[ak] = u
		s.Pending = append(s.Pending, ss)
	}
	return s
}

// TestMemoizedReasonsMatchFullCounts plans random snapshots twice, once keeping the no-fit
// counts per request shape and once counting every agent for every skip, and requires the
// same plan, skip messages and counts included: the kept counts follow every reservation
// and release (multi-node rollbacks too) exactly.
func TestMemoizedReasonsMatchFullCounts(t *testing.T) {
	t.Parallel()
	skips, repeated := 0, 0
	for seed := range int64(400) {
		s := reasonSnapshot(rand.New(rand.NewSource(seed)))
		want, err := schedule(s, false)
		require.NoError(t, err)
		got, err := schedule(s, true)
		require.NoError(t, err)
		require.Equal(t, want, got, "seed %d", seed)
		seen := map[string]bool{}
		for _, k := range got.Skipped {
			if k.Reason == StatusNoAvailableInstances {
				skips++
				if seen[k.Msg] {
					repeated++
				}
				seen[k.Msg] = true
			}
		}
	}
	// The snapshots must exercise the kept counts: many skips, many of a shape seen before.
	require.Greater(t, skips, 2000)
	require.Greater(t, repeated, 1000)
}

// TestReasonsFollowReservations checks the kept counts directly against a full count after
// each of a random series of reservations and releases, more shapes than are kept included.
func TestReasonsFollowReservations(t *testing.T) {
	t.Parallel()
	for seed := range int64(100) {
		r := rand.New(rand.NewSource(seed))
		s := reasonSnapshot(r)
		p := newPass(s)
		p.reasons = &reasons{}
		held := [][2]int{} // agent, shape
		shapes := [][]int64{}
		for range maxReasons + 8 {
			shapes = append(shapes, []int64{int64(r.Intn(8)) * MilliPerUnit, int64(r.Intn(16)) << 30, int64(r.Intn(3)) * MilliPerUnit})
		}
		for step := range 300 {
			switch a := int32(r.Intn(len(s.Agents))); {
			case r.Intn(3) == 0 && len(held) > 0:
				i := r.Intn(len(held))
				p.release(int32(held[i][0]), shapes[held[i][1]], 1)
				held = append(held[:i], held[i+1:]...)
			case r.Intn(2) == 0:
				sh := r.Intn(len(shapes))
				p.reserve(a, shapes[sh], 1)
				held = append(held, [2]int{int(a), sh})
			}
			sh := shapes[r.Intn(len(shapes))]
			arch := []string{"", "x86_64", "aarch64"}[r.Intn(3)]
			designated := ""
			if r.Intn(5) == 0 {
				designated = s.Agents[r.Intn(len(s.Agents))].ID
			}
			c := 1 + r.Intn(2)
			gotM, gotMsg := p.whyNot("", designated, sh, arch, c)
			wantM := p.metrics(sh, arch, c, designated)
			require.Equal(t, wantM, gotM, "seed %d step %d", seed, step)
			require.Equal(t, p.metricsMessage("", designated, sh, wantM), gotMsg, "seed %d step %d", seed, step)
		}
		require.LessOrEqual(t, len(p.reasons.entries), maxReasons)
	}
}
