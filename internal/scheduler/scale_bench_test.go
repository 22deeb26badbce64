package scheduler_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hangar-run/hangar/internal/scheduler"
)

// scaleSnapshot builds a snapshot of agents × (32 CPU, 128 GiB) and sessions pending
// sessions of cpu CPU and 4 GiB each from 1,000 access keys with unlimited policies.
func scaleSnapshot(algo scheduler.Algorithm, agents, sessions int, cpu int64) *scheduler.Snapshot {
	const gib = int64(1) << 30
	const keys = 1000
	base := time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC)
	s := &scheduler.Snapshot{
		ScalingGroup: scheduler.ScalingGroup{Name: "default", Scheduler: algo, AgentSelectionStrategy: scheduler.Dispersed},
		Now:          base.Add(time.Hour),
		SlotNames:    []string{"cpu", "mem"},
		SlotTypes:    map[string]string{"cpu": scheduler.SlotTypeCount, "mem": scheduler.SlotTypeBytes},
		SlotPriority: scheduler.DefaultSlotPriority(),
		Usage:        scheduler.Usage{Keypairs: map[string]scheduler.KeypairUsage{}},
		Limits: scheduler.Limits{
			Keypairs: map[string]scheduler.KeypairPolicy{},
			Users:    map[string][]int64{},
		},
		Agents:  make([]scheduler.Agent, 0, agents),
		Pending: make([]scheduler.Session, 0, sessions),
	}
	for i := range agents {
		s.Agents = append(s.Agents, scheduler.Agent{
			ID: fmt.Sprintf("i-agent-%05d", i), Architecture: "x86_64",
			Capacity: []int64{32 * scheduler.MilliPerUnit, 128 * gib}, Schedulable: true,
		})
	}
	for k := range keys {
		ak := fmt.Sprintf("AKIASCALE%05d", k)
		s.Limits.Keypairs[ak] = scheduler.KeypairPolicy{}
		s.Limits.Users[fmt.Sprintf("user-%05d", k)] = nil
		s.Usage.Keypairs[ak] = scheduler.KeypairUsage{PendingCount: sessions / keys}
	}
	req := []int64{cpu * scheduler.MilliPerUnit, 4 * gib}
	for i := range sessions {
		k := i % keys
		s.Pending = append(s.Pending, scheduler.Session{
			ID:          fmt.Sprintf("sess-%07d", i),
			AccessKey:   fmt.Sprintf("AKIASCALE%05d", k),
			UserUUID:    fmt.Sprintf("user-%05d", k),
			ProjectID:   "project",
			Domain:      "default",
			Type:        scheduler.SessionInteractive,
			ClusterMode: scheduler.SingleNode,
			Kernels:     []scheduler.Kernel{{ID: fmt.Sprintf("kern-%07d", i), Requested: req, Architecture: "x86_64"}},
			Requested:   req,
			CreatedAt:   base.Add(time.Duration(i) * time.Millisecond),
		})
	}
	return s
}

// BenchmarkPassScale runs one planning pass (snapshot in, plan out, no I/O) over 10,000
// agents of (32 CPU, 128 GiB) with 10,000 and 100,000 pending sessions, and reports the time
// (ns/op) and memory (B/op, allocs/op) per pass, and the sessions placed per pass.
//
//   - fits: sessions of 1 CPU, every one is placed;
//   - overloaded: sessions of 16 CPU, so only 20,000 fit and the rest are skipped, each
//     paying for the no-fit metrics over every agent (the most expensive case per session).
func BenchmarkPassScale(b *testing.B) {
	const agents = 10000
	for _, sessions := range []int{10000, 100000} {
		for _, c := range []struct {
			name string
			algo scheduler.Algorithm
			cpu  int64
		}{
			{"fits/fifo", scheduler.FIFO, 1},
			{"fits/drf", scheduler.DRF, 1},
			{"overloaded/fifo", scheduler.FIFO, 16},
		} {
			b.Run(fmt.Sprintf("pending=%d/agents=%d/%s", sessions, agents, c.name), func(b *testing.B) {
				s := scaleSnapshot(c.algo, agents, sessions, c.cpu)
				want := min(sessions, agents*int(32/c.cpu))
				placed := 0
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					plan, err := scheduler.Schedule(s)
					if err != nil {
						b.Fatal(err)
					}
					if len(plan.Placements) != want || len(plan.Placements)+len(plan.Skipped) != sessions {
						b.Fatalf("placed %d, skipped %d of %d sessions; want %d placed",
							len(plan.Placements), len(plan.Skipped), sessions, want)
					}
					placed += len(plan.Placements)
				}
				b.ReportMetric(float64(placed)/float64(b.N), "placed/pass")
			})
		}
	}
}
