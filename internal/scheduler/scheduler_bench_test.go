package scheduler_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hangar-run/hangar/internal/scheduler"
)

// benchSnapshot builds the placement benchmark: agents × (32 CPU, 128 GiB) and 32 sessions
// of (1 CPU, 4 GiB) per agent from 100 access keys with unlimited policies, so every session
// fits exactly.
func benchSnapshot(algo scheduler.Algorithm, strategy scheduler.Strategy, agents int) *scheduler.Snapshot {
	const gib = int64(1) << 30
	base := time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC)
	s := &scheduler.Snapshot{
		ScalingGroup: scheduler.ScalingGroup{Name: "default", Scheduler: algo, AgentSelectionStrategy: strategy},
		Now:          base.Add(time.Hour),
		SlotNames:    []string{"cpu", "mem"},
		SlotTypes:    map[string]string{"cpu": scheduler.SlotTypeCount, "mem": scheduler.SlotTypeBytes},
		SlotPriority: scheduler.DefaultSlotPriority(),
		Usage:        scheduler.Usage{Keypairs: map[string]scheduler.KeypairUsage{}},
		Limits: scheduler.Limits{
			Keypairs: map[string]scheduler.KeypairPolicy{},
			Users:    map[string][]int64{},
		},
	}
	for i := range agents {
		s.Agents = append(s.Agents, scheduler.Agent{
			ID: fmt.Sprintf("i-agent-%05d", i), Architecture: "x86_64",
			Capacity: []int64{32 * scheduler.MilliPerUnit, 128 * gib}, Schedulable: true,
		})
	}
	const keys = 100
	sessions := agents * 32
	for k := range keys {
		ak := fmt.Sprintf("AKIABENCH%05d", k)
		s.Limits.Keypairs[ak] = scheduler.KeypairPolicy{}
		s.Limits.Users[fmt.Sprintf("user-%05d", k)] = nil
		s.Usage.Keypairs[ak] = scheduler.KeypairUsage{PendingCount: sessions / keys}
	}
	req := []int64{1 * scheduler.MilliPerUnit, 4 * gib}
	for i := range sessions {
		k := i % keys
		s.Pending = append(s.Pending, scheduler.Session{
			ID:          fmt.Sprintf("sess-%06d", i),
			AccessKey:   fmt.Sprintf("AKIABENCH%05d", k),
			UserUUID:    fmt.Sprintf("user-%05d", k),
			ProjectID:   "project",
			Domain:      "default",
			Type:        scheduler.SessionInteractive,
			ClusterMode: scheduler.SingleNode,
			Kernels:     []scheduler.Kernel{{ID: fmt.Sprintf("kern-%06d", i), Requested: req, Architecture: "x86_64"}},
			Requested:   req,
			CreatedAt:   base.Add(time.Duration(i) * time.Millisecond),
		})
	}
	return s
}

// BenchmarkPlacement places 32,000 single-kernel sessions on 1,000 agents per iteration and
// reports placements per second.
func BenchmarkPlacement(b *testing.B) {
	for _, algo := range []scheduler.Algorithm{scheduler.FIFO, scheduler.DRF} {
		for _, strategy := range []scheduler.Strategy{scheduler.Dispersed, scheduler.Concentrated} {
			b.Run(fmt.Sprintf("%s/%s", algo, strategy), func(b *testing.B) {
				s := benchSnapshot(algo, strategy, 1000)
				placed := 0
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					plan, err := scheduler.Schedule(s)
					if err != nil {
						b.Fatal(err)
					}
					if len(plan.Placements) != len(s.Pending) {
						b.Fatalf("placed %d of %d sessions", len(plan.Placements), len(s.Pending))
					}
					placed += len(plan.Placements)
				}
				b.ReportMetric(float64(placed)/b.Elapsed().Seconds(), "placements/s")
			})
		}
	}
}

// BenchmarkOverloaded offers twice the sessions that fit: the second half finds no agent, so
// each of them pays for the metrics over every agent. It reports sessions considered per
// second.
func BenchmarkOverloaded(b *testing.B) {
	s := benchSnapshot(scheduler.FIFO, scheduler.Dispersed, 1000)
	more := benchSnapshot(scheduler.FIFO, scheduler.Dispersed, 1000).Pending
	for i := range more {
		more[i].ID += "-more"
		more[i].CreatedAt = more[i].CreatedAt.Add(time.Hour)
	}
	s.Pending = append(s.Pending, more...)
	considered := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		plan, err := scheduler.Schedule(s)
		if err != nil {
			b.Fatal(err)
		}
		if len(plan.Placements) != len(s.Pending)/2 || len(plan.Skipped) != len(s.Pending)/2 {
			b.Fatalf("placed %d, skipped %d of %d sessions", len(plan.Placements), len(plan.Skipped), len(s.Pending))
		}
		considered += len(s.Pending)
	}
	b.ReportMetric(float64(considered)/b.Elapsed().Seconds(), "sessions/s")
}
