package authapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/fixture"
)

func exec(t *testing.T, env *functionstest.Env, sql string, args ...any) {
	t.Helper()
	_, err := env.DB.Pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err)
}

type authorized struct {
	Data struct {
		AccessKey string `json:"access_key"`
		SecretKey string `json:"secret_key"`
		Role      string `json:"role"`
		Status    string `json:"status"`
	} `json:"data"`
}

func login(domain, user, password string) map[string]any {
	return map[string]any{"type": "keypair", "domain": domain, "username": user, "password": password}
}

func TestAuthorize(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)

	// The user's main keypair, usable to sign requests.
	res := env.Do(t, http.MethodPost, "/auth/authorize", login("default", fixture.UserEmail, fixture.UserPassword), nil)
	res.RequireStatus(t, http.StatusOK)
	var a authorized
	res.JSON(t, &a)
	require.Equal(t, fixture.UserAccessKey, a.Data.AccessKey)
	require.Equal(t, fixture.UserSecretKey, a.Data.SecretKey)
	require.Equal(t, "user", a.Data.Role)
	require.Equal(t, "active", a.Data.Status)
	creds := auth.Credentials{AccessKey: a.Data.AccessKey, SecretKey: a.Data.SecretKey}
	env.Do(t, http.MethodGet, "/auth?echo=hi", nil, &creds).RequireStatus(t, http.StatusOK)

	// The main key even when the user has another (admin) keypair, which Backend.AI would pick.
	exec(t, env, `INSERT INTO keypairs (access_key, secret_key, user_id, "user", is_admin, resource_policy)
		VALUES ('AKIAOTHERKEYEXAMPLE0', 'secret', 'user@lablup.com', $1, true, 'default')`, fixture.UserUUID)
	body := login("default", fixture.UserEmail, fixture.UserPassword)
	body["otp"] = "ignored" // extra keys are allowed
	res = env.Do(t, http.MethodPost, "/auth/authorize", body, nil)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &a)
	require.Equal(t, fixture.UserAccessKey, a.Data.AccessKey)

	res = env.Do(t, http.MethodPost, "/auth/authorize", login("default", fixture.SuperadminEmail, fixture.SuperadminPassword), nil)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &a)
	require.Equal(t, fixture.SuperadminAccessKey, a.Data.AccessKey)
	require.Equal(t, "superadmin", a.Data.Role)

	// Signed requests are fine too (the route ignores credentials).
	env.Do(t, http.MethodPost, "/auth/authorize", login("default", fixture.UserEmail, fixture.UserPassword), &functionstest.User2).
		RequireStatus(t, http.StatusOK)

	// Failures.
	for _, b := range []map[string]any{
		login("default", fixture.UserEmail, "wrong"),
		login("default", "nobody@lablup.com", fixture.UserPassword),
		login("other", fixture.UserEmail, fixture.UserPassword),
	} {
		p := env.Do(t, http.MethodPost, "/auth/authorize", b, nil).RequireProblem(t, 401, "auth-failed")
		require.Equal(t, "User credential mismatch.", p.Msg)
	}
	b := login("default", fixture.UserEmail, fixture.UserPassword)
	b["type"] = "jwt"
	p := env.Do(t, http.MethodPost, "/auth/authorize", b, nil).RequireProblem(t, 400, "invalid-api-params")
	require.Equal(t, "Unsupported authorization type", p.Msg)
	delete(b, "type")
	env.Do(t, http.MethodPost, "/auth/authorize", b, nil).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/auth/authorize", map[string]any{"type": "keypair", "domain": "default", "username": fixture.UserEmail}, nil).
		RequireProblem(t, 400, "invalid-api-params")

	// Accounts that may not log in.
	exec(t, env, `UPDATE users SET status = 'before-verification' WHERE email = $1`, fixture.UserEmail)
	p = env.Do(t, http.MethodPost, "/auth/authorize", login("default", fixture.UserEmail, fixture.UserPassword), nil).RequireProblem(t, 401, "auth-failed")
	require.Equal(t, "This account needs email verification.", p.Msg)
	exec(t, env, `UPDATE users SET status = 'inactive' WHERE email = $1`, fixture.UserEmail)
	p = env.Do(t, http.MethodPost, "/auth/authorize", login("default", fixture.UserEmail, fixture.UserPassword), nil).RequireProblem(t, 401, "auth-failed")
	require.Equal(t, "User credential mismatch.", p.Msg)
	exec(t, env, `UPDATE keypairs SET is_active = false WHERE access_key = $1`, fixture.SuperadminAccessKey)
	p = env.Do(t, http.MethodPost, "/auth/authorize", login("default", fixture.SuperadminEmail, fixture.SuperadminPassword), nil).RequireProblem(t, 401, "auth-failed")
	require.Equal(t, "No API keypairs found.", p.Msg)
}

func TestEcho(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)

	type echo struct {
		Authorized string `json:"authorized"`
		Echo       string `json:"echo"`
	}
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/auth?echo=hello", nil},
		{http.MethodPost, "/auth", map[string]any{"echo": "hello"}},
		{http.MethodGet, "/auth/test", map[string]any{"echo": "hello"}},
		{http.MethodPost, "/auth/test?echo=hello", nil},
	} {
		res := env.Do(t, tc.method, tc.path, tc.body, &functionstest.User)
		res.RequireStatus(t, http.StatusOK)
		var e echo
		res.JSON(t, &e)
		require.Equal(t, echo{Authorized: "yes", Echo: "hello"}, e, tc.path)
	}
	env.Do(t, http.MethodGet, "/auth?echo=x", nil, nil).RequireProblem(t, 400, "invalid-auth-params")
	bad := functionstest.User
	bad.SecretKey = "not-the-secret"
	env.Do(t, http.MethodGet, "/auth?echo=x", nil, &bad).RequireProblem(t, 401, "auth-failed")
	env.Do(t, http.MethodGet, "/auth", nil, &functionstest.User).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodGet, "/auth?echo=x&extra=y", nil, &functionstest.User).RequireProblem(t, 400, "invalid-api-params")
}

