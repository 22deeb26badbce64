package session_test

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
	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/dbtest"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/fixture"
	"github.com/hangar-run/hangar/internal/halfstack"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
	"github.com/hangar-run/hangar/jobs/session"
)

const testRedisAddr = "127.0.0.1:8110"

// Example fixture identities.
const (
	userAccessKey = "AKIANABBDUSEREXAMPLE"
	userUUID      = "dfa9da54-4b28-432f-be29-c0d680c7a412"
	projectID     = "2de2b969-1d04-48a6-af16-0bc8adb3c831"
)

func testLogger() *slog.Logger {
	if os.Getenv("HANGAR_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testEnv is one test's database, queues and handlers.
type testEnv struct {
	pool     *pgxpool.Pool
	prefix   string
	rdb      *redis.Client
	redisOpt asynq.RedisClientOpt
	h        *session.Handlers

	mu  sync.Mutex
	now time.Time
}

// clock returns the injected time.
func (e *testEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// advance moves the injected clock forward.
func (e *testEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func newEnv(t *testing.T, opts session.Options) *testEnv {
	t.Helper()
	d := dbtest.NewDatabase(t)
	require.NoError(t, fixture.LoadExamples(t.Context(), d.Pool, fixture.Options{BcryptCost: 4}))
	// The example policy allows 5 concurrent sessions; the tests place more.
	_, err := d.Pool.Exec(t.Context(), `UPDATE keypair_resource_policies SET max_concurrent_sessions = 0`)
	require.NoError(t, err)

	b := make([]byte, 6)
	_, err = rand.Read(b)
	require.NoError(t, err)
	e := &testEnv{
		pool:     d.Pool,
		prefix:   "test-" + hex.EncodeToString(b) + "-",
		rdb:      redis.NewClient(&redis.Options{Addr: testRedisAddr, Password: halfstack.RedisPassword()}),
		redisOpt: asynq.RedisClientOpt{Addr: testRedisAddr, Password: halfstack.RedisPassword()},
		now:      time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	}
	client := asynq.NewClient(e.redisOpt)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for q := range jobs.Queues(e.prefix) {
			var keys []string
			iter := e.rdb.Scan(ctx, 0, "asynq:{"+q+"}*", 1000).Iterator()
			for iter.Next(ctx) {
				keys = append(keys, iter.Val())
			}
			if len(keys) > 0 {
				_ = e.rdb.Del(ctx, keys...).Err()
			}
			_ = e.rdb.SRem(ctx, "asynq:queues", q).Err()
		}
		_ = client.Close()
		_ = e.rdb.Close()
	})
	h, err := session.New(&worker.Deps{
		Pool: d.Pool, Redis: e.rdb, Enqueuer: jobs.NewEnqueuer(client, e.prefix),
		Logger: testLogger(), Now: e.clock,
	}, opts)
	require.NoError(t, err)
	e.h = h
	return e
}

// task builds a server-side task from a task constructor's result; a constructor error is
// a bug in the test.
func task(tk *asynq.Task, err error) *asynq.Task {
	if err != nil {
		panic(err)
	}
	return asynq.NewTask(tk.Type(), tk.Payload())
}

func (e *testEnv) schedule(t *testing.T) {
	t.Helper()
	require.NoError(t, e.h.HandleScheduleScalingGroup(t.Context(), task(jobs.NewScheduleScalingGroupTask("default", e.clock()))))
}

func (e *testEnv) start(t *testing.T, sid string) {
	t.Helper()
	require.NoError(t, e.h.HandleSessionStart(t.Context(), task(jobs.NewSessionStartTask(sid))))
}

// insertAgent registers an ALIVE agent of scaling group "default" with cpu and mem slots.
func (e *testEnv) insertAgent(t *testing.T, id, addr string, cpu, mem int64) {
	t.Helper()
	ctx := t.Context()
	_, err := e.pool.Exec(ctx, `INSERT INTO agents (id, status, scaling_group, addr, architecture) VALUES ($1, 'ALIVE', 'default', $2, 'x86_64')`, id, addr)
	require.NoError(t, err)
	_, err = e.pool.Exec(ctx, `INSERT INTO agent_slots (agent_id, slot, slot_type, capacity) VALUES ($1, 'cpu', 'count', $2), ($1, 'mem', 'bytes', $3)`,
		id, decimal.NewFromInt(cpu), decimal.NewFromInt(mem))
	require.NoError(t, err)
}

// insertPendingSession inserts a PENDING single-kernel session of the example user in
// scaling group "default" and returns its id and its kernel's id.
func (e *testEnv) insertPendingSession(t *testing.T, name, cpu, mem string) (sid, kid string) {
	t.Helper()
	ctx := t.Context()
	req, err := json.Marshal(map[string]string{"cpu": cpu, "mem": mem})
	require.NoError(t, err)
	e.advance(time.Millisecond)
	created := e.clock()
	s := uuid.New()
	k := uuid.New()
	_, err = e.pool.Exec(ctx, `INSERT INTO sessions (id, name, session_type, scaling_group_name, domain_name, group_id, user_uuid,
		access_key, images, requested_slots, created_at, status_history)
		VALUES ($1, $2, 'INTERACTIVE', 'default', 'default', $3, $4, $5, '{cr.backend.ai/stable/python:3.9-ubuntu20.04}', $6, $7,
		jsonb_build_object('PENDING', $7::timestamptz::text))`,
		s, name, projectID, userUUID, userAccessKey, req, created)
	require.NoError(t, err)
	_, err = e.pool.Exec(ctx, `INSERT INTO kernels (id, session_id, session_name, scaling_group, domain_name, group_id, user_uuid,
		access_key, image, registry, requested_slots, created_at)
		VALUES ($1, $2, $3, 'default', 'default', $4, $5, $6, 'cr.backend.ai/stable/python:3.9-ubuntu20.04', 'cr.backend.ai', $7, $8)`,
		k, s, name, projectID, userUUID, userAccessKey, req, created)
	require.NoError(t, err)
	return s.String(), k.String()
}

// sessionState is a session's status, status_info and status_history.
type sessionState struct {
	status, info string
	history      map[string]string
	result       string
}

func (e *testEnv) session(t *testing.T, sid string) sessionState {
	t.Helper()
	var s sessionState
	var hist []byte
	require.NoError(t, e.pool.QueryRow(t.Context(),
		`SELECT status::text, COALESCE(status_info, ''), status_history, result::text FROM sessions WHERE id = $1`, sid).
		Scan(&s.status, &s.info, &hist, &s.result))
	require.NoError(t, json.Unmarshal(hist, &s.history))
	return s
}

// kernelState is what the tests read of a kernel.
type kernelState struct {
	status, agent, containerID string
	reserved                   bool
	occupied                   map[string]string
}

func (e *testEnv) kernel(t *testing.T, kid string) kernelState {
	t.Helper()
	var k kernelState
	var occ []byte
	require.NoError(t, e.pool.QueryRow(t.Context(),
		`SELECT status::text, COALESCE(agent, ''), COALESCE(container_id, ''), slots_reserved, occupied_slots FROM kernels WHERE id = $1`, kid).
		Scan(&k.status, &k.agent, &k.containerID, &k.reserved, &occ))
	require.NoError(t, json.Unmarshal(occ, &k.occupied))
	return k
}

// occupied returns an agent's slots as name → occupied amount.
func (e *testEnv) occupied(t *testing.T, agent string) map[string]string {
	t.Helper()
	rows, err := e.pool.Query(t.Context(), `SELECT slot, occupied::text FROM agent_slots WHERE agent_id = $1`, agent)
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

// requireConsistent checks that every agent's occupied amounts equal the sum of its
// reserved kernels' occupied slots and stay within capacity.
func (e *testEnv) requireConsistent(t *testing.T) {
	t.Helper()
	var bad int
	require.NoError(t, e.pool.QueryRow(t.Context(), `
		WITH k AS (
			SELECT agent, key AS slot, sum(value::numeric) AS total
			FROM kernels, jsonb_each_text(occupied_slots)
			WHERE slots_reserved GROUP BY agent, key
		)
		SELECT count(*) FROM agent_slots s LEFT JOIN k ON k.agent = s.agent_id AND k.slot = s.slot
		WHERE s.occupied <> COALESCE(k.total, 0) OR s.occupied > s.capacity`).Scan(&bad))
	require.Zero(t, bad, "agent_slots.occupied differs from the reserved kernels' sum or exceeds capacity")
}

// subscribe returns a channel of the events published for e's prefix.
func (e *testEnv) subscribe(t *testing.T) <-chan events.Event {
	t.Helper()
	sub := e.rdb.Subscribe(t.Context(), events.Channel(e.prefix))
	_, err := sub.Receive(t.Context())
	require.NoError(t, err)
	out := make(chan events.Event, 256)
	msgs := sub.Channel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range msgs {
			var ev events.Event
			if json.Unmarshal([]byte(m.Payload), &ev) == nil {
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

// waitEvent waits for an event named name of session sid.
func waitEvent(t *testing.T, ch <-chan events.Event, name, sid string) events.Event {
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

// nopEnqueuer drops the heartbeats of test agents.
type nopEnqueuer struct{}

func (nopEnqueuer) Enqueue(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
	return &asynq.TaskInfo{}, nil
}

// runAgent runs an agent with the dummy runtime on a free local port until the test ends.
func runAgent(t *testing.T, id string) (*agentd.Agent, *agentd.DummyRuntime) {
	t.Helper()
	return runAgentClock(t, id, nil)
}

// runAgentClock is runAgent with the agent's and runtime's clock (time.Now when nil).
func runAgentClock(t *testing.T, id string, now func() time.Time) (*agentd.Agent, *agentd.DummyRuntime) {
	t.Helper()
	cfg, err := agentd.Parse([]byte("[resource]\nslots = { cpu = \"4\", mem = \"8g\" }\n"), agentd.Host{Hostname: id, NumCPU: 4, MemTotal: 8 << 30})
	require.NoError(t, err)
	cfg.Agent.ID = id
	cfg.Agent.RPCListenAddr = config.HostPort{Host: "127.0.0.1", Port: 0}
	rt := agentd.NewDummyRuntime(now)
	a, err := agentd.New(cfg, rt, nopEnqueuer{}, agentd.Options{Logger: testLogger(), Tick: make(chan time.Time), Now: now})
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
