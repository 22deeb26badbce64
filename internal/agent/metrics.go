package agent

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/metricsserver"
)

// kernelsTimeout bounds the kernel listing of one scrape.
const kernelsTimeout = 2 * time.Second

// agentMetrics are the collectors of the agents of one process (simulated agents share them,
// with their id as label).
type agentMetrics struct {
	rpcCalls          *prometheus.CounterVec
	rpcDuration       *prometheus.HistogramVec
	heartbeatFailures *prometheus.CounterVec
}

func newAgentMetrics(reg prometheus.Registerer) (*agentMetrics, error) {
	m := &agentMetrics{}
	var err error
	if m.rpcCalls, err = metricsserver.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hangar_agent_rpc_calls_total",
		Help: "RPC requests the agent answered, by agent, method and result (ok, or the error kind sent back).",
	}, []string{"agent", "method", "result"})); err != nil {
		return nil, err
	}
	if m.rpcDuration, err = metricsserver.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hangar_agent_rpc_duration_seconds",
		Help:    "Time the agent's handlers took per RPC request, by agent and method.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"agent", "method"})); err != nil {
		return nil, err
	}
	if m.heartbeatFailures, err = metricsserver.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hangar_agent_heartbeat_failures_total",
		Help: "Heartbeats that could not be enqueued into the manager's Redis, by agent.",
	}, []string{"agent"})); err != nil {
		return nil, err
	}
	return m, nil
}

// observeRPC returns the agentrpc.ServerOptions.Observe hook of agent id, calling next too.
func (m *agentMetrics) observeRPC(id string, next func(string, time.Duration, error)) func(string, time.Duration, error) {
	return func(method string, took time.Duration, err error) {
		result := "ok"
		if err != nil {
			result = "error"
			if re, ok := err.(*agentrpc.RemoteError); ok && re.Kind != "" { //nolint:errorlint
				result = string(re.Kind)
			}
		}
		m.rpcCalls.WithLabelValues(id, method, result).Inc()
		m.rpcDuration.WithLabelValues(id, method).Observe(took.Seconds())
		if next != nil {
			next(method, took, err)
		}
	}
}

// registerKernels registers a gauge of a's kernels, listed from its runtime at scrape time.
func registerKernels(reg prometheus.Registerer, a *Agent) error {
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "hangar_agent_kernels",
		Help:        "Kernels the agent's runtime holds, listed at scrape time.",
		ConstLabels: prometheus.Labels{"agent": a.ID()},
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), kernelsTimeout)
		defer cancel()
		ks, err := a.rt.ListKernels(ctx)
		if err != nil {
			return -1
		}
		return float64(len(ks))
	})
	return reg.Register(g)
}
