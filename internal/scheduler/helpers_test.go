package scheduler_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/scheduler"
)

const gib = int64(1) << 30

// t0 is the creation time of the first session of a test; Now is an hour later.
var t0 = time.Date(2024, 3, 15, 9, 0, 0, 0, time.UTC) //nolint:gochecknoglobals // test constant

// slotNames are the test snapshot's slots: cpu (count), mem (bytes), cuda.shares (count).
func slotNames() []string { return []string{"cpu", "mem", "cuda.shares"} }

// vec is a request or capacity: cpu and GPU shares in units, memory in GiB.
func vec(cpu float64, memGiB int64, gpu float64) []int64 {
	return []int64{int64(cpu * scheduler.MilliPerUnit), memGiB * gib, int64(gpu * scheduler.MilliPerUnit)}
}

// snap is a test snapshot of the scaling group "default" (FIFO, dispersed) with no agents and
// no sessions.
func snap() *scheduler.Snapshot {
	return &scheduler.Snapshot{
		ScalingGroup: scheduler.ScalingGroup{Name: "default"},
		Now:          t0.Add(time.Hour),
		SlotNames:    slotNames(),
		SlotTypes: map[string]string{
			"cpu": scheduler.SlotTypeCount, "mem": scheduler.SlotTypeBytes, "cuda.shares": scheduler.SlotTypeCount,
		},
		SlotPriority: scheduler.DefaultSlotPriority(),
		Usage:        scheduler.Usage{Keypairs: map[string]scheduler.KeypairUsage{}},
		Limits: scheduler.Limits{
			Keypairs: map[string]scheduler.KeypairPolicy{},
			Users:    map[string][]int64{},
		},
	}
}

// agent is a schedulable x86_64 agent with nothing occupied.
func agent(id string, capacity []int64) scheduler.Agent {
	return scheduler.Agent{ID: id, Architecture: "x86_64", Capacity: capacity, Schedulable: true}
}

// session is a single-kernel interactive x86_64 session of access key ak (user "u-"+ak,
// project "p", domain "d"), created minute minutes after t0.
func session(id, ak string, minute int, req []int64) scheduler.Session {
	return scheduler.Session{
		ID:        id,
		AccessKey: ak,
		UserUUID:  "u-" + ak,
		ProjectID: "p",
		Domain:    "d",
		Type:      scheduler.SessionInteractive,
		Kernels:   []scheduler.Kernel{{ID: id + "-k0", Requested: req, Architecture: "x86_64"}},
		CreatedAt: t0.Add(time.Duration(minute) * time.Minute),
	}
}

// add appends sessions to the snapshot, giving every new access key an unlimited policy and
// its user a main access key without limits, and counting them as pending.
func add(s *scheduler.Snapshot, sessions ...scheduler.Session) {
	for _, ss := range sessions {
		if _, ok := s.Limits.Keypairs[ss.AccessKey]; !ok {
			s.Limits.Keypairs[ss.AccessKey] = scheduler.KeypairPolicy{}
		}
		if _, ok := s.Limits.Users[ss.UserUUID]; !ok {
			s.Limits.Users[ss.UserUUID] = nil
		}
		u := s.Usage.Keypairs[ss.AccessKey]
		u.PendingCount++
		s.Usage.Keypairs[ss.AccessKey] = u
		s.Pending = append(s.Pending, ss)
	}
}

// schedule runs Schedule and requires that every pending session appears exactly once in
// the plan.
func schedule(t *testing.T, s *scheduler.Snapshot) *scheduler.Plan {
	t.Helper()
	plan, err := scheduler.Schedule(s)
	require.NoError(t, err)
	seen := map[string]int{}
	for _, p := range plan.Placements {
		seen[p.SessionID]++
	}
	for _, k := range plan.Skipped {
		seen[k.SessionID]++
	}
	for _, c := range plan.Cancelled {
		seen[c.SessionID]++
	}
	require.Len(t, seen, len(s.Pending))
	for id, n := range seen {
		require.Equal(t, 1, n, "session %s appears %d times in the plan", id, n)
	}
	return plan
}

// placedIDs lists the placed sessions in plan order.
func placedIDs(p *scheduler.Plan) []string {
	ids := []string{}
	for _, pl := range p.Placements {
		ids = append(ids, pl.SessionID)
	}
	return ids
}

// agentOf returns the agent of a placed session's first kernel, or "" when not placed.
func agentOf(p *scheduler.Plan, sessionID string) string {
	for _, pl := range p.Placements {
		if pl.SessionID == sessionID {
			return pl.Kernels[0].AgentID
		}
	}
	return ""
}

// skipOf returns the skip of a session, or nil.
func skipOf(p *scheduler.Plan, sessionID string) *scheduler.Skip {
	for i := range p.Skipped {
		if p.Skipped[i].SessionID == sessionID {
			return &p.Skipped[i]
		}
	}
	return nil
}

// failedNames lists the names of a skip's failed predicates.
func failedNames(k *scheduler.Skip) []string {
	names := []string{}
	for _, f := range k.FailedPredicates {
		names = append(names, f.Name)
	}
	return names
}

func ptr[T any](v T) *T { return &v }
