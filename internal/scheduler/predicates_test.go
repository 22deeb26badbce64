package scheduler_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/scheduler"
)

// allPredicates are the predicate names in evaluation order.
func allPredicates() []string {
	return []string{
		scheduler.PredicateReservedTime,
		scheduler.PredicateDependencies,
		scheduler.PredicateConcurrency,
		scheduler.PredicatePendingSessionResourceLimit,
		scheduler.PredicatePendingSessionCountLimit,
		scheduler.PredicateKeypairResourceLimit,
		scheduler.PredicateUserResourceLimit,
		scheduler.PredicateUserGroupResourceLimit,
		scheduler.PredicateDomainResourceLimit,
		scheduler.PredicateAllowedSessionTypes,
		scheduler.PredicateArchitecture,
	}
}

// TestPredicateFailures makes the oldest session fail one predicate and checks the recorded
// reason, while the sessions after it (another key, user, project and domain) still get
// placed: no head-of-line blocking.
func TestPredicateFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		predicate string
		msg       string
		setup     func(s *scheduler.Snapshot, bad *scheduler.Session)
	}{
		{
			name: "start time in the future", predicate: scheduler.PredicateReservedTime, msg: "Before start time",
			setup: func(s *scheduler.Snapshot, bad *scheduler.Session) {
				bad.Type = scheduler.SessionBatch
				bad.StartsAt = ptr(s.Now.Add(time.Minute))
			},
		},
		{
			name: "dependency still running", predicate: scheduler.PredicateDependencies,
			msg: "Waiting for dependency sessions to finish as success: prep (dep-1): RUNNING/UNDEFINED",
			setup: func(_ *scheduler.Snapshot, bad *scheduler.Session) {
				bad.Dependencies = []scheduler.DependencyState{{ID: "dep-1", Name: "prep", Status: "RUNNING", Result: "UNDEFINED"}}
			},
		},
		{
			name: "dependency failed", predicate: scheduler.PredicateDependencies,
			msg: "Waiting for dependency sessions to finish as success: dep-2: TERMINATED/FAILURE",
			setup: func(_ *scheduler.Snapshot, bad *scheduler.Session) {
				bad.Dependencies = []scheduler.DependencyState{
					{ID: "dep-1", Status: "TERMINATED", Result: "SUCCESS"},
					{ID: "dep-2", Status: "TERMINATED", Result: "FAILURE"},
				}
			},
		},
		{
			name: "concurrency limit reached", predicate: scheduler.PredicateConcurrency,
			msg: "You cannot run more than 2 concurrent sessions",
			setup: func(s *scheduler.Snapshot, bad *scheduler.Session) {
				s.Limits.Keypairs[bad.AccessKey] = scheduler.KeypairPolicy{MaxConcurrentSessions: 2}
				s.Usage.Keypairs[bad.AccessKey] = scheduler.KeypairUsage{ConcurrencyUsed: 2, PendingCount: 1}
			},
		},
		{
			name: "pending resource limit exceeded in one slot", predicate: scheduler.PredicatePendingSessionResourceLimit,
			msg: "Your pending session quota is exceeded (pending: cpu=3 mem=8g cuda.shares=0; limit: cpu=2 mem=8g cuda.shares=0)",
			setup: func(s *scheduler.Snapshot, bad *scheduler.Session) {
				s.Limits.Keypairs[bad.AccessKey] = scheduler.KeypairPolicy{MaxPendingSessionResourceSlots: vec(2, 8, 0)}
				s.Usage.Keypairs[bad.AccessKey] = scheduler.KeypairUsage{PendingSlots: vec(3, 8, 0), PendingCount: 2}
			},
		},
		{
			name: "pending count limit exceeded", predicate: scheduler.PredicatePendingSessionCountLimit,
			msg: "You cannot create more than 3 pending session(s)",
			setup: func(s *scheduler.Snapshot, bad *scheduler.Session) {
				s.Limits.Keypairs[bad.AccessKey] = scheduler.KeypairPolicy{MaxPendingSessionCount: ptr(3)}
				s.Usage.Keypairs[bad.AccessKey] = scheduler.KeypairUsage{PendingCount: 4}
			},
		},
		{
			name: "keypair quota", predicate: scheduler.PredicateKeypairResourceLimit,
			msg: "Your keypair resource quota is exceeded (cpu: 3 occupied + 2 requested > 4)",
			setup: func(s *scheduler.Snapshot, bad *scheduler.Session) {
				s.Limits.Keypairs[bad.AccessKey] = scheduler.KeypairPolicy{TotalSlots: vec(4, 100, 0)}
				s.Usage.Keypairs[bad.AccessKey] = scheduler.KeypairUsage{Occupied: vec(3, 0, 0), PendingCount: 1}
			},
		},
		{
			name: "user without main access key", predicate: scheduler.PredicateUserResourceLimit,
			msg: "The user has no main access key to take a resource policy from",
			setup: func(s *scheduler.Snapshot, bad *scheduler.Session) {
				delete(s.Limits.Users, bad.UserUUID)
			},
		},
		{
			name: "user quota", predicate: scheduler.PredicateUserResourceLimit,
			msg: "Your user resource quota is exceeded (mem: 30g occupied + 4g requested > 32g)",
			setup: func(s *scheduler.Snapshot, bad *scheduler.Session) {
				s.Limits.Users[bad.UserUUID] = []int64{scheduler.Unlimited, 32 * gib, scheduler.Unlimited}
				s.Usage.Users = map[string][]int64{bad.UserUUID: vec(0, 30, 0)}
			},
		},
		{
			name: "project quota", predicate: scheduler.PredicateUserGroupResourceLimit,
			msg: "Your project resource quota is exceeded (cpu: 1 occupied + 2 requested > 2)",
			setup: func(s *scheduler.Snapshot, bad *scheduler.Session) {
				s.Limits.Projects = map[string][]int64{bad.ProjectID: {2 * scheduler.MilliPerUnit, scheduler.Unlimited, scheduler.Unlimited}}
				s.Usage.Projects = map[string][]int64{bad.ProjectID: vec(1, 0, 0)}
			},
		},
		{
			name: "domain quota", predicate: scheduler.PredicateDomainResourceLimit,
			msg: "Your domain resource quota is exceeded (cuda.shares: 0 occupied + 0.5 requested > 0)",
			setup: func(s *scheduler.Snapshot, bad *scheduler.Session) {
				bad.Kernels[0].Requested = vec(2, 4, 0.5)
				s.Limits.Domains = map[string][]int64{bad.Domain: {scheduler.Unlimited, scheduler.Unlimited, 0}}
			},
		},
		{
			name: "scaling group does not allow batch", predicate: scheduler.PredicateAllowedSessionTypes,
			msg: "The scaling group default does not allow batch sessions (allowed: interactive)",
			setup: func(s *scheduler.Snapshot, bad *scheduler.Session) {
				s.ScalingGroup.AllowedSessionTypes = []string{scheduler.SessionInteractive}
				bad.Type = scheduler.SessionBatch
			},
		},
		{
			name: "inference needs an explicit opt-in", predicate: scheduler.PredicateAllowedSessionTypes,
			msg: "The scaling group default does not allow inference sessions (allowed: interactive, batch)",
			setup: func(_ *scheduler.Snapshot, bad *scheduler.Session) {
				bad.Type = scheduler.SessionInference
			},
		},
		{
			name: "no agent of the architecture", predicate: scheduler.PredicateArchitecture,
			msg: "No agent of the scaling group default has the architecture aarch64",
			setup: func(_ *scheduler.Snapshot, bad *scheduler.Session) {
				bad.Kernels[0].Architecture = "aarch64"
			},
		},
		{
			name: "single-node kernels of two architectures", predicate: scheduler.PredicateArchitecture,
			msg: "The kernels of a single-node session must share one architecture (x86_64, aarch64)",
			setup: func(s *scheduler.Snapshot, bad *scheduler.Session) {
				arm := agent("i-arm", vec(64, 256, 0))
				arm.Architecture = "aarch64"
				s.Agents = append(s.Agents, arm)
				bad.Kernels = append(bad.Kernels, scheduler.Kernel{ID: "bad-k1", Requested: vec(1, 1, 0), Architecture: "aarch64"})
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := snap()
			s.Agents = []scheduler.Agent{agent("i-1", vec(64, 256, 4))}
			bad := session("bad", "AKBAD", 1, vec(2, 4, 0))
			bad.UserUUID, bad.ProjectID, bad.Domain = "u-bad", "p-bad", "d-bad"
			bad.Retries = 4
			add(s, bad, session("good", "AKGOOD", 2, vec(2, 4, 0)))
			tc.setup(s, &s.Pending[0])

			plan := schedule(t, s)
			require.Equal(t, []string{"good"}, placedIDs(plan))
			skip := skipOf(plan, "bad")
			require.NotNil(t, skip)
			require.Equal(t, scheduler.StatusPredicateChecksFailed, skip.Reason)
			require.Equal(t, 5, skip.Retries)
			require.Equal(t, []scheduler.PredicateResult{{Name: tc.predicate, Msg: tc.msg}}, skip.FailedPredicates)
			var passed []string
			for _, name := range allPredicates() {
				if name != tc.predicate {
					passed = append(passed, name)
				}
			}
			require.Equal(t, passed, skip.PassedPredicates)
			require.Empty(t, skip.Msg)
			require.Nil(t, skip.Metrics)
		})
	}
}

