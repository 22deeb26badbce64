package functions_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
)

type echoInput struct {
	Body struct {
		Name  string   `json:"name,omitempty"`
		Count int      `json:"count,omitempty"`
		Flag  bool     `json:"flag,omitempty"`
		Tags  []string `json:"tags,omitempty"`
	} `required:"false"`
}

type echoOutput struct {
	Body struct {
		Name   string   `json:"name"`
		Count  int      `json:"count"`
		Flag   bool     `json:"flag"`
		Tags   []string `json:"tags"`
		Caller string   `json:"caller"`
	}
}

// testOps registers operations that exercise the pipeline without depending on any API area.
func testOps(s *functions.Server) {
	echo := func(ctx context.Context, in *echoInput) (*echoOutput, error) {
		out := &echoOutput{}
		out.Body.Name, out.Body.Count, out.Body.Flag, out.Body.Tags = in.Body.Name, in.Body.Count, in.Body.Flag, in.Body.Tags
		if id := functions.IdentityFrom(ctx); id != nil {
			out.Body.Caller = id.AccessKey
		}
		return out, nil
	}
	for _, spec := range []functions.OpSpec{
		{ID: "t-user-echo", Method: http.MethodGet, Path: "/t/echo", Role: functions.User, Frozen: functions.ReadAllowed, Params: true},
		{ID: "t-user-write", Method: http.MethodPost, Path: "/t/write", Role: functions.User, Frozen: functions.WriteOp, Params: true},
		{ID: "t-admin", Method: http.MethodGet, Path: "/t/admin", Role: functions.Admin, Params: true},
		{ID: "t-superadmin", Method: http.MethodGet, Path: "/t/superadmin", Role: functions.Superadmin, Params: true},
	} {
		spec.Tag, spec.Summary = "test", spec.ID
		huma.Register(s.API(), functions.Op(spec), echo)
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{ID: "t-panic", Method: http.MethodGet, Path: "/t/panic", Tag: "test", Summary: "panics"}),
		func(context.Context, *struct{}) (*struct{}, error) { panic("boom") })
}

func TestVersionAndRouting(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t, testOps)

	res := env.Do(t, http.MethodGet, "/", nil, nil)
	res.RequireStatus(t, http.StatusOK)
	var v struct{ Version, Manager string }
	res.JSON(t, &v)
	require.Equal(t, "v8.20240315", v.Version)
	require.Equal(t, "24.03.2", v.Manager)
	require.Equal(t, "BackendAI", res.Header.Get("Server"))
	require.Equal(t, "1000", res.Header.Get("X-RateLimit-Limit"))
	require.NotContains(t, string(res.Body), "$schema")

	env.Do(t, http.MethodGet, "/", nil, nil, "X-BackendAI-Version: v9.20990101").RequireProblem(t, 400, "generic-bad-request")
	env.Do(t, http.MethodGet, "/", nil, nil, "X-BackendAI-Version: v7.20230615").RequireStatus(t, 200)

	p := env.Do(t, http.MethodGet, "/no/such/path", nil, nil).RequireProblem(t, 404, "url-not-found")
	require.Equal(t, "/no/such/path", p.Data)
	res = env.Do(t, http.MethodDelete, "/", nil, nil)
	res.RequireProblem(t, 405, "method-not-allowed")
	require.Contains(t, res.Header.Get("Allow"), "GET")
	// Paths match strictly: a trailing slash is another path.
	env.Do(t, http.MethodGet, "/t/echo/", nil, &functionstest.User).RequireProblem(t, 404, "url-not-found")

	// X-Method-Override re-dispatches, and the signature covers the overridden method.
	env.Do(t, http.MethodPost, "/t/echo", map[string]any{"name": "x"}, &functionstest.User, "X-Method-Override: GET").RequireStatus(t, 200)

	res = env.Do(t, http.MethodGet, "/t/panic", nil, nil)
	res.RequireProblem(t, 500, "internal-server-error")
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t, testOps)

	res := env.Do(t, http.MethodGet, "/t/echo", nil, &functionstest.User)
	res.RequireStatus(t, 200)
	var out struct{ Caller string }
	res.JSON(t, &out)
	require.Equal(t, functionstest.User.AccessKey, out.Caller)
	require.Equal(t, "30000", res.Header.Get("X-RateLimit-Limit"))

	env.Do(t, http.MethodGet, "/t/echo", nil, nil, "Date: "+time.Now().UTC().Format(http.TimeFormat)).
		RequireProblem(t, 401, "auth-failed")
	env.Do(t, http.MethodGet, "/t/echo", nil, nil).RequireProblem(t, 400, "invalid-auth-params")

	bad := functionstest.User
	bad.SecretKey = "not-the-secret"
	p := env.Do(t, http.MethodGet, "/t/echo", nil, &bad).RequireProblem(t, 401, "auth-failed")
	require.Equal(t, "Signature mismatch", p.Msg)

	unknown := auth.Credentials{AccessKey: "AKIAUNKNOWNKEY000000", SecretKey: "x"}
	p = env.Do(t, http.MethodGet, "/t/echo", nil, &unknown).RequireProblem(t, 401, "auth-failed")
	require.Equal(t, "Access key not found", p.Msg)

	// A date outside the ±15 minute window.
	env.SignSkew = -20 * time.Minute
	p = env.Do(t, http.MethodGet, "/t/echo", nil, &functionstest.User).RequireProblem(t, 400, "invalid-auth-params")
	require.Equal(t, "Date/time sync error", p.Msg)
	env.SignSkew = 14 * time.Minute
	env.Do(t, http.MethodGet, "/t/echo", nil, &functionstest.User).RequireStatus(t, 200)
	env.SignSkew = 0

	env.Do(t, http.MethodGet, "/t/echo", nil, nil, "Date: "+time.Now().UTC().Format(http.TimeFormat),
		"Authorization: Bearer x").RequireProblem(t, 400, "invalid-auth-params")

	// Roles: a role failure is a 401, as in Backend.AI.
	env.Do(t, http.MethodGet, "/t/admin", nil, &functionstest.User).RequireProblem(t, 401, "auth-failed")
	env.Do(t, http.MethodGet, "/t/admin", nil, &functionstest.DomainAdmin).RequireStatus(t, 200)
	env.Do(t, http.MethodGet, "/t/superadmin", nil, &functionstest.DomainAdmin).RequireProblem(t, 401, "auth-failed")
	env.Do(t, http.MethodGet, "/t/superadmin", nil, &functionstest.Superadmin).RequireStatus(t, 200)

	// A valid signature made with a key that is not the user's main key stays unauthenticated.
	ctx := context.Background()
	_, err := env.DB.Pool.Exec(ctx, `INSERT INTO keypairs (access_key, secret_key, user_id, "user", resource_policy)
		SELECT 'AKIASECONDKEY0000000', 'second-secret', email, uuid, 'default' FROM users WHERE email = 'user@lablup.com'`)
	require.NoError(t, err)
	second := auth.Credentials{AccessKey: "AKIASECONDKEY0000000", SecretKey: "second-secret"}
	p = env.Do(t, http.MethodGet, "/t/echo", nil, &second).RequireProblem(t, 401, "auth-failed")
	require.Equal(t, "Unauthorized access", p.Msg)

	// Public operations ignore credentials entirely, even broken ones.
	env.Do(t, http.MethodGet, "/", nil, &bad).RequireStatus(t, 200)
}

