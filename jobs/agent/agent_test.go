package agent_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	agentd "github.com/hangar-run/hangar/internal/agent"
	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/dbtest"
	"github.com/hangar-run/hangar/internal/fixture"
	"github.com/hangar-run/hangar/internal/halfstack"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
	"github.com/hangar-run/hangar/jobs/agent"
)

const testRedisAddr = "127.0.0.1:8110"

func testLogger() *slog.Logger {
	if os.Getenv("HANGAR_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testPool returns a migrated database with the example fixtures (scaling group "default").
func testPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	d := dbtest.NewDatabase(t)
	require.NoError(t, fixture.LoadExamples(t.Context(), d.Pool, fixture.Options{BcryptCost: 4}))
	return d.Pool
}

func newHandlers(t *testing.T, pool *pgxpool.Pool, now time.Time) *agent.Handlers {
	t.Helper()
	h, err := agent.New(&worker.Deps{Pool: pool, Logger: testLogger(), Now: func() time.Time { return now }})
	require.NoError(t, err)
	return h
}

func heartbeat(t *testing.T, p jobs.AgentHeartbeatPayload) *asynq.Task {
	t.Helper()
	task, err := jobs.NewAgentHeartbeatTask(p)
	require.NoError(t, err)
	return asynq.NewTask(task.Type(), task.Payload())
}

func payload(at time.Time, cpu, mem string) jobs.AgentHeartbeatPayload {
	return jobs.AgentHeartbeatPayload{
		AgentID:      "i-node1",
		Addr:         "tcp://10.0.0.5:6001",
		Region:       "local",
		ScalingGroup: "default",
		Architecture: "x86_64",
		Version:      "24.03.2",
		Slots: map[string]jobs.AgentSlot{
			"cpu": {Type: "count", Amount: cpu},
			"mem": {Type: "bytes", Amount: mem},
		},
		Time: at,
	}
}

// slotMap returns an agent's slots as name → "capacity/occupied".
func slotMap(t *testing.T, pool *pgxpool.Pool, id string) map[string]string {
	t.Helper()
	rows, err := db.Q.AgentSlotListByAgent(t.Context(), pool, id)
	require.NoError(t, err)
	out := map[string]string{}
	for _, r := range rows {
		out[r.Slot] = r.Capacity.String() + "/" + r.Occupied.String()
	}
	return out
}

func TestHeartbeatRegistersAndUpdates(t *testing.T) {
	ctx := t.Context()
	pool := testPool(t)
	t0 := time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC)
	h := newHandlers(t, pool, t0)

	require.NoError(t, h.HandleAgentHeartbeat(ctx, heartbeat(t, payload(t0, "4", "8589934592"))))
	a, err := db.Q.AgentGet(ctx, pool, "i-node1")
	require.NoError(t, err)
	require.Equal(t, dbsqlc.AgentStatusALIVE, a.Status)
	require.Equal(t, "tcp://10.0.0.5:6001", a.Addr)
	require.Equal(t, "default", a.ScalingGroup)
	require.Equal(t, "24.03.2", a.Version)
	require.True(t, a.FirstContact.Equal(t0))
	require.True(t, a.LastHeartbeat.Equal(t0))
	require.Equal(t, map[string]string{"cpu": "4/0", "mem": "8589934592/0"}, slotMap(t, pool, "i-node1"))

	// A second heartbeat updates the address, version and capacities, adds a slot.
	t1 := t0.Add(3 * time.Second)
	p := payload(t1, "8", "4294967296")
	p.Addr = "tcp://10.0.0.6:6001"
	p.Version = "24.03.3"
	p.Slots["cuda.shares"] = jobs.AgentSlot{Type: "count", Amount: "2"}
	require.NoError(t, h.HandleAgentHeartbeat(ctx, heartbeat(t, p)))
	a, err = db.Q.AgentGet(ctx, pool, "i-node1")
	require.NoError(t, err)
	require.Equal(t, "tcp://10.0.0.6:6001", a.Addr)
	require.Equal(t, "24.03.3", a.Version)
	require.True(t, a.FirstContact.Equal(t0))
	require.True(t, a.LastHeartbeat.Equal(t1))
	require.Equal(t, map[string]string{"cpu": "8/0", "cuda.shares": "2/0", "mem": "4294967296/0"}, slotMap(t, pool, "i-node1"))

	// A stale heartbeat (delivered late) changes nothing; a redelivery of the last is harmless.
	require.NoError(t, h.HandleAgentHeartbeat(ctx, heartbeat(t, payload(t0.Add(time.Second), "1", "1"))))
	require.NoError(t, h.HandleAgentHeartbeat(ctx, heartbeat(t, p)))
	a, err = db.Q.AgentGet(ctx, pool, "i-node1")
	require.NoError(t, err)
	require.Equal(t, "tcp://10.0.0.6:6001", a.Addr)
	require.True(t, a.LastHeartbeat.Equal(t1))
	require.Equal(t, map[string]string{"cpu": "8/0", "cuda.shares": "2/0", "mem": "4294967296/0"}, slotMap(t, pool, "i-node1"))

	// A slot no longer reported and unused drops to capacity 0.
	require.NoError(t, h.HandleAgentHeartbeat(ctx, heartbeat(t, payload(t1.Add(time.Second), "8", "4294967296"))))
	require.Equal(t, map[string]string{"cpu": "8/0", "cuda.shares": "0/0", "mem": "4294967296/0"}, slotMap(t, pool, "i-node1"))
}

