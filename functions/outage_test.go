package functions_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/fixture"
	"github.com/hangar-run/hangar/internal/metricstest"
	"github.com/hangar-run/hangar/internal/nettest"
)

// deadPool is a pool whose server is gone (a closed port).
func deadPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@"+nettest.ClosedAddr(t)+"/hangar?connect_timeout=2")
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// TestDatabaseOutage: with PostgreSQL unreachable, signed requests, logins and handlers that
// hit the database answer 503 service-unavailable with Retry-After, quickly, whichever way
// the error reaches the pipeline.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	down := deadPool(t)
	env := functionstest.New(t, testOps, func(s *functions.Server) {
		// A handler returning the raw driver error (huma's unexpected-error path) and one
		// returning it through FromDB.
		huma.Register(s.API(), functions.Op(functions.OpSpec{ID: "t-db-raw", Method: http.MethodGet, Path: "/t/db-raw", Tag: "test", Summary: "raw"}),
			func(ctx context.Context, _ *struct{}) (*struct{}, error) {
				_, err := db.Q.KeypairGetForAuth(ctx, down, "AKIANOPE")
				return nil, fmt.Errorf("load: %w", err)
			})
		huma.Register(s.API(), functions.Op(functions.OpSpec{ID: "t-db-fromdb", Method: http.MethodPost, Path: "/t/db-fromdb", Tag: "test", Summary: "fromdb"}),
			func(ctx context.Context, _ *struct{}) (*struct{}, error) {
				_, err := db.Q.KeypairGetForAuth(ctx, down, "AKIANOPE")
				return nil, functions.FromDB(err, "keypair")
			})
	})
	env.Deps.Pool = down

	requireOutage := func(res *functionstest.Response) {
		t.Helper()
		p := res.RequireProblem(t, http.StatusServiceUnavailable, "service-unavailable")
		require.Equal(t, "The database is unavailable; retry shortly.", p.Msg)
		require.Equal(t, fmt.Sprint(functions.DatabaseRetryAfter), res.Header.Get("Retry-After"))
	}
	requireOutage(signedFrom(t, env, "127.0.0.1", http.MethodGet, "/t/echo", &functionstest.User))
	requireOutage(signedFrom(t, env, "127.0.0.1", http.MethodGet, "/session/x", &functionstest.User))
	requireOutage(signedFrom(t, env, "127.0.0.1", http.MethodPost, "/session", &functionstest.User))
	requireOutage(signedFrom(t, env, "127.0.0.1", http.MethodGet, "/t/db-raw", nil))
	requireOutage(signedFrom(t, env, "127.0.0.1", http.MethodPost, "/t/db-fromdb", nil))
	requireOutage(env.Do(t, http.MethodPost, "/auth/authorize",
		map[string]any{"type": "keypair", "domain": "default", "username": fixture.UserEmail, "password": fixture.UserPassword}, nil))
}

// TestRedisOutage: with Redis hanging, the rate limit still holds (a per-process fallback),
// counted in hangar_ratelimit_fallbacks_total, and requests do not wait on Redis; the
// password limits hold as well.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t, testOps)
	_, err := env.DB.Pool.Exec(context.Background(), `UPDATE keypairs SET rate_limit = 3 WHERE access_key = $1`, functionstest.User2.AccessKey)
	require.NoError(t, err)
	// A client with go-redis's default timeouts (3 s reads, retries): the API's own bound must
	// keep requests short.
	hung := redis.NewClient(&redis.Options{Addr: nettest.SilentServer(t)})
	t.Cleanup(func() { _ = hung.Close() })
	env.Deps.Redis = hung

	for i := 1; i <= 3; i++ {
		res := signedFrom(t, env, "127.0.0.1", http.MethodGet, "/t/echo", &functionstest.User2)
		res.RequireStatus(t, http.StatusOK)
		require.Equal(t, "3", res.Header.Get("X-RateLimit-Limit"))
		require.Equal(t, fmt.Sprint(3-i), res.Header.Get("X-RateLimit-Remaining"))
	}
	signedFrom(t, env, "127.0.0.1", http.MethodGet, "/t/echo", &functionstest.User2).RequireProblem(t, http.StatusTooManyRequests, "rate-limit-exceeded")
	signedFrom(t, env, "127.0.0.1", http.MethodGet, "/t/echo", &functionstest.User).RequireStatus(t, http.StatusOK)
	require.GreaterOrEqual(t, metricstest.ScrapeRegistry(t, env.Metrics).Value(t, "hangar_ratelimit_fallbacks_total", map[string]string{"limiter": "api"}), 5.0)

	// Password attempts stay limited per address.
	login := func(password string) *functionstest.Response {
		return env.Do(t, http.MethodPost, "/auth/authorize",
			map[string]any{"type": "keypair", "domain": "default", "username": fixture.UserEmail, "password": password}, nil)
	}
	login(fixture.UserPassword).RequireStatus(t, http.StatusOK)
	lim := env.Deps.PasswordLimiter().Limits()
	for range lim.AccountFreeFailures {
		login("guess").RequireProblem(t, http.StatusUnauthorized, "auth-failed")
	}
	res := login(fixture.UserPassword)
	res.RequireProblem(t, http.StatusTooManyRequests, "rate-limit-exceeded")
	require.Equal(t, "1", res.Header.Get("Retry-After"))
	require.Positive(t, metricstest.ScrapeRegistry(t, env.Metrics).Value(t, "hangar_ratelimit_fallbacks_total", map[string]string{"limiter": "password"}))
	// The window and the delay are on the API's clock.
	env.Clock.Set(time.Now().Add(lim.AccountMaxDelay))
	login(fixture.UserPassword).RequireStatus(t, http.StatusOK)
}
