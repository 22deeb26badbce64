package idle_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/dbtest"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/fixture"
	"github.com/hangar-run/hangar/internal/halfstack"
	"github.com/hangar-run/hangar/internal/metricstest"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
	idlejobs "github.com/hangar-run/hangar/jobs/idle"
)

const testRedisAddr = "127.0.0.1:8110"

// Example fixture identities.
const (
	userAccessKey = "AKIANABBDUSEREXAMPLE"
	userUUID      = "dfa9da54-4b28-432f-be29-c0d680c7a412"
	projectID     = "2de2b969-1d04-48a6-af16-0bc8adb3c831"
	agentID       = "i-idle-test"
)

// checkEvery is the reap period the tests simulate (the default idle check period).
const checkEvery = jobs.DefaultIdleCheckEvery

func testLogger() *slog.Logger {
	if os.Getenv("HANGAR_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// source is a checker configuration over flat shared-config keys.
type source map[string]string

func (s source) Get(key string) (string, bool) { v, ok := s[key]; return v, ok }

func (s source) Duration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(s[key]); err == nil {
		return d
	}
	return def
}

func (s source) GetPrefix(prefix string) map[string]any {
	out := map[string]any{}
	for k, v := range s {
		rest, ok := strings.CutPrefix(k, prefix+"/")
		if !ok {
			continue
		}
		parts := strings.Split(rest, "/")
		node := out
		for _, p := range parts[:len(parts)-1] {
			child, ok := node[p].(map[string]any)
			if !ok {
				child = map[string]any{}
				node[p] = child
			}
			node = child
		}
		node[parts[len(parts)-1]] = v
	}
	return out
}

// testEnv is one test's database, queues, clock and idle handlers.
type testEnv struct {
	pool   *pgxpool.Pool
	prefix string
	rdb    *redis.Client
	insp   *asynq.Inspector
	reg    *prometheus.Registry
	h      *idlejobs.Handlers

	mu  sync.Mutex
	now time.Time
}

func (e *testEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *testEnv) set(t time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = t
}

// t0 is the start of every test's clock, on a whole second.
var t0 = time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, cfg source) *testEnv {
	t.Helper()
	d := dbtest.NewDatabase(t)
	ctx := t.Context()
	require.NoError(t, fixture.LoadExamples(ctx, d.Pool, fixture.Options{BcryptCost: 4}))
	_, err := d.Pool.Exec(ctx, `UPDATE keypair_resource_policies SET idle_timeout = -1, max_session_lifetime = 0`)
	require.NoError(t, err)
	_, err = d.Pool.Exec(ctx, `INSERT INTO agents (id, status, scaling_group, addr, architecture) VALUES ($1, 'ALIVE', 'default', 'tcp://127.0.0.1:1', 'x86_64')`, agentID)
	require.NoError(t, err)

	b := make([]byte, 6)
	_, err = rand.Read(b)
	require.NoError(t, err)
	redisOpt := asynq.RedisClientOpt{Addr: testRedisAddr, Password: halfstack.RedisPassword()}
	e := &testEnv{
		pool:   d.Pool,
		prefix: "test-" + hex.EncodeToString(b) + "-",
		rdb:    redis.NewClient(&redis.Options{Addr: testRedisAddr, Password: halfstack.RedisPassword()}),
		insp:   asynq.NewInspector(redisOpt),
		reg:    prometheus.NewRegistry(),
		now:    t0,
	}
	client := asynq.NewClient(redisOpt)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for q := range jobs.Queues(e.prefix) {
			_, _ = e.insp.DeleteAllPendingTasks(q)
			_ = e.insp.DeleteQueue(q, true)
			_ = e.rdb.SRem(cctx, "asynq:queues", q).Err()
		}
		_ = e.insp.Close()
		_ = client.Close()
		_ = e.rdb.Close()
	})
	deps := &worker.Deps{
		Pool: d.Pool, Redis: e.rdb, Enqueuer: jobs.NewEnqueuer(client, e.prefix),
		Logger: testLogger(), Now: e.clock, Registry: e.reg,
	}
	h, err := idlejobs.New(deps, idlejobs.Options{Source: cfg})
	require.NoError(t, err)
	e.h = h
	return e
}

