package worker

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/jobs"
)

// TestPeriodicTurnedOff checks that a Disableable job whose interval key says 0 is not
// enqueued (and that its zero period does not reach the slot arithmetic).
func TestPeriodicTurnedOff(t *testing.T) {
	t.Parallel()
	m, err := newMetrics(prometheus.NewRegistry())
	require.NoError(t, err)
	job := jobs.Periodic{
		Name: "test:off", Every: time.Hour, IntervalKey: "config/test/interval", Disableable: true,
		Task: func(time.Time) (*asynq.Task, error) {
			t.Error("a job turned off was enqueued")
			return nil, nil
		},
	}
	p := newPeriodicEnqueuer([]jobs.Periodic{job}, nil, slog.New(slog.DiscardHandler), m,
		func(string, time.Duration) time.Duration { return 0 })
	p.fire(context.Background(), time.Unix(1700000000, 0))
	require.Empty(t, p.last)
}
