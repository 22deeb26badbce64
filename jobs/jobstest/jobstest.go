// Package jobstest is the test harness of the job handler packages: a private database
// loaded with the example fixtures, private queues and an events channel in the halfstack's
// Redis, an injected clock, and the handlers of every session-path package (schedule, session,
// maintenance sweeps) wired together, so that a test can carry a session from PENDING to its
// end. Tests only: it wires sibling handler packages together, which production code never
// does.
package jobstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	agentd "github.com/hangar-run/hangar/internal/agent"
	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/dbtest"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/fixture"
	"github.com/hangar-run/hangar/internal/halfstack"
	"github.com/hangar-run/hangar/internal/jobkit"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
	"github.com/hangar-run/hangar/jobs/maintenance"
	"github.com/hangar-run/hangar/jobs/schedule"
	"github.com/hangar-run/hangar/jobs/session"
)

const TestRedisAddr = "127.0.0.1:8110"

// Example fixture identities.
const (
	UserAccessKey = "AKIANABBDUSEREXAMPLE"
	UserUUID      = "dfa9da54-4b28-432f-be29-c0d680c7a412"
	ProjectID     = "2de2b969-1d04-48a6-af16-0bc8adb3c831"
)

func Logger() *slog.Logger {
	if os.Getenv("HANGAR_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Options tunes the handlers of an Env.
type Options struct {
	// RPCTimeout bounds one agent call of the session and sweep handlers.
	RPCTimeout time.Duration
	// StaleAfter is the schedule tick's lost-wake-up threshold.
	StaleAfter time.Duration
	// AfterSnapshot runs in every schedule pass right after the snapshot is read.
	AfterSnapshot func()
}

// Handlers are the handlers of the session path, sharing one Env: a test calls any of their
// Handle methods on it.
type Handlers struct {
	*Schedule
	*Session
	*maintenance.Sweeps
}

// Schedule and Session name the embedded handler types of Handlers.
type (
	Schedule = schedule.Handlers
	Session  = session.Handlers
)

// Env is one test's database, queues, clock and handlers.
type Env struct {
	Pool     *pgxpool.Pool
	Prefix   string
	Rdb      *redis.Client
	RedisOpt asynq.RedisClientOpt
	H        Handlers
	// Deps are the worker dependencies the handlers were built from.
	Deps *worker.Deps

	mu  sync.Mutex
	now time.Time
}

// Clock returns the injected time.
func (e *Env) Clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// Advance moves the injected clock forward.
func (e *Env) Advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func NewEnv(t *testing.T, opts Options) *Env {
	t.Helper()
	d := dbtest.NewDatabase(t)
	require.NoError(t, fixture.LoadExamples(t.Context(), d.Pool, fixture.Options{BcryptCost: 4}))
	// The example policy allows 5 concurrent sessions; the tests place more.
	_, err := d.Pool.Exec(t.Context(), `UPDATE keypair_resource_policies SET max_concurrent_sessions = 0`)
	require.NoError(t, err)

	b := make([]byte, 6)
	_, err = rand.Read(b)
	require.NoError(t, err)
	e := &Env{
		Pool:     d.Pool,
		Prefix:   "test-" + hex.EncodeToString(b) + "-",
		Rdb:      redis.NewClient(&redis.Options{Addr: TestRedisAddr, Password: halfstack.RedisPassword()}),
		RedisOpt: asynq.RedisClientOpt{Addr: TestRedisAddr, Password: halfstack.RedisPassword()},
		now:      time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	}
	client := asynq.NewClient(e.RedisOpt)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for q := range jobs.Queues(e.Prefix) {
			var keys []string
			iter := e.Rdb.Scan(ctx, 0, "asynq:{"+q+"}*", 1000).Iterator()
			for iter.Next(ctx) {
				keys = append(keys, iter.Val())
			}
			if len(keys) > 0 {
				_ = e.Rdb.Del(ctx, keys...).Err()
			}
			_ = e.Rdb.SRem(ctx, "asynq:queues", q).Err()
		}
		_ = client.Close()
		_ = e.Rdb.Close()
	})
	e.Deps = &worker.Deps{
		Pool: d.Pool, Redis: e.Rdb, Enqueuer: jobs.NewEnqueuer(client, e.Prefix),
		Logger: Logger(), Now: e.Clock,
	}
	timeout := opts.RPCTimeout
	if timeout <= 0 {
		timeout = jobkit.DefaultRPCTimeout
	}
	rpc := agentrpc.NewPool(agentrpc.ClientOptions{Timeout: timeout, Logger: e.Deps.Logger})
	t.Cleanup(func() { _ = rpc.Close() })
	e.H.Schedule, err = schedule.New(e.Deps, schedule.Options{StaleAfter: opts.StaleAfter, AfterSnapshot: opts.AfterSnapshot})
	require.NoError(t, err)
	e.H.Session, err = session.New(e.Deps, session.Options{RPC: rpc, RPCTimeout: opts.RPCTimeout})
	require.NoError(t, err)
	e.H.Sweeps, err = maintenance.NewSweeps(e.Deps, maintenance.Options{RPC: rpc, RPCTimeout: opts.RPCTimeout})
	require.NoError(t, err)
	return e
}

