package scheduler_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/scheduler"
)

func TestQueueOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(s *scheduler.Snapshot)
		want  []string
	}{
		{
			name: "fifo oldest first whatever the snapshot order",
			setup: func(s *scheduler.Snapshot) {
				add(s, session("s3", "AK1", 3, vec(1, 1, 0)), session("s1", "AK1", 1, vec(1, 1, 0)),
					session("s2", "AK2", 2, vec(1, 1, 0)))
			},
			want: []string{"s1", "s2", "s3"},
		},
		{
			name: "fifo equal creation times by session id",
			setup: func(s *scheduler.Snapshot) {
				add(s, session("b", "AK1", 1, vec(1, 1, 0)), session("a", "AK1", 1, vec(1, 1, 0)))
			},
			want: []string{"a", "b"},
		},
		{
			name: "fifo num_retries_to_skip puts much-retried sessions last",
			setup: func(s *scheduler.Snapshot) {
				s.ScalingGroup.NumRetriesToSkip = 3
				old := session("s1", "AK1", 1, vec(1, 1, 0))
				old.Retries = 3
				older := session("s0", "AK1", 0, vec(1, 1, 0))
				older.Retries = 5
				fresh := session("s2", "AK1", 2, vec(1, 1, 0))
				fresh.Retries = 2
				add(s, old, older, fresh, session("s3", "AK1", 3, vec(1, 1, 0)))
			},
			want: []string{"s2", "s3", "s0", "s1"},
		},
		{
			name: "fifo without num_retries_to_skip ignores retries",
			setup: func(s *scheduler.Snapshot) {
				old := session("s1", "AK1", 1, vec(1, 1, 0))
				old.Retries = 30
				add(s, old, session("s2", "AK1", 2, vec(1, 1, 0)))
			},
			want: []string{"s1", "s2"},
		},
		{
			name: "lifo newest first",
			setup: func(s *scheduler.Snapshot) {
				s.ScalingGroup.Scheduler = scheduler.LIFO
				add(s, session("s1", "AK1", 1, vec(1, 1, 0)), session("s3", "AK2", 3, vec(1, 1, 0)),
					session("s2", "AK1", 2, vec(1, 1, 0)))
			},
			want: []string{"s3", "s2", "s1"},
		},
		{
			name: "drf serves the key with the smaller dominant share first",
			setup: func(s *scheduler.Snapshot) {
				// Capacity 100 cpu: A holds 10 (share 0.1), B nothing; every session takes 4 cpu.
				s.ScalingGroup.Scheduler = scheduler.DRF
				add(s, session("a1", "AKA", 1, vec(4, 1, 0)), session("a2", "AKA", 2, vec(4, 1, 0)),
					session("b1", "AKB", 3, vec(4, 1, 0)), session("b2", "AKB", 4, vec(4, 1, 0)),
					session("b3", "AKB", 5, vec(4, 1, 0)))
				s.Usage.Keypairs["AKA"] = scheduler.KeypairUsage{GroupOccupied: vec(10, 1, 0), PendingCount: 2}
			},
			// B: 0 → .04 → .08 → .12; A starts at .1 and goes after B's third session.
			want: []string{"b1", "b2", "b3", "a1", "a2"},
		},
		{
			name: "drf alternates keys with equal usage, older head first on ties",
			setup: func(s *scheduler.Snapshot) {
				s.ScalingGroup.Scheduler = scheduler.DRF
				add(s, session("a1", "AKA", 1, vec(4, 1, 0)), session("a2", "AKA", 2, vec(4, 1, 0)),
					session("a3", "AKA", 3, vec(4, 1, 0)), session("b1", "AKB", 4, vec(4, 1, 0)),
					session("b2", "AKB", 5, vec(4, 1, 0)))
			},
			want: []string{"a1", "b1", "a2", "b2", "a3"},
		},
		{
			name: "drf dominant share is the largest over slots",
			setup: func(s *scheduler.Snapshot) {
				// Capacity 100 cpu, 1000 GiB: A holds 1 cpu but 500 GiB (share .5), B 20 cpu (.2).
				s.ScalingGroup.Scheduler = scheduler.DRF
				add(s, session("a1", "AKA", 1, vec(1, 1, 0)), session("b1", "AKB", 2, vec(1, 1, 0)))
				s.Usage.Keypairs["AKA"] = scheduler.KeypairUsage{GroupOccupied: vec(1, 500, 0), PendingCount: 1}
				s.Usage.Keypairs["AKB"] = scheduler.KeypairUsage{GroupOccupied: vec(20, 0, 0), PendingCount: 1}
			},
			want: []string{"b1", "a1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := snap()
			s.Agents = []scheduler.Agent{agent("i-1", vec(100, 1000, 0))}
			tc.setup(s)
			require.Equal(t, tc.want, placedIDs(schedule(t, s)))
		})
	}
}

func TestDRFSharesOnlyCountSchedulableCapacity(t *testing.T) {
	t.Parallel()
	s := snap()
	s.ScalingGroup.Scheduler = scheduler.DRF
	// The unschedulable agent's 900 cpu do not dilute the shares: A's 10 cpu are 10%.
	down := agent("i-0", vec(900, 1000, 0))
	down.Schedulable = false
	s.Agents = []scheduler.Agent{down, agent("i-1", vec(100, 1000, 0))}
	add(s, session("a1", "AKA", 1, vec(4, 1, 0)), session("b1", "AKB", 2, vec(4, 1, 0)),
		session("b2", "AKB", 3, vec(4, 1, 0)), session("b3", "AKB", 4, vec(4, 1, 0)))
	s.Usage.Keypairs["AKA"] = scheduler.KeypairUsage{GroupOccupied: vec(10, 0, 0), PendingCount: 1}
	require.Equal(t, []string{"b1", "b2", "b3", "a1"}, placedIDs(schedule(t, s)))
}
