package schedule

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hangar-run/hangar/internal/metricsserver"
)

// scheduleMetrics are the schedule pass's collectors.
type scheduleMetrics struct {
	duration   *prometheus.HistogramVec
	placements *prometheus.CounterVec
}

// newScheduleMetrics registers the collectors on reg (shared with other handler instances of
// the process); with a nil reg they are kept but not exported.
func newScheduleMetrics(reg prometheus.Registerer) (*scheduleMetrics, error) {
	m := &scheduleMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hangar_schedule_pass_duration_seconds",
			Help:    "Duration of schedule passes (lock, snapshot, plan, apply, commit) by scaling group and result (ok, error).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"scaling_group", "result"}),
		placements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hangar_schedule_placements_total",
			Help: "Sessions placed on agents (PENDING to SCHEDULED) by committed schedule passes, by scaling group.",
		}, []string{"scaling_group"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.duration, err = metricsserver.Register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.placements, err = metricsserver.Register(reg, m.placements); err != nil {
		return nil, err
	}
	return m, nil
}

// observePass records one schedule pass over sg.
func (m *scheduleMetrics) observePass(sg string, took time.Duration, placed int, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.duration.WithLabelValues(sg, result).Observe(took.Seconds())
	if err == nil && placed > 0 {
		m.placements.WithLabelValues(sg).Add(float64(placed))
	}
}