func TestPredicatesAllFailuresRecorded(t *testing.T) {
	t.Parallel()
	s := snap()
	s.Agents = []scheduler.Agent{agent("i-1", vec(64, 256, 0))}
	bad := session("bad", "AK1", 1, vec(2, 4, 0))
	bad.Type = scheduler.SessionBatch
	bad.StartsAt = ptr(s.Now.Add(time.Second))
	bad.Dependencies = []scheduler.DependencyState{{ID: "d", Status: "PENDING", Result: "UNDEFINED"}}
	add(s, bad)
	s.Limits.Keypairs["AK1"] = scheduler.KeypairPolicy{TotalSlots: vec(1, 1, 0)}

	plan := schedule(t, s)
	require.Equal(t, []string{
		scheduler.PredicateReservedTime, scheduler.PredicateDependencies, scheduler.PredicateKeypairResourceLimit,
	}, failedNames(&plan.Skipped[0]))
	require.Len(t, plan.Skipped[0].PassedPredicates, len(allPredicates())-3)
}

func TestPredicatesPass(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(s *scheduler.Snapshot, ss *scheduler.Session)
	}{
		{"start time reached", func(s *scheduler.Snapshot, ss *scheduler.Session) {
			ss.Type = scheduler.SessionBatch
			ss.StartsAt = ptr(s.Now)
		}},
		{"dependencies succeeded", func(_ *scheduler.Snapshot, ss *scheduler.Session) {
			ss.Dependencies = []scheduler.DependencyState{
				{ID: "d1", Status: "TERMINATED", Result: "SUCCESS"}, {ID: "d2", Status: "TERMINATED", Result: "SUCCESS"},
			}
		}},
		{"concurrency below the limit", func(s *scheduler.Snapshot, ss *scheduler.Session) {
			s.Limits.Keypairs[ss.AccessKey] = scheduler.KeypairPolicy{MaxConcurrentSessions: 3}
			s.Usage.Keypairs[ss.AccessKey] = scheduler.KeypairUsage{ConcurrencyUsed: 2, PendingCount: 1}
		}},
		{"pending slots exactly at the limit", func(s *scheduler.Snapshot, ss *scheduler.Session) {
			s.Limits.Keypairs[ss.AccessKey] = scheduler.KeypairPolicy{MaxPendingSessionResourceSlots: vec(2, 100, 0)}
			s.Usage.Keypairs[ss.AccessKey] = scheduler.KeypairUsage{PendingSlots: vec(2, 4, 0), PendingCount: 1}
		}},
		{"pending count exactly at the limit", func(s *scheduler.Snapshot, ss *scheduler.Session) {
			s.Limits.Keypairs[ss.AccessKey] = scheduler.KeypairPolicy{MaxPendingSessionCount: ptr(2)}
			s.Usage.Keypairs[ss.AccessKey] = scheduler.KeypairUsage{PendingCount: 2}
		}},
		{"pending count below the limit", func(s *scheduler.Snapshot, ss *scheduler.Session) {
			s.Limits.Keypairs[ss.AccessKey] = scheduler.KeypairPolicy{MaxPendingSessionCount: ptr(2)}
		}},
		{"keypair quota exactly reached", func(s *scheduler.Snapshot, ss *scheduler.Session) {
			s.Limits.Keypairs[ss.AccessKey] = scheduler.KeypairPolicy{TotalSlots: vec(4, 8, 0)}
			s.Usage.Keypairs[ss.AccessKey] = scheduler.KeypairUsage{Occupied: vec(2, 4, 0), PendingCount: 1}
		}},
		{"inference allowed explicitly", func(s *scheduler.Snapshot, ss *scheduler.Session) {
			s.ScalingGroup.AllowedSessionTypes = []string{scheduler.SessionInference}
			ss.Type = scheduler.SessionInference
		}},
		{"kernel without architecture", func(_ *scheduler.Snapshot, ss *scheduler.Session) {
			ss.Kernels[0].Architecture = ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := snap()
			s.Agents = []scheduler.Agent{agent("i-1", vec(64, 256, 0))}
			add(s, session("s1", "AK1", 1, vec(2, 4, 0)))
			tc.setup(s, &s.Pending[0])
			require.Equal(t, []string{"s1"}, placedIDs(schedule(t, s)))
		})
	}
}