// insertRunning inserts a RUNNING single-kernel session of type typ created (and RUNNING)
// at created, on the test agent, and returns its id and its kernel's id.
func (e *testEnv) insertRunning(t *testing.T, name, typ string, created time.Time) (uuid.UUID, uuid.UUID) {
	t.Helper()
	ctx := t.Context()
	s, k := uuid.New(), uuid.New()
	slots := `{"cpu": "1", "mem": "1073741824"}`
	_, err := e.pool.Exec(ctx, `INSERT INTO sessions (id, name, session_type, scaling_group_name, domain_name, group_id, user_uuid,
		access_key, occupying_slots, requested_slots, created_at, status, status_changed, status_history)
		VALUES ($1, $2, $3, 'default', 'default', $4, $5, $6, $7, $7, $8, 'RUNNING', $8,
		jsonb_build_object('RUNNING', $8::timestamptz::text))`,
		s, name, typ, projectID, userUUID, userAccessKey, slots, created)
	require.NoError(t, err)
	_, err = e.pool.Exec(ctx, `INSERT INTO kernels (id, session_id, session_name, session_type, scaling_group, agent, agent_addr,
		domain_name, group_id, user_uuid, access_key, occupied_slots, requested_slots, created_at, status, status_changed)
		VALUES ($1, $2, $3, $4, 'default', $5, 'tcp://127.0.0.1:1', 'default', $6, $7, $8, $9, $9, $10, 'RUNNING', $10)`,
		k, s, name, typ, agentID, projectID, userUUID, userAccessKey, slots, created)
	require.NoError(t, err)
	return s, k
}

// check runs one idle check at now.
func (e *testEnv) check(t *testing.T, now time.Time) {
	t.Helper()
	e.set(now)
	tk, err := jobs.NewIdleCheckTask(jobs.IdleCheckPayload{Slot: now})
	require.NoError(t, err)
	require.NoError(t, e.h.HandleIdleCheck(t.Context(), asynq.NewTask(tk.Type(), tk.Payload())))
}

// touch records an API access to the session at now, as the API does.
func (e *testEnv) touch(t *testing.T, sid uuid.UUID, now time.Time) {
	t.Helper()
	before := now.Add(-time.Second)
	_, err := db.Q.SessionTouch(t.Context(), e.pool, &dbsqlc.SessionTouchParams{Now: &now, ID: sid, ThrottleBefore: &before})
	require.NoError(t, err)
}

