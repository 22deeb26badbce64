package config

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// waitLeader waits until l reports the wanted leadership on its Changes channel.
func waitLeader(ctx context.Context, t *testing.T, l *Leadership, want bool) {
	t.Helper()
	for l.IsLeader() != want {
		select {
		case _, ok := <-l.Changes():
			require.True(t, ok, "campaign of %s stopped", l.ID())
		case <-ctx.Done():
			t.Fatalf("%s: leadership did not become %v before the deadline", l.ID(), want)
		}
	}
}

func TestLeader(t *testing.T) {
	t.Parallel()

	t.Run("OneLeaderThenHandover", func(t *testing.T) {
		t.Parallel()
		e := testEtcd(t)
		ctx := testCtx(t, 20*time.Second)

		a, err := Campaign(ctx, e, "scheduler", "mgr-a", 5)
		require.NoError(t, err)
		defer a.Close()
		waitLeader(ctx, t, a, true)

		b, err := Campaign(ctx, e, "scheduler", "mgr-b", 5)
		require.NoError(t, err)
		defer b.Close()

		// The election is one key, held by the leader; b waits for it without a key of its own.
		leader, err := a.Leader(ctx)
		require.NoError(t, err)
		require.Equal(t, "mgr-a", leader)
		keys, err := e.GetPrefix(ctx, "nodes/manager-leader/")
		require.NoError(t, err)
		require.Equal(t, map[string]any{"scheduler": "mgr-a"}, keys)
		require.True(t, a.IsLeader())
		require.False(t, b.IsLeader())

		require.NoError(t, a.Resign(ctx))
		require.False(t, a.IsLeader())
		waitLeader(ctx, t, b, true)
		leader, err = b.Leader(ctx)
		require.NoError(t, err)
		require.Equal(t, "mgr-b", leader)

		// a's campaign has stopped: its channel reports the loss and closes.
		var last bool
		for v := range a.Changes() {
			last = v
		}
		require.False(t, last)

		require.NoError(t, b.Close())
		require.False(t, b.IsLeader())
		require.NoError(t, b.Close(), "Close is idempotent")
		leader, err = b.Leader(ctx)
		require.NoError(t, err)
		require.Empty(t, leader)
	})

	t.Run("ElectionsAreIndependent", func(t *testing.T) {
		t.Parallel()
		e := testEtcd(t)
		ctx := testCtx(t, 20*time.Second)
		a, err := Campaign(ctx, e, "one", "mgr-a", 0)
		require.NoError(t, err)
		defer a.Close()
		b, err := Campaign(ctx, e, "two", "mgr-b", 0)
		require.NoError(t, err)
		defer b.Close()
		waitLeader(ctx, t, a, true)
		waitLeader(ctx, t, b, true)
	})

	t.Run("ContextEndStopsCampaign", func(t *testing.T) {
		t.Parallel()
		e := testEtcd(t)
		ctx := testCtx(t, 20*time.Second)
		runCtx, cancel := context.WithCancel(ctx)
		a, err := Campaign(runCtx, e, "ctx", "mgr-a", 5)
		require.NoError(t, err)
		defer a.Close()
		waitLeader(ctx, t, a, true)
		b, err := Campaign(ctx, e, "ctx", "mgr-b", 5)
		require.NoError(t, err)
		defer b.Close()
		cancel()
		waitLeader(ctx, t, b, true)
	})

	t.Run("RejectsEmptyName", func(t *testing.T) {
		t.Parallel()
		e := testEtcd(t)
		_, err := Campaign(t.Context(), e, "/", "x", 0)
		require.Error(t, err)
	})
}

// candidate is a campaign over an etcd client of its own, so that it can be killed: its
// client closes without resigning or revoking, as when its process is killed with SIGKILL,
// and its lease simply stops being kept alive.
type candidate struct {
	l    *Leadership
	e    *Etcd
	dead bool
}