// TestLimitsCountEarlierPlacements checks that sessions placed earlier in the same pass count
// against the concurrency and resource limits of the sessions after them.
func TestLimitsCountEarlierPlacements(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		predicate string
		setup     func(s *scheduler.Snapshot)
	}{
		{"concurrency", scheduler.PredicateConcurrency, func(s *scheduler.Snapshot) {
			s.Limits.Keypairs["AK1"] = scheduler.KeypairPolicy{MaxConcurrentSessions: 3}
			s.Usage.Keypairs["AK1"] = scheduler.KeypairUsage{ConcurrencyUsed: 1, PendingCount: 4}
		}},
		{"keypair", scheduler.PredicateKeypairResourceLimit, func(s *scheduler.Snapshot) {
			s.Limits.Keypairs["AK1"] = scheduler.KeypairPolicy{TotalSlots: vec(5, 100, 0)}
		}},
		{"user", scheduler.PredicateUserResourceLimit, func(s *scheduler.Snapshot) {
			s.Limits.Users["u-AK1"] = vec(5, 100, 0)
			s.Usage.Users = map[string][]int64{"u-AK1": vec(1, 0, 0)}
		}},
		{"project", scheduler.PredicateUserGroupResourceLimit, func(s *scheduler.Snapshot) {
			s.Limits.Projects = map[string][]int64{"p": vec(4, 100, 0)}
		}},
		{"domain", scheduler.PredicateDomainResourceLimit, func(s *scheduler.Snapshot) {
			s.Limits.Domains = map[string][]int64{"d": vec(5, 100, 0)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := snap()
			s.Agents = []scheduler.Agent{agent("i-1", vec(64, 256, 0))}
			for i, id := range []string{"s1", "s2", "s3", "s4"} {
				add(s, session(id, "AK1", i, vec(2, 4, 0)))
			}
			tc.setup(s)
			plan := schedule(t, s)
			require.Equal(t, []string{"s1", "s2"}, placedIDs(plan))
			for _, id := range []string{"s3", "s4"} {
				require.Equal(t, []string{tc.predicate}, failedNames(skipOf(plan, id)), id)
			}
		})
	}
}

