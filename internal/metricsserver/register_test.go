package metricsserver_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/metricsserver"
)

func TestRegisterSharesEqualCollectors(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "hangar_test_total", Help: "A test counter."}
	first, err := metricsserver.Register(reg, prometheus.NewCounterVec(opts, []string{"kind"}))
	require.NoError(t, err)
	second, err := metricsserver.Register(reg, prometheus.NewCounterVec(opts, []string{"kind"}))
	require.NoError(t, err)
	require.Same(t, first, second, "the second registration returns the collector already registered")

	// The same name with another shape is a programming error, reported.
	_, err = metricsserver.Register(reg, prometheus.NewCounterVec(opts, []string{"other"}))
	require.Error(t, err)
	_, err = metricsserver.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "hangar_test_total", Help: "A test counter."}))
	require.Error(t, err)
}
