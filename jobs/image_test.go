package jobs

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestImageRescanPeriodic(t *testing.T) {
	t.Parallel()
	var p Periodic
	for _, q := range BuiltinPeriodic(PeriodicOpts{LeaderID: "w1"}) {
		if q.Name == TypeImageRescan {
			p = q
		}
	}
	require.Equal(t, DefaultImageRescanEvery, p.Every)
	require.Equal(t, ImageRescanIntervalKey, p.IntervalKey)
	lookup := func(v time.Duration) func(string, time.Duration) time.Duration {
		return func(string, time.Duration) time.Duration { return v }
	}
	require.Equal(t, 10*time.Minute, p.WithInterval(lookup(10*time.Minute)).Every)
	// "0" turns the periodic rescan off.
	require.Zero(t, p.WithInterval(lookup(0)).Every)
	// Jobs that are not Disableable keep their default.
	hb := BuiltinPeriodic(PeriodicOpts{LeaderID: "w1"})[0]
	require.Equal(t, DefaultLeaderHeartbeatEvery, hb.WithInterval(lookup(0)).Every)

	slot := time.Unix(1700002800, 0).UTC()
	task, err := p.Task(slot)
	require.NoError(t, err)
	require.Equal(t, TypeImageRescan, task.Type())
	var payload ImageRescanPayload
	require.NoError(t, json.Unmarshal(task.Payload(), &payload))
	require.Empty(t, payload.Target)
	require.True(t, slot.Equal(*payload.Slot))
	require.Equal(t, QueueLow, DefaultsOf(TypeImageRescan).Queue)
	require.Equal(t, "image:rescan:*", ImageRescanTaskID(""))
	require.Equal(t, "image:rescan:cr.backend.ai", ImageRescanTaskID("cr.backend.ai"))
}