func TestHeartbeatRevivesLostAgent(t *testing.T) {
	ctx := t.Context()
	pool := testPool(t)
	t0 := time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC)
	require.NoError(t, newHandlers(t, pool, t0).HandleAgentHeartbeat(ctx, heartbeat(t, payload(t0, "4", "1024"))))
	_, err := pool.Exec(ctx, `UPDATE agents SET status = 'LOST', lost_at = $1, status_changed = $1 WHERE id = 'i-node1'`, t0.Add(time.Minute))
	require.NoError(t, err)

	t2 := t0.Add(2 * time.Minute)
	require.NoError(t, newHandlers(t, pool, t2).HandleAgentHeartbeat(ctx, heartbeat(t, payload(t2, "4", "1024"))))
	a, err := db.Q.AgentGet(ctx, pool, "i-node1")
	require.NoError(t, err)
	require.Equal(t, dbsqlc.AgentStatusALIVE, a.Status)
	require.Nil(t, a.LostAt)
	require.NotNil(t, a.StatusChanged)
	require.True(t, a.StatusChanged.Equal(t2))
}

func TestHeartbeatKeepsCapacityAboveOccupied(t *testing.T) {
	ctx := t.Context()
	pool := testPool(t)
	t0 := time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC)
	h := newHandlers(t, pool, t0)
	p := payload(t0, "4", "1024")
	p.Slots["cuda.device"] = jobs.AgentSlot{Type: "count", Amount: "2"}
	require.NoError(t, h.HandleAgentHeartbeat(ctx, heartbeat(t, p)))
	_, err := pool.Exec(ctx, `UPDATE agent_slots SET occupied = 3 WHERE agent_id = 'i-node1' AND slot = 'cpu'`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE agent_slots SET occupied = 1 WHERE agent_id = 'i-node1' AND slot = 'cuda.device'`)
	require.NoError(t, err)

	// The agent now reports 2 CPUs (3 are occupied) and no GPU (1 is occupied).
	require.NoError(t, h.HandleAgentHeartbeat(ctx, heartbeat(t, payload(t0.Add(time.Second), "2", "2048"))))
	require.Equal(t, map[string]string{"cpu": "3/3", "cuda.device": "1/1", "mem": "2048/0"}, slotMap(t, pool, "i-node1"))

	// Once it reports enough again, the reported capacity applies.
	require.NoError(t, h.HandleAgentHeartbeat(ctx, heartbeat(t, payload(t0.Add(2*time.Second), "6", "2048"))))
	require.Equal(t, "6/3", slotMap(t, pool, "i-node1")["cpu"])
}

func TestHeartbeatRejects(t *testing.T) {
	ctx := t.Context()
	pool := testPool(t)
	t0 := time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC)
	h := newHandlers(t, pool, t0)

	p := payload(t0, "4", "1024")
	p.ScalingGroup = "nowhere"
	err := h.HandleAgentHeartbeat(ctx, heartbeat(t, p))
	require.ErrorIs(t, err, asynq.SkipRetry)
	_, err = db.Q.AgentGet(ctx, pool, "i-node1")
	require.ErrorIs(t, db.Translate(err), db.ErrNotFound)

	for name, mutate := range map[string]func(*jobs.AgentHeartbeatPayload){
		"no id":   func(p *jobs.AgentHeartbeatPayload) { p.AgentID = "" },
		"no time": func(p *jobs.AgentHeartbeatPayload) { p.Time = time.Time{} },
	} {
		p := payload(t0, "4", "1024")
		mutate(&p)
		require.ErrorIs(t, h.HandleAgentHeartbeat(ctx, heartbeat(t, p)), asynq.SkipRetry, name)
	}
	require.ErrorIs(t, h.HandleAgentHeartbeat(ctx, asynq.NewTask(jobs.TypeAgentHeartbeat, []byte("{"))), asynq.SkipRetry)
}

// testQueuePrefix returns a queue prefix no other test uses; its Redis keys are deleted
// when the test ends.
func testQueuePrefix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	prefix := "test-" + hex.EncodeToString(b) + "-"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rdb := redis.NewClient(&redis.Options{Addr: testRedisAddr, Password: halfstack.RedisPassword()})
		defer rdb.Close()
		for q := range jobs.Queues(prefix) {
			var keys []string
			iter := rdb.Scan(ctx, 0, "asynq:{"+q+"}*", 1000).Iterator()
			for iter.Next(ctx) {
				keys = append(keys, iter.Val())
			}
			require.NoError(t, iter.Err())
			if len(keys) > 0 {
				require.NoError(t, rdb.Del(ctx, keys...).Err())
			}
			require.NoError(t, rdb.SRem(ctx, "asynq:queues", q).Err())
		}
	})
	return prefix
}

// TestSimulatedAgentsEndToEnd runs five simulated agents that enqueue heartbeats into Redis
// and an asynq server with the agent handlers that applies them to PostgreSQL.
func TestSimulatedAgentsEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	pool := testPool(t)
	prefix := testQueuePrefix(t)
	redisOpt := asynq.RedisClientOpt{Addr: testRedisAddr, Password: halfstack.RedisPassword()}

	mux := asynq.NewServeMux()
	require.NoError(t, agent.Register(mux, &worker.Deps{Pool: pool, Logger: testLogger(), Now: time.Now}))
	srv := asynq.NewServer(redisOpt, asynq.Config{
		Concurrency:       4,
		Queues:            jobs.Queues(prefix),
		TaskCheckInterval: 20 * time.Millisecond,
		LogLevel:          asynq.ErrorLevel,
	})
	require.NoError(t, srv.Start(mux))
	defer srv.Shutdown()

	client := asynq.NewClient(redisOpt)
	defer client.Close()
	cfg, err := agentd.Parse([]byte("[resource]\nslots = { cpu = \"4\", mem = \"8g\" }\n"), agentd.Host{Hostname: "e2e", NumCPU: 2, MemTotal: 1 << 30})
	require.NoError(t, err)
	cfg.Agent.RPCListenAddr = config.HostPort{Host: "127.0.0.1", Port: 0}
	start := time.Now().Truncate(time.Second)
	var clockMu = make(chan struct{}, 1)
	now := start
	tick := make(chan time.Time)
	sim, err := agentd.Simulate(cfg, 5, jobs.NewEnqueuer(client, prefix), agentd.Options{
		Logger: testLogger(),
		Tick:   tick,
		Now: func() time.Time {
			clockMu <- struct{}{}
			defer func() { <-clockMu }()
			return now
		},
	})
	require.NoError(t, err)
	simCtx, stopSim := context.WithCancel(ctx)
	simDone := make(chan error, 1)
	go func() { simDone <- sim.Run(simCtx) }()
	defer func() {
		stopSim()
		require.NoError(t, <-simDone)
	}()

	// waitAgents polls until every simulated agent is ALIVE with the configured capacities
	// and a last heartbeat at or after since.
	waitAgents := func(since time.Time) {
		t.Helper()
		poll := time.NewTicker(20 * time.Millisecond)
		defer poll.Stop()
		for {
			rows, err := db.Q.AgentSlotListAliveInScalingGroups(ctx, pool, []string{"default"})
			require.NoError(t, err)
			good := map[string]int{}
			for _, r := range rows {
				if (r.Slot == "cpu" && r.Capacity.Equal(decimal.NewFromInt(4))) ||
					(r.Slot == "mem" && r.Capacity.Equal(decimal.NewFromInt(8<<30))) {
					good[r.AgentID]++
				}
			}
			fresh := 0
			for _, a := range sim.Agents() {
				row, err := db.Q.AgentGet(ctx, pool, a.ID())
				if err == nil && good[a.ID()] == 2 && row.Addr == a.Addr() && row.LastHeartbeat != nil && !row.LastHeartbeat.Before(since) {
					fresh++
				}
			}
			if fresh == 5 {
				return
			}
			select {
			case <-poll.C:
			case <-ctx.Done():
				t.Fatalf("only %d of 5 agents registered with heartbeat ≥ %s before the deadline", fresh, since)
			}
		}
	}
	waitAgents(start)

	// A tick makes every agent send a newer heartbeat.
	clockMu <- struct{}{}
	now = start.Add(3 * time.Second)
	<-clockMu
	select {
	case tick <- now:
	case <-ctx.Done():
		t.Fatal("tick not taken")
	}
	waitAgents(start.Add(3 * time.Second))

	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM agents WHERE status = 'ALIVE'`).Scan(&n))
	require.Equal(t, 5, n)
}