// TestPendingCountAfterTimeouts checks that sessions cancelled for their pending timeout no
// longer count as pending, and that the count includes the session being checked.
func TestPendingCountAfterTimeouts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		limit  int
		placed []string
	}{
		// s0 is cancelled first, so s1 sees 3 pending sessions (itself, s2, s3) ≤ 3; each
		// placement leaves one fewer pending.
		{limit: 3, placed: []string{"s1", "s2", "s3"}},
		// 3 > 2: s1 fails, and so would every session until the count drops to the limit.
		{limit: 2, placed: []string{}},
	} {
		s := snap()
		s.ScalingGroup.PendingTimeout = 30 * time.Minute
		s.Agents = []scheduler.Agent{agent("i-1", vec(64, 256, 0))}
		add(s, session("s0", "AK1", 0, vec(1, 1, 0)), session("s1", "AK1", 40, vec(1, 1, 0)),
			session("s2", "AK1", 41, vec(1, 1, 0)), session("s3", "AK1", 42, vec(1, 1, 0)))
		s.Limits.Keypairs["AK1"] = scheduler.KeypairPolicy{MaxPendingSessionCount: ptr(tc.limit)}
		plan := schedule(t, s)
		require.Equal(t, []scheduler.Cancel{{SessionID: "s0", Reason: scheduler.StatusPendingTimeout}}, plan.Cancelled)
		require.Equal(t, tc.placed, placedIDs(plan), "limit %d", tc.limit)
	}
}