// status returns a session's status and status_info.
func (e *testEnv) status(t *testing.T, sid uuid.UUID) (string, string) {
	t.Helper()
	var status, info string
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT status::text, COALESCE(status_info, '') FROM sessions WHERE id = $1`, sid).
		Scan(&status, &info))
	return status, info
}

// requireTerminateQueued checks that the session's termination was enqueued with reason.
func (e *testEnv) requireTerminateQueued(t *testing.T, sid uuid.UUID, reason string) {
	t.Helper()
	info, err := e.insp.GetTaskInfo(jobs.QueueName(e.prefix, jobs.QueueCritical), jobs.TypeSessionTerminate+":"+sid.String())
	require.NoError(t, err)
	var p jobs.SessionTerminatePayload
	require.NoError(t, json.Unmarshal(info.Payload, &p))
	require.Equal(t, jobs.SessionTerminatePayload{SessionID: sid.String(), Reason: reason}, p)
}

// reaps returns hangar_idle_reaps_total{checker}.
func (e *testEnv) reaps(t *testing.T, checker string) float64 {
	t.Helper()
	f := metricstest.ScrapeRegistry(t, e.reg)
	if f.Find("hangar_idle_reaps_total", map[string]string{"checker": checker}) == nil {
		return 0
	}
	return f.Value(t, "hangar_idle_reaps_total", map[string]string{"checker": checker})
}

// subscribe returns a channel of the events published for e's prefix.
func (e *testEnv) subscribe(t *testing.T) <-chan events.Event {
	t.Helper()
	sub := e.rdb.Subscribe(t.Context(), events.Channel(e.prefix))
	_, err := sub.Receive(t.Context())
	require.NoError(t, err)
	out := make(chan events.Event, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range sub.Channel() {
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

// waitEvent waits for an event named name of session sid.
func waitEvent(t *testing.T, ch <-chan events.Event, name string, sid uuid.UUID) events.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-ch:
			if ev.Name == name && ev.SessionID == sid.String() {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event for session %s", name, sid)
		}
	}
}

func TestIdleTimeoutReapsIdleSessionsOnly(t *testing.T) {
	t.Parallel()
	const timeout = time.Minute
	e := newEnv(t, source{
		"config/idle/enabled":                    "timeout",
		"config/idle/checkers/timeout/threshold": timeout.String(),
	})
	evs := e.subscribe(t)
	started := t0.Add(3 * time.Second) // not aligned with the checks
	idleID, _ := e.insertRunning(t, "idle", "INTERACTIVE", started)
	activeID, _ := e.insertRunning(t, "active", "INTERACTIVE", started)
	batchID, _ := e.insertRunning(t, "batch", "BATCH", started)

	expiry := started.Add(timeout)
	var reapedAt time.Time
	for now := t0; now.Before(t0.Add(5 * timeout)); now = now.Add(checkEvery) {
		// The active session is used every 20 s.
		for at := started; !at.After(now); at = at.Add(20 * time.Second) {
			e.touch(t, activeID, at)
		}
		e.check(t, now)
		if st, _ := e.status(t, idleID); st == "TERMINATING" && reapedAt.IsZero() {
			reapedAt = now
		}
	}
	require.False(t, reapedAt.IsZero(), "the idle session was never reaped")
	latency := reapedAt.Sub(expiry)
	require.Positive(t, latency)
	require.LessOrEqual(t, latency, checkEvery, "reaped within timeout + one reap period")
	t.Logf("idle session expired at +%v, reaped at +%v (latency %v with a %v period)",
		expiry.Sub(started), reapedAt.Sub(started), latency, checkEvery)

	status, info := e.status(t, idleID)
	require.Equal(t, "TERMINATING", status)
	require.Equal(t, "idle-timeout", info)
	ev := waitEvent(t, evs, events.SessionTerminating, idleID)
	require.Equal(t, "idle-timeout", ev.Reason)
	waitEvent(t, evs, events.KernelTerminating, idleID)
	e.requireTerminateQueued(t, idleID, "idle-timeout")

	status, _ = e.status(t, activeID)
	require.Equal(t, "RUNNING", status, "a session in use is not idle")
	status, _ = e.status(t, batchID)
	require.Equal(t, "RUNNING", status, "batch sessions never expire by the network timeout")
	require.InDelta(t, 1.0, e.reaps(t, "network_timeout"), 0)

	// A second run finds the session TERMINATING and does nothing.
	e.check(t, reapedAt.Add(checkEvery))
	require.InDelta(t, 1.0, e.reaps(t, "network_timeout"), 0)
}

func TestIdleTimeoutFollowsThePolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, source{"config/idle/enabled": "network_timeout"}) // threshold 10m by default
	_, err := e.pool.Exec(t.Context(), `UPDATE keypair_resource_policies SET idle_timeout = 30`)
	require.NoError(t, err)
	sid, _ := e.insertRunning(t, "s", "INTERACTIVE", t0)
	e.check(t, t0.Add(30*time.Second))
	st, _ := e.status(t, sid)
	require.Equal(t, "RUNNING", st)
	e.check(t, t0.Add(31*time.Second))
	st, info := e.status(t, sid)
	require.Equal(t, "TERMINATING", st)
	require.Equal(t, "idle-timeout", info)

	// idle_timeout 0 means never.
	_, err = e.pool.Exec(t.Context(), `UPDATE keypair_resource_policies SET idle_timeout = 0`)
	require.NoError(t, err)
	other, _ := e.insertRunning(t, "never", "INTERACTIVE", t0)
	e.check(t, t0.Add(240*time.Hour))
	st, _ = e.status(t, other)
	require.Equal(t, "RUNNING", st)
}

func TestSessionLifetimeEndsOldSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, source{}) // only session_lifetime, which is always on
	_, err := e.pool.Exec(t.Context(), `UPDATE keypair_resource_policies SET max_session_lifetime = 100`)
	require.NoError(t, err)
	sid, _ := e.insertRunning(t, "old", "BATCH", t0)
	young, _ := e.insertRunning(t, "young", "INTERACTIVE", t0.Add(50*time.Second))
	e.touch(t, sid, t0.Add(99*time.Second))

	e.check(t, t0.Add(99*time.Second))
	st, _ := e.status(t, sid)
	require.Equal(t, "RUNNING", st)
	e.check(t, t0.Add(100*time.Second))
	st, info := e.status(t, sid)
	require.Equal(t, "TERMINATING", st, "the lifetime ends a session however busy, batch ones too")
	require.Equal(t, "idle-session-lifetime", info)
	e.requireTerminateQueued(t, sid, "idle-session-lifetime")
	st, _ = e.status(t, young)
	require.Equal(t, "RUNNING", st)
	require.InDelta(t, 1.0, e.reaps(t, "session_lifetime"), 0)
}

func TestInferenceSessionsAreNotChecked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, source{"config/idle/enabled": "network_timeout,utilization"})
	_, err := e.pool.Exec(t.Context(), `UPDATE keypair_resource_policies SET max_session_lifetime = 1, idle_timeout = 1`)
	require.NoError(t, err)
	sid, _ := e.insertRunning(t, "model", "INFERENCE", t0)
	e.check(t, t0.Add(time.Hour))
	st, _ := e.status(t, sid)
	require.Equal(t, "RUNNING", st)
}

// sample stores a utilization sample of kernel kid at at, the way the heartbeat does.
func (e *testEnv) sample(t *testing.T, kid uuid.UUID, at time.Time, metrics map[string]float64) {
	t.Helper()
	b, err := json.Marshal(map[string]any{kid.String(): metrics})
	require.NoError(t, err)
	n, err := db.Q.KernelUtilizationInsert(t.Context(), e.pool, &dbsqlc.KernelUtilizationInsertParams{At: at, Samples: b, AgentID: agentID})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

func TestUtilizationReapsUnderusedSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, source{
		"config/idle/enabled":                                                   "utilization",
		"config/idle/checkers/utilization/time-window":                          "60s",
		"config/idle/checkers/utilization/initial-grace-period":                 "30s",
		"config/idle/checkers/utilization/resource-thresholds/cpu_util/average": "10",
		"config/idle/checkers/utilization/resource-thresholds/mem/average":      "20",
	})
	busy, busyK := e.insertRunning(t, "busy", "INTERACTIVE", t0)
	lazy, lazyK := e.insertRunning(t, "lazy", "BATCH", t0)
	quiet, _ := e.insertRunning(t, "no-samples", "INTERACTIVE", t0)
	// An old sample of the lazy kernel, from before the window: busy, but it must not count.
	e.sample(t, lazyK, t0.Add(-time.Hour), map[string]float64{"cpu_util": 99, "mem": 99})
	for at := t0.Add(5 * time.Second); !at.After(t0.Add(90 * time.Second)); at = at.Add(10 * time.Second) {
		e.sample(t, busyK, at, map[string]float64{"cpu_util": 50, "mem": 5})
		e.sample(t, lazyK, at, map[string]float64{"cpu_util": 1, "mem": 5})
	}

	e.check(t, t0.Add(89*time.Second)) // grace 30 s + window 60 s not over yet
	for _, sid := range []uuid.UUID{busy, lazy, quiet} {
		st, _ := e.status(t, sid)
		require.Equal(t, "RUNNING", st)
	}
	e.check(t, t0.Add(90*time.Second))
	st, info := e.status(t, lazy)
	require.Equal(t, "TERMINATING", st)
	require.Equal(t, "idle-utilization", info)
	e.requireTerminateQueued(t, lazy, "idle-utilization")
	st, _ = e.status(t, busy)
	require.Equal(t, "RUNNING", st, "one metric above its threshold keeps the session (operator and)")
	st, _ = e.status(t, quiet)
	require.Equal(t, "RUNNING", st, "no samples, no verdict")
	require.InDelta(t, 1.0, e.reaps(t, "utilization"), 0)

	var old int
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT count(*) FROM kernel_utilization WHERE at < $1`, t0).Scan(&old))
	require.Zero(t, old, "samples older than the window (and the margin) are pruned")
}

func TestUtilizationOperatorOr(t *testing.T) {
	t.Parallel()
	e := newEnv(t, source{
		"config/idle/enabled":                                                   "utilization",
		"config/idle/checkers/utilization/time-window":                          "60s",
		"config/idle/checkers/utilization/initial-grace-period":                 "0s",
		"config/idle/checkers/utilization/thresholds-check-operator":            "or",
		"config/idle/checkers/utilization/resource-thresholds/cpu_util/average": "10",
		"config/idle/checkers/utilization/resource-thresholds/mem/average":      "20",
	})
	sid, kid := e.insertRunning(t, "half-busy", "INTERACTIVE", t0)
	for at := t0.Add(10 * time.Second); !at.After(t0.Add(60 * time.Second)); at = at.Add(10 * time.Second) {
		e.sample(t, kid, at, map[string]float64{"cpu_util": 50, "mem": 5})
	}
	e.check(t, t0.Add(60*time.Second))
	st, info := e.status(t, sid)
	require.Equal(t, "TERMINATING", st, "with or, one metric below its threshold is enough")
	require.Equal(t, "idle-utilization", info)
}
