package maintenance

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a slog handler.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testBundle struct {
	h   *Handlers
	reg *prometheus.Registry
	log *syncBuffer
	now time.Time
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{reg: prometheus.NewRegistry(), log: &syncBuffer{}, now: time.Unix(1700000012, 500_000_000)}
	h, err := New(&worker.Deps{
		Logger:   slog.New(slog.NewTextHandler(b.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registry: b.reg,
		Now:      func() time.Time { return b.now },
	})
	require.NoError(t, err)
	b.h = h
	return b
}

// metric returns the value of the unlabelled counter or gauge name gathered from reg, or
// 0 when it has no value yet.
func metric(t *testing.T, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		require.Len(t, mf.GetMetric(), 1, name)
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	return 0
}

func heartbeat(t *testing.T, leader string, slot int64) *asynq.Task {
	t.Helper()
	task, err := jobs.NewLeaderHeartbeatTask(jobs.LeaderHeartbeatPayload{LeaderID: leader, Slot: time.Unix(slot, 0)})
	require.NoError(t, err)
	return asynq.NewTask(task.Type(), task.Payload())
}

func TestHandleLeaderHeartbeat(t *testing.T) {
	t.Parallel()

	t.Run("CountsLogsAndIsIdempotent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()

		require.NoError(t, b.h.HandleLeaderHeartbeat(ctx, heartbeat(t, "w-a", 1700000010)))
		require.InDelta(t, 1, metric(t, b.reg, "hangar_leader_heartbeats_total"), 0)
		require.InDelta(t, 2.5, metric(t, b.reg, "hangar_leader_heartbeat_lag_seconds"), 1e-9)
		line := b.log.String()
		require.Contains(t, line, `msg="leader heartbeat"`)
		require.Contains(t, line, "leader=w-a")
		require.Contains(t, line, "lag=2.5s")

		// A redelivery of the same slot is not counted again.
		require.NoError(t, b.h.HandleLeaderHeartbeat(ctx, heartbeat(t, "w-a", 1700000010)))
		require.InDelta(t, 1, metric(t, b.reg, "hangar_leader_heartbeats_total"), 0)
		require.Contains(t, b.log.String(), "leader heartbeat already seen")

		b.now = time.Unix(1700000021, 0)
		require.NoError(t, b.h.HandleLeaderHeartbeat(ctx, heartbeat(t, "w-b", 1700000020)))
		require.InDelta(t, 2, metric(t, b.reg, "hangar_leader_heartbeats_total"), 0)
		require.InDelta(t, 1, metric(t, b.reg, "hangar_leader_heartbeat_lag_seconds"), 1e-9)

	})

	t.Run("BadPayloadSkipsRetry", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		err := b.h.HandleLeaderHeartbeat(t.Context(), asynq.NewTask(jobs.TypeLeaderHeartbeat, []byte("nope")))
		require.ErrorIs(t, err, asynq.SkipRetry)
		err = b.h.HandleLeaderHeartbeat(t.Context(), asynq.NewTask(jobs.TypeLeaderHeartbeat, []byte(`{"leader_id":"w"}`)))
		require.ErrorIs(t, err, asynq.SkipRetry)
		require.InDelta(t, 0, metric(t, b.reg, "hangar_leader_heartbeats_total"), 0)
	})

	t.Run("ForgetsOldSlots", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for i := range recentSlots + 1 {
			require.NoError(t, b.h.HandleLeaderHeartbeat(t.Context(), heartbeat(t, "w", int64(i*10))))
		}
		require.InDelta(t, recentSlots+1, metric(t, b.reg, "hangar_leader_heartbeats_total"), 0)
		require.Len(t, b.h.seen, recentSlots)
		// Slot 0 was forgotten, so it counts again; the newest slot is still remembered.
		require.NoError(t, b.h.HandleLeaderHeartbeat(t.Context(), heartbeat(t, "w", 0)))
		require.NoError(t, b.h.HandleLeaderHeartbeat(t.Context(), heartbeat(t, "w", int64(recentSlots*10))))
		require.InDelta(t, recentSlots+2, metric(t, b.reg, "hangar_leader_heartbeats_total"), 0)
	})

	t.Run("SharedRegistry", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// A second Handlers on the same registry shares the collectors.
		mux := asynq.NewServeMux()
		require.NoError(t, Register(mux, &worker.Deps{Registry: b.reg, Now: func() time.Time { return b.now }}))
		require.NoError(t, mux.ProcessTask(t.Context(), heartbeat(t, "w", 1700000010)))
		require.InDelta(t, 1, metric(t, b.reg, "hangar_leader_heartbeats_total"), 0)
	})
}
