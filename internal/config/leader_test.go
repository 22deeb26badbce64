package config

import (
	"context"
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

		// b has registered its candidacy once its key exists; it must still not lead.
		leader, err := a.Leader(ctx)
		require.NoError(t, err)
		require.Equal(t, "mgr-a", leader)
		for {
			resp, err := e.GetPrefix(ctx, "nodes/manager-leader/scheduler")
			require.NoError(t, err)
			if len(resp) == 2 {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatal("second candidate never registered")
			case <-time.After(10 * time.Millisecond):
			}
		}
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
