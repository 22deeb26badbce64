package session_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	pgxdecimal "github.com/jackc/pgx-shopspring-decimal"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/cache"
)

// commitCounter is a pgx tracer that counts the transactions a pool's statements end
// outside an explicit transaction block: each autocommit statement and each COMMIT (what
// PostgreSQL's xact_commit counts), and it records their SQL.
type commitCounter struct {
	mu      sync.Mutex
	commits []string
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
	defer c.mu.Unlock()
	first, _, _ := strings.Cut(strings.TrimSpace(sql), "\n")
	c.commits = append(c.commits, first)
}

// take returns the statements that committed since the last call.
func (c *commitCounter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.commits
	c.commits = nil
	return out
}

// countCommits makes env's API use a pool on the same database whose commits are counted.
func countCommits(t *testing.T, env *functionstest.Env) *commitCounter {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(env.DB.DSN)
	require.NoError(t, err)
	c := &commitCounter{}
	cfg.ConnConfig.Tracer = c
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		pgxdecimal.Register(conn.TypeMap())
		return nil
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	env.Deps.Pool = pool
	return c
}

// A create commits once: its reads of fresh data (agent capacity, dependencies, a live
// session of the same name) and its insert share one transaction. So does a create that
// returns an existing session, and one that depends on another session.
func TestCreateCommitsOnce(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	commits := countCommits(t, env)
	// As in the API process, the lookups that rarely change (keypair, policy, project,
	// image, scaling groups) come from the cache, filled once.
	env.Deps.Cache = cache.New(cache.Options{TTL: time.Hour})
	createOK(t, env, map[string]any{"name": "warm-up", "image": "python", "enqueueOnly": true})
	commits.take()

	first := createOK(t, env, map[string]any{"name": "counted", "image": "python", "enqueueOnly": true})
	require.Len(t, commits.take(), 1, "a create")

	res := env.Do(t, http.MethodPost, "/session", map[string]any{"name": "counted", "image": "python", "enqueueOnly": true}, &functionstest.User)
	res.RequireStatus(t, http.StatusCreated)
	var again map[string]any
	res.JSON(t, &again)
	require.Equal(t, first.SessionID, again["sessionId"])
	require.Len(t, commits.take(), 1, "a create answered with an existing session")

	createOK(t, env, map[string]any{"name": "dependent", "image": "python", "enqueueOnly": true,
		"dependencies": []string{"counted", "warm-up"}})
	require.Len(t, commits.take(), 1, "a create with dependencies")

	res = env.Do(t, http.MethodPost, "/session", map[string]any{"name": "orphan", "image": "python", "enqueueOnly": true,
		"dependencies": []string{"no-such-session"}}, &functionstest.User)
	res.RequireProblem(t, http.StatusNotFound, "object-not-found")
	require.Empty(t, commits.take(), "a refused create commits nothing")
}