// Task builds a server-side task from a task constructor's result; a constructor error is
// a bug in the test.
func Task(tk *asynq.Task, err error) *asynq.Task {
	if err != nil {
		panic(err)
	}
	return asynq.NewTask(tk.Type(), tk.Payload())
}

func (e *Env) Schedule(t *testing.T) {
	t.Helper()
	require.NoError(t, e.H.HandleScheduleScalingGroup(t.Context(), Task(jobs.NewScheduleScalingGroupTask("default", e.Clock()))))
}

func (e *Env) Start(t *testing.T, sid string) {
	t.Helper()
	require.NoError(t, e.H.HandleSessionStart(t.Context(), Task(jobs.NewSessionStartTask(sid))))
}

// InsertAgent registers an ALIVE agent of scaling group "default" with cpu and mem slots.
func (e *Env) InsertAgent(t *testing.T, id, addr string, cpu, mem int64) {
	t.Helper()
	ctx := t.Context()
	_, err := e.Pool.Exec(ctx, `INSERT INTO agents (id, status, scaling_group, addr, architecture) VALUES ($1, 'ALIVE', 'default', $2, 'x86_64')`, id, addr)
	require.NoError(t, err)
	_, err = e.Pool.Exec(ctx, `INSERT INTO agent_slots (agent_id, slot, slot_type, capacity) VALUES ($1, 'cpu', 'count', $2), ($1, 'mem', 'bytes', $3)`,
		id, decimal.NewFromInt(cpu), decimal.NewFromInt(mem))
	require.NoError(t, err)
}

// InsertPendingSession inserts a PENDING single-kernel session of the example user in
// scaling group "default" and returns its id and its kernel's id.
func (e *Env) InsertPendingSession(t *testing.T, name, cpu, mem string) (sid, kid string) {
	t.Helper()
	ctx := t.Context()
	req, err := json.Marshal(map[string]string{"cpu": cpu, "mem": mem})
	require.NoError(t, err)
	e.Advance(time.Millisecond)
	created := e.Clock()
	s := uuid.New()
	k := uuid.New()
	_, err = e.Pool.Exec(ctx, `INSERT INTO sessions (id, name, session_type, scaling_group_name, domain_name, group_id, user_uuid,
		access_key, images, requested_slots, created_at, status_history)
		VALUES ($1, $2, 'INTERACTIVE', 'default', 'default', $3, $4, $5, '{cr.backend.ai/stable/python:3.9-ubuntu20.04}', $6, $7,
		jsonb_build_object('PENDING', $7::timestamptz::text))`,
		s, name, ProjectID, UserUUID, UserAccessKey, req, created)
	require.NoError(t, err)
	_, err = e.Pool.Exec(ctx, `INSERT INTO kernels (id, session_id, session_name, scaling_group, domain_name, group_id, user_uuid,
		access_key, image, registry, requested_slots, created_at)
		VALUES ($1, $2, $3, 'default', 'default', $4, $5, $6, 'cr.backend.ai/stable/python:3.9-ubuntu20.04', 'cr.backend.ai', $7, $8)`,
		k, s, name, ProjectID, UserUUID, UserAccessKey, req, created)
	require.NoError(t, err)
	return s.String(), k.String()
}

// SessionState is a session's status, status_info and status_history.
type SessionState struct {
	Status, Info string
	History      map[string]string
	Result       string
}

func (e *Env) Session(t *testing.T, sid string) SessionState {
	t.Helper()
	var s SessionState
	var hist []byte
	require.NoError(t, e.Pool.QueryRow(t.Context(),
		`SELECT status::text, COALESCE(status_info, ''), status_history, result::text FROM sessions WHERE id = $1`, sid).
		Scan(&s.Status, &s.Info, &hist, &s.Result))
	require.NoError(t, json.Unmarshal(hist, &s.History))
	return s
}

