package jobs

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestIdleCheckPeriodic(t *testing.T) {
	t.Parallel()
	var p Periodic
	for _, q := range BuiltinPeriodic(PeriodicOpts{LeaderID: "w1"}) {
		if q.Name == TypeIdleCheck {
			p = q
		}
	}
	require.Equal(t, DefaultIdleCheckEvery, p.Every)
	require.Equal(t, IdleCheckIntervalKey, p.IntervalKey)
	require.True(t, p.Disableable)
	off := p.WithInterval(func(string, time.Duration) time.Duration { return 0 })
	require.Zero(t, off.Every, "0 turns the idle check off")
	fast := p.WithInterval(func(string, time.Duration) time.Duration { return time.Second })
	require.Equal(t, time.Second, fast.Every)

	slot := time.Unix(1700000010, 0).UTC()
	task, err := p.Task(slot)
	require.NoError(t, err)
	require.Equal(t, TypeIdleCheck, task.Type())
	var payload IdleCheckPayload
	require.NoError(t, json.Unmarshal(task.Payload(), &payload))
	require.True(t, payload.Slot.Equal(slot))
	require.Equal(t, Defaults{Queue: QueueDefault, MaxRetry: PeriodicMaxRetry, Timeout: time.Minute}, DefaultsOf(TypeIdleCheck))
}