func startCandidate(ctx context.Context, t *testing.T, ns, name, id string, ttl int) *candidate {
	t.Helper()
	e, err := DialEtcd(ctx, DefaultEtcdAddr, ns, "", "")
	require.NoError(t, err)
	l, err := Campaign(ctx, e, name, id, ttl)
	require.NoError(t, err)
	c := &candidate{l: l, e: e}
	t.Cleanup(func() {
		_ = l.Close()
		if !c.dead {
			_ = e.Close()
		}
	})
	return c
}

func (c *candidate) kill() {
	c.dead = true
	_ = c.e.Close()
}

// waitLiveLeader polls until one of the live candidates leads, and returns it; it fails the
// test at deadline.
func waitLiveLeader(t *testing.T, cs []*candidate, deadline time.Time) *candidate {
	t.Helper()
	for {
		for _, c := range cs {
			if !c.dead && c.l.IsLeader() {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no live candidate leads %v after the deadline", time.Since(deadline))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLeaderDeadCandidates kills candidates the way kill -9 does and checks that leadership
// moves to a live candidate within the lease TTL of the leader's death (plus etcd's lease
// expiry granularity of 0.5 s and some slack), whatever number of other candidates died.
func TestLeaderDeadCandidates(t *testing.T) {
	t.Parallel()
	// slack covers etcd's lease expiry check (every 500 ms) and a loaded machine.
	const slack = 1200 * time.Millisecond

	t.Run("DeadWaitersDoNotQueue", func(t *testing.T) {
		t.Parallel()
		const ttl = 5
		e := testEtcd(t)
		ctx := testCtx(t, 40*time.Second)
		var cs []*candidate
		for i := range 5 {
			cs = append(cs, startCandidate(ctx, t, e.Namespace(), "dead", fmt.Sprintf("c%d", i), ttl))
			if i == 0 {
				waitLiveLeader(t, cs, time.Now().Add(10*time.Second))
			}
		}
		leader := waitLiveLeader(t, cs, time.Now().Add(10*time.Second))
		require.Same(t, cs[0], leader)

		// Kill the leader; while its lease still runs (at least two thirds of the TTL),
		// kill three of the four waiting candidates. A campaign that queued candidates'
		// keys would wait for theirs to expire too, a TTL after their death.
		lastLeaderDeath := time.Now()
		cs[0].kill()
		time.Sleep(3 * time.Second)
		for _, c := range cs[1:4] {
			if c.l.IsLeader() {
				lastLeaderDeath = time.Now()
			}
			c.kill()
		}
		got := waitLiveLeader(t, cs, lastLeaderDeath.Add(ttl*time.Second+slack))
		t.Logf("leader gap after kill -9 of the leader and 3 waiting candidates: %v (TTL %ds)",
			time.Since(lastLeaderDeath).Round(10*time.Millisecond), ttl)
		require.Same(t, cs[4], got)
		name, err := got.l.Leader(ctx)
		require.NoError(t, err)
		require.Equal(t, "c4", name)
	})

	t.Run("LeadersKilledRepeatedly", func(t *testing.T) {
		t.Parallel()
		const ttl = 2
		e := testEtcd(t)
		ctx := testCtx(t, 60*time.Second)
		var cs []*candidate
		next := 0
		add := func() {
			cs = append(cs, startCandidate(ctx, t, e.Namespace(), "repeat", fmt.Sprintf("r%d", next), ttl))
			next++
		}
		for range 3 {
			add()
		}
		waitLiveLeader(t, cs, time.Now().Add(10*time.Second))
		var worst time.Duration
		for range 4 {
			// Kill the leader and one waiting candidate, as a crash-looping deployment
			// would, and start a fresh candidate in their place.
			leader := waitLiveLeader(t, cs, time.Now().Add(10*time.Second))
			died := time.Now()
			leader.kill()
			for _, c := range cs {
				if !c.dead {
					c.kill()
					break
				}
			}
			add()
			add()
			waitLiveLeader(t, cs, died.Add(ttl*time.Second+slack))
			worst = max(worst, time.Since(died))
		}
		t.Logf("worst leader gap over 4 leader kills: %v (TTL %ds)", worst.Round(10*time.Millisecond), ttl)
	})
}
