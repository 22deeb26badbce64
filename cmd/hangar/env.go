package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/logctx"
)

// env is what a manager command needs from its configuration: the parsed manager.toml and a
// logger, with one-line errors for unreachable services.
type env struct {
	cfg    *config.Manager
	path   string
	logger *slog.Logger
}

func loadEnv() (*env, error) {
	cfg, path, err := config.Load(opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	level := slog.LevelInfo
	if opts.Debug || cfg.Debug.Enabled {
		level = slog.LevelDebug
	}
	// logctx adds the attributes a request or task carries in its context (request_id,
	// session_id, ...) to lines logged with that context.
	logger := slog.New(logctx.NewHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	if path != "" {
		logger.Debug("configuration", "file", path)
	}
	return &env{cfg: cfg, path: path, logger: logger}, nil
}

func (e *env) openDB(ctx context.Context) (*pgxpool.Pool, error) {
	return db.Open(ctx, e.cfg.DSN())
}

// openRedis connects to Redis at the address manager.toml or the environment give, else
// etcd's config/redis/addr (Backend.AI keeps it there), else the halfstack's, with the
// configured credentials and TLS.
func (e *env) openRedis(ctx context.Context, shared *config.Shared) (*redis.Client, error) {
	ropts, err := e.cfg.RedisOptions(shared)
	if err != nil {
		return nil, err
	}
	ropts.DialTimeout = 2 * time.Second
	// A Redis that hangs must not hold requests: bounded reads and writes that honour the
	// caller's deadline, and a short retry backoff.
	ropts.ReadTimeout, ropts.WriteTimeout = time.Second, time.Second
	ropts.ContextTimeoutEnabled = true
	ropts.MaxRetryBackoff = 100 * time.Millisecond
	client := redis.NewClient(ropts)
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := config.RedisError(ropts.Addr, client.Ping(pctx).Err()); err != nil {
		_ = client.Close()
		return nil, err
	}
	return client, nil
}

// asynqRedisOpt returns the job queue's connection options for the Redis client rdb.
func asynqRedisOpt(rdb *redis.Client) asynq.RedisClientOpt {
	o := rdb.Options()
	return asynq.RedisClientOpt{Addr: o.Addr, Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig}
}

func (e *env) openEtcd(ctx context.Context) (*config.Etcd, error) {
	c, err := e.cfg.EtcdDialConfig()
	if err != nil {
		return nil, err
	}
	return config.DialEtcdConfig(ctx, c)
}

// requireSchema fails with a hint when the database has no schema yet.
func requireSchema(ctx context.Context, pool *pgxpool.Pool) error {
	v, err := db.SchemaVersion(ctx, pool)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v == 0 {
		return fmt.Errorf("the database has no schema; run `hangar schema oneshot`")
	}
	return nil
}

// services are the connections a manager process (API or worker) runs on.
type services struct {
	pool   *pgxpool.Pool
	etcd   *config.Etcd
	shared *config.Shared
	redis  *redis.Client
}

// openServices connects to PostgreSQL (which must have the schema), etcd (with the live
// shared config) and Redis, in that order; each failure is one line naming the service.
func (e *env) openServices(ctx context.Context) (*services, error) {
	s := &services{}
	var err error
	if s.pool, err = e.openDB(ctx); err != nil {
		return nil, err
	}
	if err = requireSchema(ctx, s.pool); err != nil {
		s.close()
		return nil, err
	}
	if s.etcd, err = e.openEtcd(ctx); err != nil {
		s.close()
		return nil, err
	}
	if s.shared, err = config.NewShared(ctx, s.etcd); err != nil {
		s.close()
		return nil, err
	}
	if s.redis, err = e.openRedis(ctx, s.shared); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// close releases whatever openServices opened, in reverse order.
func (s *services) close() {
	if s.redis != nil {
		_ = s.redis.Close()
	}
	if s.shared != nil {
		_ = s.shared.Close()
	}
	if s.etcd != nil {
		_ = s.etcd.Close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
}
