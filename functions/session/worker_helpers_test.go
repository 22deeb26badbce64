package session_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
	jobsession "github.com/hangar-run/hangar/jobs/session"
)

// runRestartWorker runs a worker serving env's queues with the session restart job until the
// test ends: the restart the API hands over is done by the real job.
func runRestartWorker(t *testing.T, env *functionstest.Env) {
	t.Helper()
	client := asynq.NewClient(functionstest.RedisOpt())
	t.Cleanup(func() { _ = client.Close() })
	h, err := jobsession.New(&worker.Deps{
		Pool: env.DB.Pool, Redis: env.Redis, Enqueuer: jobs.NewEnqueuer(client, env.Deps.Enqueuer.Prefix()),
		Logger: slog.New(slog.DiscardHandler), Now: time.Now,
	}, jobsession.Options{RPC: env.Deps.Agents})
	require.NoError(t, err)
	mux := asynq.NewServeMux()
	mux.HandleFunc(jobs.TypeSessionRestart, h.HandleSessionRestart)
	srv := asynq.NewServer(functionstest.RedisOpt(), asynq.Config{
		Queues: jobs.Queues(env.Deps.Enqueuer.Prefix()), Concurrency: 2, Logger: quietAsynq{},
		LogLevel: asynq.FatalLevel, ShutdownTimeout: 5 * time.Second,
	})
	require.NoError(t, srv.Start(mux))
	t.Cleanup(srv.Shutdown)
}

// quietAsynq drops asynq's own log lines.
type quietAsynq struct{}

func (quietAsynq) Debug(...any) {}
func (quietAsynq) Info(...any)  {}
func (quietAsynq) Warn(...any)  {}
func (quietAsynq) Error(...any) {}
func (quietAsynq) Fatal(...any) {}