func TestPolicyDefaultForUnspecified(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		unlimited bool
		placed    bool
	}{
		{"limited: unnamed slots are 0", false, false},
		{"unlimited: unnamed slots have no limit", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := snap()
			s.Agents = []scheduler.Agent{agent("i-1", vec(64, 256, 0))}
			add(s, session("s1", "AK1", 1, vec(2, 4, 0)))
			total, err := scheduler.PolicySlots(s.SlotNames, s.SlotTypes, map[string]string{"cpu": "4"}, tc.unlimited)
			require.NoError(t, err)
			s.Limits.Keypairs["AK1"] = scheduler.KeypairPolicy{TotalSlots: total}
			plan := schedule(t, s)
			if tc.placed {
				require.Equal(t, []string{"s1"}, placedIDs(plan))
				return
			}
			require.Equal(t, []string{scheduler.PredicateKeypairResourceLimit}, failedNames(skipOf(plan, "s1")))
			require.Contains(t, plan.Skipped[0].FailedPredicates[0].Msg, "mem: 0 occupied + 4g requested > 0")
		})
	}
}

func TestPrivateSessions(t *testing.T) {
	t.Parallel()
	s := snap()
	s.Agents = []scheduler.Agent{agent("i-1", vec(64, 256, 0))}
	sftp := session("sftp", "AK1", 1, vec(1, 1, 0))
	sftp.Private = true
	sftp2 := session("sftp2", "AK1", 2, vec(1, 1, 0))
	sftp2.Private = true
	add(s, sftp, sftp2, session("user", "AK1", 3, vec(1, 1, 0)))
	// The keypair quota is used up, which private sessions skip; one SFTP session may run.
	s.Limits.Keypairs["AK1"] = scheduler.KeypairPolicy{
		TotalSlots: vec(0, 0, 0), MaxConcurrentSessions: 1, MaxConcurrentSFTPSessions: 1,
	}
	plan := schedule(t, s)
	require.Equal(t, []string{"sftp"}, placedIDs(plan))
	// The second SFTP session fails concurrency and is cancelled at once.
	require.Len(t, plan.Cancelled, 1)
	c := plan.Cancelled[0]
	require.Equal(t, "sftp2", c.SessionID)
	require.Equal(t, scheduler.StatusPendingTimeout, c.Reason)
	require.Equal(t, []scheduler.PredicateResult{{
		Name: scheduler.PredicateConcurrency, Msg: "You cannot run more than 1 concurrent SFTP sessions",
	}}, c.Attempt.FailedPredicates)
	require.Equal(t, []string{
		scheduler.PredicateReservedTime, scheduler.PredicateDependencies,
		scheduler.PredicateAllowedSessionTypes, scheduler.PredicateArchitecture,
	}, c.Attempt.PassedPredicates)
	// The normal session is held by the keypair quota; the SFTP one did not take its slot.
	require.Equal(t, []string{scheduler.PredicateKeypairResourceLimit}, failedNames(skipOf(plan, "user")))
}
