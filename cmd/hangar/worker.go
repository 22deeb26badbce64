package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/jobkit"
	"github.com/hangar-run/hangar/internal/metricsserver"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
	agentjobs "github.com/hangar-run/hangar/jobs/agent"
	idlejobs "github.com/hangar-run/hangar/jobs/idle"
	imagejobs "github.com/hangar-run/hangar/jobs/image"
	"github.com/hangar-run/hangar/jobs/maintenance"
	schedulejobs "github.com/hangar-run/hangar/jobs/schedule"
	sessionjobs "github.com/hangar-run/hangar/jobs/session"
)

// workerOpts are the flags of `hangar worker`.
type workerOpts struct {
	Concurrency    int
	MetricsAddr    string
	HeartbeatEvery time.Duration
	PollInterval   time.Duration
}

func init() {
	var o workerOpts
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a job worker (the elected leader also enqueues the periodic jobs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return stoppedBySignal(ctx, runWorker(ctx, o))
		},
	}
	cmd.Flags().IntVar(&o.Concurrency, "concurrency", worker.DefaultConcurrency, "number of tasks processed at once")
	cmd.Flags().StringVar(&o.MetricsAddr, "metrics-addr", "127.0.0.1:9101", "serve Prometheus metrics at http://<addr>/metrics (empty disables)")
	cmd.Flags().DurationVar(&o.HeartbeatEvery, "heartbeat-interval", jobs.DefaultLeaderHeartbeatEvery, "period of the leader heartbeat (whole seconds)")
	cmd.Flags().DurationVar(&o.PollInterval, "poll-interval", worker.DefaultTaskCheckInterval, "how often an idle worker polls the queues (latency of a task enqueued while idle)")
	rootCmd.AddCommand(cmd)
}

// registerHandlers registers every job handler package on mux. Each package registers its
// own task types; the ones that call agents share one pool of agent clients, which lives as
// long as the process.
func registerHandlers(mux *asynq.ServeMux, deps *worker.Deps) error {
	rpc := agentrpc.NewPool(agentrpc.ClientOptions{Timeout: jobkit.DefaultRPCTimeout, Logger: deps.Logger})
	for _, register := range []func(*asynq.ServeMux, *worker.Deps) error{
		func(mux *asynq.ServeMux, deps *worker.Deps) error {
			return maintenance.RegisterWith(mux, deps, maintenance.Options{RPC: rpc})
		},
		agentjobs.Register,
		schedulejobs.Register,
		func(mux *asynq.ServeMux, deps *worker.Deps) error {
			h, err := sessionjobs.New(deps, sessionjobs.Options{RPC: rpc})
			if err == nil {
				h.Register(mux)
			}
			return err
		},
		imagejobs.Register,
		idlejobs.Register,
	} {
		if err := register(mux, deps); err != nil {
			return err
		}
	}
	return nil
}

func runWorker(ctx context.Context, o workerOpts) error {
	e, err := loadEnv()
	if err != nil {
		return err
	}
	svc, err := e.openServices(ctx)
	if err != nil {
		return err
	}
	defer svc.close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if o.MetricsAddr != "" {
		stopMetrics, err := metricsserver.Serve(o.MetricsAddr, reg, e.logger)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}

	return worker.Run(ctx, worker.Config{
		RedisOpt:          asynqRedisOpt(svc.redis),
		Etcd:              svc.etcd,
		ID:                fmt.Sprintf("%s-worker-%d", e.cfg.Manager.ID, os.Getpid()),
		Concurrency:       o.Concurrency,
		Logger:            e.logger,
		Registry:          reg,
		Pool:              svc.pool,
		Redis:             svc.redis,
		Handlers:          registerHandlers,
		HeartbeatEvery:    o.HeartbeatEvery,
		TaskCheckInterval: o.PollInterval,
		Shared:            svc.shared,
		HeartbeatTimeout:  time.Duration(e.cfg.Manager.HeartbeatTimeout * float64(time.Second)),
		Intervals:         svc.shared.Duration,
		QueuePrefix:       e.cfg.Redis.QueuePrefix,
	})
}