func TestRole(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	exec(t, env, `INSERT INTO groups (id, name, domain_name, resource_policy)
		VALUES ('11111111-2222-3333-4444-555555555555', 'closed', 'default', 'default')`)

	type role struct {
		GlobalRole string  `json:"global_role"`
		DomainRole string  `json:"domain_role"`
		GroupRole  *string `json:"group_role"`
	}
	get := func(path string, creds *auth.Credentials) role {
		t.Helper()
		res := env.Do(t, http.MethodGet, path, nil, creds)
		res.RequireStatus(t, http.StatusOK)
		require.Contains(t, string(res.Body), `"group_role":`)
		var r role
		res.JSON(t, &r)
		return r
	}
	member := "user"
	require.Equal(t, role{GlobalRole: "user", DomainRole: "user"}, get("/auth/role", &functionstest.User))
	require.Equal(t, role{GlobalRole: "superadmin", DomainRole: "admin"}, get("/auth/role", &functionstest.Superadmin))
	require.Equal(t, role{GlobalRole: "user", DomainRole: "admin"}, get("/auth/role", &functionstest.DomainAdmin))
	require.Equal(t, role{GlobalRole: "user", DomainRole: "user", GroupRole: &member},
		get("/auth/role?group="+fixture.DefaultProjectID, &functionstest.User))

	p := env.Do(t, http.MethodGet, "/auth/role?group=11111111-2222-3333-4444-555555555555", nil, &functionstest.User).
		RequireProblem(t, 404, "object-not-found")
	require.Equal(t, "No such project (user group).", p.Title)
	env.Do(t, http.MethodGet, "/auth/role", map[string]any{"group": "default"}, &functionstest.User).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodGet, "/auth/role", nil, nil).RequireProblem(t, 400, "invalid-auth-params")
}

// TestAuthorizeAttemptsLimited: password attempts at POST /auth/authorize go through the
// shared limiter, atomically: concurrent wrong passwords from one address get at most the
// address's attempts checked; the right password is then refused from that address (429 with
// Retry-After) and works from another one once the account's delay has passed.
func TestAuthorizeAttemptsLimited(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	// The test's client reaches the API through a "proxy" at 127.0.0.1.
	env.Deps.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	start := time.Now()
	env.Clock.Set(start)
	lim := env.Deps.PasswordLimiter().Limits()
	from := func(addr string) string { return "X-Forwarded-For: " + addr }

	var checked, refused atomic.Int32
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			res := env.Do(t, http.MethodPost, "/auth/authorize", login("default", fixture.SuperadminEmail, "guess"), nil, from("198.51.100.1"))
			switch res.Status {
			case http.StatusUnauthorized:
				checked.Add(1)
			case http.StatusTooManyRequests:
				require.NotEmpty(t, res.Header.Get("Retry-After"))
				refused.Add(1)
			default:
				t.Errorf("status %d: %s", res.Status, res.Body)
			}
		})
	}
	wg.Wait()
	require.LessOrEqual(t, int(checked.Load()), lim.AddressAttempts)
	require.EqualValues(t, 40, checked.Load()+refused.Load())

	// 40 concurrent attempts for 40 accounts from one address: exactly the address's
	// attempts are checked.
	checked.Store(0)
	for i := range 40 {
		wg.Go(func() {
			res := env.Do(t, http.MethodPost, "/auth/authorize", login("default", fmt.Sprintf("u%d@example.com", i), "guess"), nil, from("198.51.100.2"))
			if res.Status == http.StatusUnauthorized {
				checked.Add(1)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, lim.AddressAttempts, checked.Load())

	// The right password from the blocked address is refused.
	res := env.Do(t, http.MethodPost, "/auth/authorize", login("default", fixture.SuperadminEmail, fixture.SuperadminPassword), nil, from("198.51.100.1"))
	p := res.RequireProblem(t, http.StatusTooManyRequests, "rate-limit-exceeded")
	require.Contains(t, p.Msg, "from this address")
	retry, err := strconv.Atoi(res.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.Greater(t, retry, 800)

	// From another address it works once the account's (short) delay has passed.
	env.Clock.Set(start.Add(lim.AccountMaxDelay))
	res = env.Do(t, http.MethodPost, "/auth/authorize", login("default", fixture.SuperadminEmail, fixture.SuperadminPassword), nil, from("203.0.113.1"))
	res.RequireStatus(t, http.StatusOK)
	// The success cleared the account: no delay for its owner's next typo.
	env.Do(t, http.MethodPost, "/auth/authorize", login("default", fixture.SuperadminEmail, "typo"), nil, from("203.0.113.1")).
		RequireProblem(t, http.StatusUnauthorized, "auth-failed")

	// Invalid text never reaches the database.
	env.Do(t, http.MethodPost, "/auth/authorize", login("default", "a\u0000b@example.com", "x"), nil).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
}
