// Command hangar-agent is Hangar's agent: one per compute node, it serves the manager's RPC,
// runs kernels through a runtime driver and reports heartbeats to the manager's Redis.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/hangar-run/hangar/internal/agent"
	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/metricsserver"
	"github.com/hangar-run/hangar/jobs"
)

// options are the command's flags.
type options struct {
	ConfigPath  string
	Simulate    int
	Runtime     string
	Debug       bool
	MetricsAddr string
	// InsecureNoSandbox runs process-runtime kernels unsandboxed.
	InsecureNoSandbox bool
	// WarmInterpreters, when not negative, overrides sandbox.warm-interpreters.
	WarmInterpreters int
}

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "hangar-agent:", err)
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:           "hangar-agent",
		Short:         "Run a Hangar agent: the manager's RPC server on a compute node, with heartbeats",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return run(ctx, o)
		},
	}
	cmd.Flags().StringVarP(&o.ConfigPath, "config", "f", "", "path to agent.toml (default: ./agent.toml, ~/.config/backend.ai/agent.toml, /etc/backend.ai/agent.toml)")
	cmd.Flags().IntVar(&o.Simulate, "simulate", 0, "run N simulated agents with the dummy runtime in this process (ids <id>-sim-<k>, consecutive ports)")
	cmd.Flags().StringVar(&o.Runtime, "runtime", "", "runtime driver: process or dummy (default: agent.runtime of the configuration)")
	cmd.Flags().BoolVar(&o.Debug, "debug", false, "debug logging")
	cmd.Flags().StringVar(&o.MetricsAddr, "metrics-addr", "127.0.0.1:9102", "serve Prometheus metrics at http://<addr>/metrics (empty disables)")
	cmd.Flags().BoolVar(&o.InsecureNoSandbox, "insecure-no-sandbox", false, "run process-runtime kernels WITHOUT a sandbox, as the agent's own user with all its access to this host (only for trusted code; by default each kernel runs in a bubblewrap sandbox of its own)")
	cmd.Flags().IntVar(&o.WarmInterpreters, "warm-interpreters", -1, "started, sandboxed Python interpreters kept ready per interpreter for new kernels, 0 none (default: sandbox.warm-interpreters of the configuration, else 2)")
	return cmd
}

func run(ctx context.Context, o options) error {
	level := slog.LevelInfo
	if o.Debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg, err := agent.Load(o.ConfigPath)
	if err != nil {
		return err
	}
	if cfg.Path != "" {
		logger.Info("configuration loaded", "path", cfg.Path)
	}
	switch o.Runtime {
	case "":
	case agent.RuntimeProcess, agent.RuntimeDummy:
		cfg.Agent.Runtime = o.Runtime
	default:
		return fmt.Errorf("--runtime %q is not one of %s, %s", o.Runtime, agent.RuntimeProcess, agent.RuntimeDummy)
	}

	if o.WarmInterpreters >= 0 {
		cfg.Sandbox.WarmInterpreters = &o.WarmInterpreters
	}

	redisTLS, err := cfg.Redis.Config("redis")
	if err != nil {
		return err
	}
	client := asynq.NewClient(asynq.RedisClientOpt{
		Addr: cfg.Redis.Addr.String(), Username: cfg.Redis.Username, Password: cfg.Redis.Password, TLSConfig: redisTLS,
	})
	defer client.Close()
	if err := client.Ping(); err != nil {
		// Refused credentials are fatal: retrying cannot help.
		var unreachable *config.UnreachableError
		if cerr := config.RedisError(cfg.Redis.Addr.String(), err); !errors.As(cerr, &unreachable) {
			return cerr
		}
		// Not fatal: heartbeats are retried every interval until Redis answers.
		logger.Warn("manager Redis does not answer yet; heartbeats will be retried", "addr", cfg.Redis.Addr.String(), "err", err)
	}
	enq := jobs.NewEnqueuer(client, cfg.Redis.QueuePrefix)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts := agent.Options{Logger: logger, Metrics: reg}
	if o.MetricsAddr != "" {
		stop, err := metricsserver.Serve(o.MetricsAddr, reg, logger)
		if err != nil {
			return err
		}
		defer stop()
	}

	if o.Simulate > 0 {
		sim, err := agent.Simulate(cfg, o.Simulate, enq, opts)
		if err != nil {
			return err
		}
		logger.Info("simulating agents", "count", o.Simulate)
		return sim.Run(ctx)
	}
	if o.Simulate < 0 {
		return errors.New("--simulate must not be negative")
	}

	if o.InsecureNoSandbox && cfg.Agent.Runtime == agent.RuntimeProcess {
		cfg.Sandbox.Insecure = true
		logger.Warn("INSECURE: --insecure-no-sandbox: kernels run UNSANDBOXED as the agent's own user; any user's code " +
			"can read and change this host, other kernels and the agent's credentials")
	}
	rt, err := agent.NewRuntime(cfg)
	if err != nil {
		return err
	}
	defer rt.Close()
	if pr, ok := rt.(*agent.ProcessRuntime); ok {
		pr.SetLogger(logger)
		for _, id := range pr.Reaped() {
			logger.Warn("ended a kernel an earlier agent process left running", "kernel", id)
		}
	}
	a, err := agent.New(cfg, rt, enq, opts)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
