package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/jobs"
)

// ElectionName is the etcd election the workers campaign in; its leader enqueues the
// periodic jobs.
const ElectionName = "worker"

// Defaults of Config.
const (
	DefaultConcurrency     = 10
	DefaultShutdownTimeout = 30 * time.Second
	// DefaultTaskCheckInterval is how often an idle worker polls its queues. asynq polls
	// rather than blocks, and its own default (one second, with jitter) would add up to 1.5 s
	// to every hop of a session's path (wake-up → schedule pass → session:start) whenever a
	// worker had gone idle. 20 ms costs an idle worker about 50 Redis scripts a second.
	DefaultTaskCheckInterval = 20 * time.Millisecond
	// DelayedTaskCheckInterval is how often a worker moves the tasks whose retry delay has
	// passed back to their queue. asynq's default (5 s) would add up to 5 s to every retry,
	// which the short retry backoff (jobs.RetryDelay) is meant to avoid.
	DelayedTaskCheckInterval = 100 * time.Millisecond
)

// Config configures Run.
type Config struct {
	// RedisOpt locates the Redis server holding the queues. Required.
	RedisOpt asynq.RedisConnOpt
	// Etcd is the shared configuration store the leader election runs in. Required.
	Etcd *config.Etcd
	// ID names this worker in the election and in logs; "<hostname>-<pid>" when empty.
	ID string
	// Concurrency is the number of tasks processed at once; DefaultConcurrency when zero.
	Concurrency int
	// QueuePrefix is put in front of every queue name (see jobs.Queues); tests set a unique
	// one so they do not share queues.
	QueuePrefix string
	// Logger receives the worker's and asynq's log lines; slog.Default() when nil.
	Logger *slog.Logger
	// Registry receives the worker's and the handlers' metrics; a private registry when nil.
	Registry *prometheus.Registry

	// Pool is the PostgreSQL pool handed to handlers in Deps (may be nil in tests).
	Pool *pgxpool.Pool
	// Redis is a Redis client handed to handlers in Deps, for events and stamps (may be nil).
	Redis redis.UniversalClient
	// Handlers registers the task handlers on mux, each under its exact task type.
	Handlers func(mux *asynq.ServeMux, deps *Deps) error

	// Periodic lists the jobs the leader enqueues. When nil, jobs.BuiltinPeriodic is used
	// with ID as leader id and HeartbeatEvery as the heartbeat period; an empty non-nil
	// slice disables periodic jobs.
	Periodic []jobs.Periodic
	// Intervals, when set, supplies period overrides from shared config (see
	// jobs.Periodic.IntervalKey); *config.Shared's Duration method fits.
	Intervals func(key string, def time.Duration) time.Duration
	// Shared is the shared configuration (etcd under the namespace) handlers read their
	// settings from; nil in tests that need none.
	Shared *config.Shared
	// HeartbeatTimeout is manager.toml's manager.heartbeat-timeout: how long an agent may go
	// without a heartbeat before it counts as LOST (zero: the handlers' default).
	HeartbeatTimeout time.Duration
	// HeartbeatEvery is the leader heartbeat period when Periodic is nil;
	// jobs.DefaultLeaderHeartbeatEvery when zero.
	HeartbeatEvery time.Duration
	// LeaderTTL is the election lease TTL in seconds; config.DefaultLeaderTTL when zero.
	LeaderTTL int
	// OnLeadership, when set, is called (from the worker's loop) each time this worker
	// becomes leader (true) or stops being leader (false), after hangar_leader changed.
	OnLeadership func(leader bool)

	// Now is the clock handed to handlers; time.Now when nil.
	Now func() time.Time
	// Tick, when set, replaces the worker's one-second aligned ticker: every value received
	// is the current time at which the leader checks its periodic jobs. Tests drive it.
	Tick <-chan time.Time

	// ShutdownTimeout bounds how long shutdown waits for tasks in flight;
	// DefaultShutdownTimeout when zero.
	ShutdownTimeout time.Duration
	// TaskCheckInterval is how often an idle worker polls empty queues;
	// DefaultTaskCheckInterval when zero.
	TaskCheckInterval time.Duration
}

// Deps is what task handlers share. Handler packages take what they need from it in their
// Register function; nothing in it is task-scoped.
type Deps struct {
	// Pool is the PostgreSQL pool, the source of truth.
	Pool *pgxpool.Pool
	// Redis is a Redis client for events and stamps; nil when not configured.
	Redis redis.UniversalClient
	// Etcd is the shared configuration store.
	Etcd *config.Etcd
	// Enqueuer enqueues follow-up tasks into this worker's queues.
	Enqueuer *jobs.Enqueuer
	// Logger is the worker's logger.
	Logger *slog.Logger
	// Registry receives the handlers' metrics (see Register for sharing collectors).
	Registry *prometheus.Registry
	// Now is the clock; never nil.
	Now func() time.Time
	// WorkerID names this worker.
	WorkerID string
	// Shared is the shared configuration; nil when the worker runs without one (tests).
	Shared *config.Shared
	// HeartbeatTimeout is manager.heartbeat-timeout (zero: the handlers' default).
	HeartbeatTimeout time.Duration
}