// A heartbeat's invalid slots never reach the scheduler: garbage amounts, names and types are
// dropped, amounts beyond the bounds are clipped, and the rest of the heartbeat applies, so the
// agent stays ALIVE.
func TestHeartbeatDropsOrClipsInvalidSlots(t *testing.T) {
	ctx := t.Context()
	pool := testPool(t)
	t0 := time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC)
	h := newHandlers(t, pool, t0)

	p := payload(t0, "1e400", "8589934592")
	for name, s := range map[string]jobs.AgentSlot{
		"neg":          {Type: "count", Amount: "-1"},
		"nan":          {Type: "count", Amount: "NaN"},
		"inf":          {Type: "count", Amount: "Infinity"},
		"word":         {Type: "count", Amount: "x"},
		"weird":        {Type: "weird", Amount: "1"},
		"long":         {Type: "count", Amount: strings.Repeat("9", 400)},
		"":             {Type: "count", Amount: "1"},
		"nul\x00":      {Type: "count", Amount: "1"},
		"big.mem":      {Type: "bytes", Amount: "1e30"},
		"cuda.shares":  {Type: "count", Amount: "2"},
		"huge.devices": {Type: "unique", Amount: "1e308"},
	} {
		p.Slots[name] = s
	}
	require.NoError(t, h.HandleAgentHeartbeat(ctx, heartbeat(t, p)))
	a, err := db.Q.AgentGet(ctx, pool, "i-node1")
	require.NoError(t, err)
	require.Equal(t, dbsqlc.AgentStatusALIVE, a.Status)
	require.Equal(t, map[string]string{
		"cpu": "1000000000000/0", "mem": "8589934592/0", "cuda.shares": "2/0",
		"big.mem": "9007199254740992/0", "huge.devices": "1000000000000/0",
	}, slotMap(t, pool, "i-node1"))
}