// KernelState is what the tests read of a kernel.
type KernelState struct {
	Status, Agent, ContainerID string
	Reserved                   bool
	Occupied                   map[string]string
}

func (e *Env) Kernel(t *testing.T, kid string) KernelState {
	t.Helper()
	var k KernelState
	var occ []byte
	require.NoError(t, e.Pool.QueryRow(t.Context(),
		`SELECT status::text, COALESCE(agent, ''), COALESCE(container_id, ''), slots_reserved, occupied_slots FROM kernels WHERE id = $1`, kid).
		Scan(&k.Status, &k.Agent, &k.ContainerID, &k.Reserved, &occ))
	require.NoError(t, json.Unmarshal(occ, &k.Occupied))
	return k
}

// Occupied returns an agent's slots as name → occupied amount.
func (e *Env) Occupied(t *testing.T, agent string) map[string]string {
	t.Helper()
	rows, err := e.Pool.Query(t.Context(), `SELECT slot, occupied::text FROM agent_slots WHERE agent_id = $1`, agent)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var slot, v string
		require.NoError(t, rows.Scan(&slot, &v))
		out[slot] = v
	}
	require.NoError(t, rows.Err())
	return out
}

// RequireConsistent checks that every agent's occupied amounts equal the sum of its
// reserved kernels' occupied slots and stay within capacity.
func (e *Env) RequireConsistent(t *testing.T) {
	t.Helper()
	var bad int
	require.NoError(t, e.Pool.QueryRow(t.Context(), `
		WITH k AS (
			SELECT agent, key AS slot, sum(value::numeric) AS total
			FROM kernels, jsonb_each_text(occupied_slots)
			WHERE slots_reserved GROUP BY agent, key
		)
		SELECT count(*) FROM agent_slots s LEFT JOIN k ON k.agent = s.agent_id AND k.slot = s.slot
		WHERE s.occupied <> COALESCE(k.total, 0) OR s.occupied > s.capacity`).Scan(&bad))
	require.Zero(t, bad, "agent_slots.occupied differs from the reserved kernels' sum or exceeds capacity")
}

// Subscribe returns a channel of the events published for e's prefix.
func (e *Env) Subscribe(t *testing.T) <-chan events.Event {
	t.Helper()
	sub := e.Rdb.Subscribe(t.Context(), events.Channel(e.Prefix))
	_, err := sub.Receive(t.Context())
	require.NoError(t, err)
	out := make(chan events.Event, 256)
	msgs := sub.Channel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range msgs {
			evs, _ := events.Decode([]byte(m.Payload))
			for _, ev := range evs {
				out <- ev
			}
		}
	}()
	t.Cleanup(func() {
		_ = sub.Close()
		<-done
	})
	return out
}

// WaitEvent waits for an event named name of session sid.
func WaitEvent(t *testing.T, ch <-chan events.Event, name, sid string) events.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-ch:
			if ev.Name == name && ev.SessionID == sid {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event for session %s", name, sid)
		}
	}
}

// NopEnqueuer drops the heartbeats of test agents.
type NopEnqueuer struct{}

func (NopEnqueuer) Enqueue(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
	return &asynq.TaskInfo{}, nil
}

// RunAgent runs an agent with the dummy runtime on a free local port until the test ends.
func RunAgent(t *testing.T, id string) (*agentd.Agent, *agentd.DummyRuntime) {
	t.Helper()
	return RunAgentClock(t, id, nil)
}

// RunAgentClock is RunAgent with the agent's and runtime's clock (time.Now when nil).
func RunAgentClock(t *testing.T, id string, now func() time.Time) (*agentd.Agent, *agentd.DummyRuntime) {
	t.Helper()
	cfg, err := agentd.Parse([]byte("[resource]\nslots = { cpu = \"4\", mem = \"8g\" }\n"), agentd.Host{Hostname: id, NumCPU: 4, MemTotal: 8 << 30})
	require.NoError(t, err)
	cfg.Agent.ID = id
	cfg.Agent.RPCListenAddr = config.HostPort{Host: "127.0.0.1", Port: 0}
	rt := agentd.NewDummyRuntime(now)
	a, err := agentd.New(cfg, rt, NopEnqueuer{}, agentd.Options{Logger: Logger(), Tick: make(chan time.Time), Now: now})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return a, rt
}