func TestParameters(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t, testOps)
	type echo struct {
		Name  string
		Count int
		Flag  bool
		Tags  []string
	}

	// A JSON body on GET.
	var got echo
	env.Do(t, http.MethodGet, "/t/echo", map[string]any{"name": "a", "count": 2, "flag": true}, &functionstest.User).JSON(t, &got)
	require.Equal(t, echo{Name: "a", Count: 2, Flag: true, Tags: nil}, got)

	// No body: the query string, typed by the body schema.
	got = echo{}
	res := env.Do(t, http.MethodGet, "/t/echo?name=b&count=3&flag=true&tags=x,y", nil, &functionstest.User)
	res.RequireStatus(t, 200)
	res.JSON(t, &got)
	require.Equal(t, echo{Name: "b", Count: 3, Flag: true, Tags: []string{"x", "y"}}, got)

	// Unknown keys are rejected, from the body and from the query alike.
	p := env.Do(t, http.MethodGet, "/t/echo", map[string]any{"nope": 1}, &functionstest.User).RequireProblem(t, 400, "invalid-api-params")
	require.Contains(t, p.Data, "nope")
	env.Do(t, http.MethodGet, "/t/echo?nope=1", nil, &functionstest.User).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodGet, "/t/echo", map[string]any{"count": "many"}, &functionstest.User).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodGet, "/t/echo", "{not json", &functionstest.User).RequireProblem(t, 400, "invalid-api-params")
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t, testOps)
	_, err := env.DB.Pool.Exec(context.Background(), `UPDATE keypairs SET rate_limit = 3 WHERE access_key = $1`, functionstest.User2.AccessKey)
	require.NoError(t, err)
	for i := 1; i <= 3; i++ {
		res := env.Do(t, http.MethodGet, "/t/echo", nil, &functionstest.User2)
		res.RequireStatus(t, 200)
		require.Equal(t, "3", res.Header.Get("X-RateLimit-Limit"))
		require.Equal(t, strings.TrimSpace(string(rune('0'+3-i))), res.Header.Get("X-RateLimit-Remaining"))
		require.Equal(t, "900", res.Header.Get("X-RateLimit-Window"))
	}
	env.Do(t, http.MethodGet, "/t/echo", nil, &functionstest.User2).RequireProblem(t, 429, "rate-limit-exceeded")
	// Other keys are unaffected.
	env.Do(t, http.MethodGet, "/t/echo", nil, &functionstest.User).RequireStatus(t, 200)
	// The window rolls: requests older than 900 s stop counting.
	start := time.Now()
	env.Clock.Set(start.Add(14 * time.Minute))
	env.Do(t, http.MethodGet, "/t/echo", nil, &functionstest.User2).RequireProblem(t, 429, "rate-limit-exceeded")
	env.Clock.Set(start.Add(30*time.Minute + time.Second))
	res := env.Do(t, http.MethodGet, "/t/echo", nil, &functionstest.User2)
	res.RequireStatus(t, 200)
	require.Equal(t, "2", res.Header.Get("X-RateLimit-Remaining"))
}

func TestFrozen(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t, testOps)
	ctx := context.Background()
	env.Do(t, http.MethodPost, "/t/write", nil, &functionstest.User).RequireStatus(t, 200)
	require.NoError(t, env.Etcd.Put(ctx, "manager/status", "frozen"))
	require.Eventually(t, func() bool { return env.Shared.ManagerStatus() == "frozen" }, 5*time.Second, 10*time.Millisecond)
	env.Do(t, http.MethodPost, "/t/write", nil, &functionstest.User).RequireProblem(t, 503, "server-frozen")
	env.Do(t, http.MethodGet, "/t/echo", nil, &functionstest.User).RequireStatus(t, 200)
	require.NoError(t, env.Etcd.Put(ctx, "manager/status", "running"))
	require.Eventually(t, func() bool { return env.Shared.ManagerStatus() == "running" }, 5*time.Second, 10*time.Millisecond)
	env.Do(t, http.MethodPost, "/t/write", nil, &functionstest.User).RequireStatus(t, 200)
}
