package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/api"
	"github.com/hangar-run/hangar/functions/dashboard"
	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/cache"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/metricsserver"
	"github.com/hangar-run/hangar/jobs"
)

func init() {
	var listen, metricsAddr string
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Run the API server (Backend.AI's `mgr start-server`)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return stoppedBySignal(ctx, runAPI(ctx, listen, metricsAddr))
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "listen address (default: manager.service-addr, 0.0.0.0:8081)")
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", "127.0.0.1:9100", "serve Prometheus metrics at http://<addr>/metrics (empty disables)")
	rootCmd.AddCommand(cmd)
}

func runAPI(ctx context.Context, listen, metricsAddr string) error {
	e, err := loadEnv()
	if err != nil {
		return err
	}
	svc, err := e.openServices(ctx)
	if err != nil {
		return err
	}
	defer svc.close()

	if listen == "" {
		listen = e.cfg.ServiceAddr()
	}
	// Enqueues wait at most about a second for a Redis that does not answer.
	aqOpt := asynqRedisOpt(svc.redis)
	aqOpt.DialTimeout, aqOpt.ReadTimeout, aqOpt.WriteTimeout = time.Second, time.Second, time.Second
	aq := asynq.NewClient(aqOpt)
	defer func() { _ = aq.Close() }()
	hub, err := events.NewHub(ctx, svc.redis, e.cfg.Redis.QueuePrefix, e.logger)
	if err != nil {
		return fmt.Errorf("subscribe to lifecycle events: %w", err)
	}
	defer func() { _ = hub.Close() }()
	agents := agentrpc.NewPool(agentrpc.ClientOptions{Logger: e.logger})
	defer func() { _ = agents.Close() }()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if metricsAddr != "" {
		stopMetrics, err := metricsserver.Serve(metricsAddr, reg, e.logger)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	proxies, err := e.cfg.TrustedProxyPrefixes()
	if err != nil {
		return err
	}
	// Lookups that rarely change are cached in the process, kept in step by notifications.
	lookups := cache.New(cache.Options{})
	go cache.Listen(ctx, lookups, svc.pool, e.logger)
	deps := &functions.Deps{
		Cache:            lookups,
		TrustedProxies:   proxies,
		Pool:             svc.pool,
		Redis:            svc.redis,
		Shared:           svc.shared,
		Etcd:             svc.etcd,
		Logger:           e.logger,
		ManagerID:        e.cfg.Manager.ID,
		ServiceAddr:      listen,
		HeartbeatTimeout: e.cfg.Manager.HeartbeatTimeout,
		HideAgents:       e.cfg.Manager.HideAgents,
		Enqueuer:         jobs.NewEnqueuer(aq, e.cfg.Redis.QueuePrefix),
		RedisPrefix:      e.cfg.Redis.QueuePrefix,
		Events:           hub,
		Agents:           agents,
		Metrics:          reg,
	}
	server := api.New(deps)
	dash, err := dashboard.Mount(ctx, server, dashboard.Options{
		RedisOpt: asynqRedisOpt(svc.redis),
	})
	if err != nil {
		return err
	}
	defer func() { _ = dash.Close() }()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	srv := &http.Server{Handler: server.Handler()}
	functions.ConfigureHTTPServer(srv) // slow headers, idle keep-alives; bodies: the handler
	// Open execute WebSockets and event streams end (server-restarting, stream closed) when the
	// server shuts down, instead of holding Shutdown until its timeout.
	srv.RegisterOnShutdown(server.Shutdown)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	e.logger.Info("API listening", "addr", ln.Addr().String(), "etcd_namespace", e.cfg.Etcd.Namespace,
		"job_dashboard", "http://"+ln.Addr().String()+dashboard.RootPath+"/")
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	e.logger.Info("API shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
