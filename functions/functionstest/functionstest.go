// Package functionstest runs the whole API against the real halfstack for tests: a fresh
// database with the example fixtures, Redis with a private key prefix, etcd with a private
// namespace, an httptest server, and signed requests. Use it only from _test.go files.
package functionstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/api"
	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/dbtest"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/fixture"
	"github.com/hangar-run/hangar/internal/halfstack"
	"github.com/hangar-run/hangar/jobs"
)

// The example keypairs the fixtures load.
var (
	Superadmin  = auth.Credentials{AccessKey: fixture.SuperadminAccessKey, SecretKey: fixture.SuperadminSecretKey}   //nolint:gochecknoglobals
	DomainAdmin = auth.Credentials{AccessKey: fixture.DomainAdminAccessKey, SecretKey: fixture.DomainAdminSecretKey} //nolint:gochecknoglobals
	User        = auth.Credentials{AccessKey: fixture.UserAccessKey, SecretKey: fixture.UserSecretKey}               //nolint:gochecknoglobals
	User2       = auth.Credentials{AccessKey: fixture.User2AccessKey, SecretKey: fixture.User2SecretKey}             //nolint:gochecknoglobals
	Monitor     = auth.Credentials{AccessKey: fixture.MonitorAccessKey, SecretKey: fixture.MonitorSecretKey}         //nolint:gochecknoglobals
)

// RedisAddr is the Redis tests use: TEST_REDIS_ADDR or the halfstack's.
func RedisAddr() string { return halfstack.RedisAddr() }

// RedisPassword is the password of RedisAddr: TEST_REDIS_PASSWORD or the halfstack's.
func RedisPassword() string { return halfstack.RedisPassword() }

// RedisOpt returns the asynq connection options of RedisAddr, with its credentials.
func RedisOpt() asynq.RedisClientOpt { return halfstack.AsynqRedisOpt() }

// EtcdAddr is the etcd tests use: TEST_ETCD_ADDR or the halfstack's.
func EtcdAddr() string { return halfstack.EtcdAddr() }

// Clock is a settable clock; its zero value follows the wall clock.
type Clock struct {
	mu  sync.Mutex
	set time.Time
}

// Now returns the set time, or the wall clock when none is set.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set.IsZero() {
		return time.Now()
	}
	return c.set
}

// Set pins the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.set = t
	c.mu.Unlock()
}

// Env is one running API with its own state.
type Env struct {
	DB        *dbtest.Database
	Redis     *redis.Client
	Etcd      *config.Etcd
	Namespace string
	Shared    *config.Shared
	Deps      *functions.Deps
	Server    *functions.Server
	HTTP      *httptest.Server
	Clock     *Clock
	// Metrics is the registry the API's collectors are registered on.
	Metrics *prometheus.Registry
	// SignSkew shifts the Date clients sign with away from the server's clock.
	SignSkew time.Duration
}

// New starts an Env for t, torn down when t ends. extra registers test-only operations on
// the server before it starts serving.
func New(t testing.TB, extra ...func(*functions.Server)) *Env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d := dbtest.NewDatabase(t)
	require.NoError(t, fixture.LoadExamples(ctx, d.Pool, fixture.Options{BcryptCost: 4}))

	rdb := halfstack.NewRedis()
	t.Cleanup(func() { _ = rdb.Close() })
	ns := "test-" + randHex(6)
	etcd, err := config.DialEtcd(ctx, EtcdAddr(), ns, halfstack.EtcdUser(), halfstack.EtcdPassword())
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = etcd.DeletePrefix(context.Background(), "")
		_ = etcd.Close()
	})
	shared, err := config.NewShared(ctx, etcd)
	require.NoError(t, err)
	t.Cleanup(func() { _ = shared.Close() })

	prefix := ns + ":"
	aq := asynq.NewClient(RedisOpt())
	t.Cleanup(func() { _ = aq.Close() })
	hub, err := events.NewHub(ctx, rdb, prefix, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = hub.Close() })
	agents := agentrpc.NewPool(agentrpc.ClientOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() { _ = agents.Close() })

	clock := &Clock{}
	reg := prometheus.NewRegistry()
	deps := &functions.Deps{
		Pool:             d.Pool,
		Redis:            rdb,
		Shared:           shared,
		Etcd:             etcd,
		Now:              clock.Now,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		RedisPrefix:      prefix,
		ManagerID:        "i-test",
		ServiceAddr:      "127.0.0.1:0",
		HeartbeatTimeout: 40,
		BcryptCost:       4,
		Enqueuer:         jobs.NewEnqueuer(aq, prefix),
		Events:           hub,
		Agents:           agents,
		Metrics:          reg,
	}
	srv := api.New(deps)
	for _, register := range extra {
		register(srv)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	t.Cleanup(func() {
		ctx := context.Background()
		for _, pattern := range []string{ns + ":*", "asynq:{" + prefix + "*"} {
			keys, _ := rdb.Keys(ctx, pattern).Result()
			if len(keys) > 0 {
				_ = rdb.Del(ctx, keys...).Err()
			}
		}
		for q := range jobs.Queues(prefix) {
			_ = rdb.SRem(ctx, "asynq:queues", q).Err()
		}
	})
	return &Env{DB: d, Redis: rdb, Etcd: etcd, Namespace: ns, Shared: shared, Deps: deps, Server: srv, HTTP: hs, Clock: clock, Metrics: reg}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Response is a recorded answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body, v), "body: %s", r.Body)
}

// Problem decodes a problem+json body and checks its content type.
func (r *Response) Problem(t testing.TB) functions.Problem {
	t.Helper()
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), "body: %s", r.Body)
	var p functions.Problem
	r.JSON(t, &p)
	return p
}

// RequireProblem checks status and Backend.AI error type slug.
func (r *Response) RequireProblem(t testing.TB, status int, slug string) functions.Problem {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	p := r.Problem(t)
	require.Equal(t, functions.ProblemBase+slug, p.Type, "body: %s", r.Body)
	return p
}

// RequireStatus checks the status.
func (r *Response) RequireStatus(t testing.TB, status int) {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
}

// Do sends a request signed with creds (unsigned when creds is nil). body is JSON-encoded
// unless it is nil, a string or []byte. Extra headers are "Name: value" strings.
func (e *Env) Do(t testing.TB, method, path string, body any, creds *auth.Credentials, headers ...string) *Response {
	t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
		ct = "application/json"
	case string:
		rd = strings.NewReader(b)
		ct = "application/json"
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
		ct = "application/json"
	}
	req, err := http.NewRequest(method, e.HTTP.URL+path, rd)
	require.NoError(t, err)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if creds != nil {
		require.NoError(t, creds.SignRequest(req, functions.APIVersion, e.Clock.Now().Add(e.SignSkew)))
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return &Response{Status: res.StatusCode, Header: res.Header, Body: out}
}

// Open sends a request signed with creds (unsigned when nil) and returns the response as
// soon as its headers arrive, for streamed answers such as Server-Sent Events: the caller reads
// the body and may close it to disconnect. The request has no body and no Content-Type, as
// Backend.AI clients send streaming requests. The body is closed when t ends.
func (e *Env) Open(t testing.TB, method, path string, creds *auth.Credentials, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.HTTP.URL+path, nil)
	require.NoError(t, err)
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if creds != nil {
		require.NoError(t, creds.SignRequest(req, functions.APIVersion, e.Clock.Now().Add(e.SignSkew)))
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = res.Body.Close() })
	return res
}