// Run runs a worker until ctx ends, then shuts it down gracefully and returns nil. It
// returns an error when the worker cannot start (bad configuration, Redis or etcd not
// answering, a handler registration failing).
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	logger := cfg.Logger.With("worker", cfg.ID)
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	unregisterState, err := registerState(cfg.Registry, &cfg, logger)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	defer unregisterState()

	client := asynq.NewClient(cfg.RedisOpt)
	defer client.Close()
	if err := client.Ping(); err != nil {
		return fmt.Errorf("worker: redis: %w", err)
	}
	enq := jobs.NewEnqueuer(client, cfg.QueuePrefix)

	mux := asynq.NewServeMux()
	mux.Use(m.middleware(logger))
	if cfg.Handlers != nil {
		deps := &Deps{
			Pool:             cfg.Pool,
			Redis:            cfg.Redis,
			Etcd:             cfg.Etcd,
			Enqueuer:         enq,
			Logger:           logger,
			Registry:         cfg.Registry,
			Now:              cfg.Now,
			WorkerID:         cfg.ID,
			Shared:           cfg.Shared,
			HeartbeatTimeout: cfg.HeartbeatTimeout,
		}
		if err := cfg.Handlers(mux, deps); err != nil {
			return fmt.Errorf("worker: register handlers: %w", err)
		}
	}

	if cfg.TaskCheckInterval <= 0 {
		cfg.TaskCheckInterval = DefaultTaskCheckInterval
	}
	srv := asynq.NewServer(cfg.RedisOpt, asynq.Config{
		Concurrency:              cfg.Concurrency,
		Queues:                   jobs.Queues(cfg.QueuePrefix),
		StrictPriority:           jobs.StrictPriority,
		RetryDelayFunc:           retryDelay,
		DelayedTaskCheckInterval: DelayedTaskCheckInterval,
		ShutdownTimeout:          cfg.ShutdownTimeout,
		TaskCheckInterval:        cfg.TaskCheckInterval,
		Logger:                   asynqLogger{logger.With("component", "asynq")},
		LogLevel:                 asynqLevel(logger),
	})
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("worker: start: %w", err)
	}
	defer srv.Shutdown()

	// The campaign outlives ctx so that shutdown can resign explicitly, after the last
	// periodic enqueue.
	campCtx, cancelCampaign := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCampaign()
	lead, err := config.Campaign(campCtx, cfg.Etcd, ElectionName, cfg.ID, cfg.LeaderTTL)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	defer lead.Close()
	logger.Info("worker started", "queue_prefix", cfg.QueuePrefix, "concurrency", cfg.Concurrency,
		"periodic_jobs", len(cfg.Periodic))

	ticks := cfg.Tick
	if ticks == nil {
		t := newAlignedTicker(tickEvery)
		defer t.stop()
		ticks = t.C
	}
	l := &loop{
		lead:     lead,
		periodic: newPeriodicEnqueuer(cfg.Periodic, enq, logger, m, cfg.Intervals),
		metrics:  m,
		logger:   logger,
		notify:   cfg.OnLeadership,
	}
	l.run(ctx, ticks)

	logger.Info("worker shutting down")
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*config.PingTimeout)
	defer cancel()
	if err := lead.Resign(rctx); err != nil {
		logger.Warn("resign leadership", "err", err)
	}
	l.update(false)
	srv.Shutdown()
	logger.Info("worker stopped")
	return nil
}

// setDefaults fills in the zero fields of cfg and checks the required ones.
func (cfg *Config) setDefaults() error {
	if cfg.RedisOpt == nil {
		return errors.New("worker: no Redis connection option")
	}
	if cfg.Etcd == nil {
		return errors.New("worker: no etcd store")
	}
	if cfg.ID == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "localhost"
		}
		cfg.ID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.Periodic == nil {
		cfg.Periodic = jobs.BuiltinPeriodic(jobs.PeriodicOpts{LeaderID: cfg.ID, LeaderHeartbeatEvery: cfg.HeartbeatEvery})
	}
	if err := jobs.ValidatePeriodic(cfg.Periodic); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}

// loop is the worker's control loop: it follows leadership changes and, while leader,
// enqueues the periodic jobs on every tick.
type loop struct {
	lead     *config.Leadership
	periodic *periodicEnqueuer
	metrics  *metrics
	logger   *slog.Logger
	notify   func(bool)
	leader   bool
}

// run returns when ctx ends.
func (l *loop) run(ctx context.Context, ticks <-chan time.Time) {
	changes := l.lead.Changes()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changes:
			if !ok {
				changes = nil
			}
			// Changes may coalesce; IsLeader is authoritative.
			l.update(l.lead.IsLeader())
		case now := <-ticks:
			// Gate on IsLeader, not on l.leader: it is set before the change is delivered
			// and cleared as soon as the lease is lost.
			if l.lead.IsLeader() {
				l.periodic.fire(ctx, now)
			}
		}
	}
}

// update records this worker's leadership when it changed: metric, log, callback.
func (l *loop) update(leader bool) {
	if leader == l.leader {
		return
	}
	l.leader = leader
	if leader {
		l.metrics.leader.Set(1)
		l.logger.Info("elected leader: enqueuing periodic jobs")
	} else {
		l.metrics.leader.Set(0)
		l.logger.Info("no longer leader: stopped enqueuing periodic jobs")
	}
	if l.notify != nil {
		l.notify(leader)
	}
}
