package agent_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	pgxdecimal "github.com/jackc/pgx-shopspring-decimal"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/halfstack"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
	"github.com/hangar-run/hangar/jobs/agent"
)

// commitCounter is a pgx tracer counting the transactions a pool's statements end outside an
// explicit transaction block (each autocommit statement and each COMMIT: what PostgreSQL's
// xact_commit counts).
type commitCounter struct {
	mu sync.Mutex
	n  int
}

type sqlKey struct{}

func (c *commitCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, sqlKey{}, data.SQL)
}

func (c *commitCounter) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryEndData) {
	sql, _ := ctx.Value(sqlKey{}).(string)
	if data.Err != nil || conn.PgConn().TxStatus() != 'I' || strings.EqualFold(strings.TrimSpace(sql), "rollback") {
		return
	}
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
}

func (c *commitCounter) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = 0
	return n
}

// A heartbeat commits once, whatever it brings: a new agent, a known one with kernels to
// compare and utilization samples to store, a revival with its agent sync, a stale one.
func TestHeartbeatCommitsOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	fixtures := testPool(t)
	cfg := fixtures.Config().Copy()
	c := &commitCounter{}
	cfg.ConnConfig.Tracer = c
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		pgxdecimal.Register(conn.TypeMap())
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	defer pool.Close()
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: testRedisAddr, Password: halfstack.RedisPassword()})
	defer client.Close()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h, err := agent.New(&worker.Deps{Pool: pool, Logger: testLogger(), Enqueuer: jobs.NewEnqueuer(client, testQueuePrefix(t)),
		Now: func() time.Time { return t0 }})
	require.NoError(t, err)

	require.NoError(t, h.HandleAgentHeartbeat(ctx, heartbeat(t, payload(t0, "4", "8589934592"))))
	require.Equal(t, 1, c.take(), "a new agent")

	var kid uuid.UUID
	require.NoError(t, fixtures.QueryRow(ctx, `
		WITH s AS (
			INSERT INTO sessions (name, domain_name, group_id, user_uuid, access_key)
			SELECT 's1', 'default', id, (SELECT uuid FROM users LIMIT 1), 'AKIANABBDUSEREXAMPLE' FROM groups LIMIT 1
			RETURNING id, name, domain_name, group_id, user_uuid, access_key)
		INSERT INTO kernels (session_id, session_name, domain_name, group_id, user_uuid, access_key, agent, status, status_changed)
		SELECT id, name, domain_name, group_id, user_uuid, access_key, 'i-node1', 'RUNNING', $1 FROM s
		RETURNING id`, t0).Scan(&kid))
	cpu := 50.0
	p := payload(t0.Add(3*time.Second), "4", "8589934592")
	p.KernelIDs = []string{kid.String(), uuid.NewString()}
	p.Utilization = map[string]jobs.KernelUtilization{kid.String(): {CPUUtil: &cpu}}
	require.NoError(t, h.HandleAgentHeartbeat(ctx, heartbeat(t, p)))
	require.Equal(t, 1, c.take(), "kernels compared, samples stored")
	var samples int
	require.NoError(t, fixtures.QueryRow(ctx, `SELECT count(*) FROM kernel_utilization`).Scan(&samples))
	require.Equal(t, 1, samples)

	_, err = fixtures.Exec(ctx, `UPDATE agents SET status = 'LOST' WHERE id = 'i-node1'`)
	require.NoError(t, err)
	p.Time = t0.Add(6 * time.Second)
	require.NoError(t, h.HandleAgentHeartbeat(ctx, heartbeat(t, p)))
	require.Equal(t, 1, c.take(), "a revival")

	p.Time = t0
	require.NoError(t, h.HandleAgentHeartbeat(ctx, heartbeat(t, p)))
	require.Equal(t, 1, c.take(), "a stale heartbeat")
}
