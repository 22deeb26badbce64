package dashboard

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/fixture"
)

// testBundle is a running API with the dashboard mounted.
type testBundle struct {
	env  *functionstest.Env
	dash *Dashboard
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	var dash *Dashboard
	env := functionstest.New(t, func(s *functions.Server) {
		var err error
		dash, err = Mount(t.Context(), s, Options{RedisOpt: asynq.RedisClientOpt{Addr: functionstest.RedisAddr()}})
		require.NoError(t, err)
		t.Cleanup(func() { _ = dash.Close() })
	})
	return &testBundle{env: env, dash: dash}
}

// client is a browser-like client: it keeps cookies and does not follow redirects.
func (b *testBundle) client(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, c *http.Client, method, u string, form url.Values, cookie *http.Cookie) answer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return answer{status: res.StatusCode, header: res.Header, body: string(raw)}
}

func (b *testBundle) login(t *testing.T, c *http.Client, email, password string) answer {
	t.Helper()
	return do(t, c, http.MethodPost, b.env.HTTP.URL+LoginPath, url.Values{"email": {email}, "password": {password}}, nil)
}

func TestLoginAndRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	base := b.env.HTTP.URL

	t.Run("NoCookie", func(t *testing.T) {
		c := b.client(t)
		a := do(t, c, http.MethodGet, base+"/jobs/", nil, nil)
		require.Equal(t, http.StatusSeeOther, a.status)
		require.Equal(t, LoginPath, a.header.Get("Location"))
		a = do(t, c, http.MethodGet, base+"/jobs/queues/default", nil, nil)
		require.Equal(t, http.StatusSeeOther, a.status)
		a = do(t, c, http.MethodGet, base+"/jobs/api/queues", nil, nil)
		require.Equal(t, http.StatusUnauthorized, a.status, a.body)
		require.Contains(t, a.body, "login required")
		a = do(t, c, http.MethodDelete, base+"/jobs/api/queues/x", nil, nil)
		require.Equal(t, http.StatusUnauthorized, a.status, a.body)
		a = do(t, c, http.MethodGet, base+"/jobs", nil, nil)
		require.Equal(t, http.StatusSeeOther, a.status)
		require.Equal(t, "/jobs/", a.header.Get("Location"))
		a = do(t, c, http.MethodGet, base+LoginPath, nil, nil)
		require.Equal(t, http.StatusOK, a.status)
		require.Contains(t, a.body, `id="email"`)
	})

	t.Run("WrongPassword", func(t *testing.T) {
		c := b.client(t)
		a := b.login(t, c, fixture.SuperadminEmail, "wrong")
		require.Equal(t, http.StatusUnauthorized, a.status)
		require.Contains(t, a.body, "Wrong e-mail address or password.")
		a = b.login(t, c, "nobody@example.com", "wrong")
		require.Equal(t, http.StatusUnauthorized, a.status)
		require.Contains(t, a.body, "Wrong e-mail address or password.")
		a = do(t, c, http.MethodGet, base+"/jobs/api/queues", nil, nil)
		require.Equal(t, http.StatusUnauthorized, a.status)
	})

	t.Run("NonSuperadminLogin", func(t *testing.T) {
		c := b.client(t)
		a := b.login(t, c, fixture.UserEmail, fixture.UserPassword)
		require.Equal(t, http.StatusForbidden, a.status)
		require.Contains(t, a.body, "superadmins only")
		require.Empty(t, a.header.Values("Set-Cookie"))
	})

	t.Run("NonSuperadminCookie", func(t *testing.T) {
		// A validly signed cookie of a user who is not (or no longer) a superadmin.
		c := b.client(t)
		tok := signToken(b.dash.secret(), uuid.MustParse(fixture.UserUUID), b.env.Clock.Now().Add(time.Hour))
		cookie := &http.Cookie{Name: CookieName, Value: tok}
		a := do(t, c, http.MethodGet, base+"/jobs/api/queues", nil, cookie)
		require.Equal(t, http.StatusForbidden, a.status, a.body)
		a = do(t, c, http.MethodGet, base+"/jobs/", nil, cookie)
		require.Equal(t, http.StatusForbidden, a.status, a.body)
		require.Contains(t, a.body, "superadmins only")
	})

	t.Run("BadCookie", func(t *testing.T) {
		c := b.client(t)
		good := signToken(b.dash.secret(), uuid.MustParse(fixture.SuperadminUUID), b.env.Clock.Now().Add(time.Hour))
		for _, v := range []string{
			"garbage",
			good[:len(good)-2] + "xx", // signature changed
			signToken([]byte("another secret"), uuid.MustParse(fixture.SuperadminUUID), b.env.Clock.Now().Add(time.Hour)),
			strings.Replace(good, fixture.SuperadminUUID, fixture.UserUUID, 1), // payload changed
		} {
			a := do(t, c, http.MethodGet, base+"/jobs/api/queues", nil, &http.Cookie{Name: CookieName, Value: v})
			require.Equal(t, http.StatusUnauthorized, a.status, "cookie %q: %s", v, a.body)
		}
		a := do(t, c, http.MethodGet, base+"/jobs/api/queues", nil, &http.Cookie{Name: CookieName, Value: good})
		require.Equal(t, http.StatusOK, a.status, a.body)
	})

	t.Run("LoginLogout", func(t *testing.T) {
		c := b.client(t)
		a := b.login(t, c, fixture.SuperadminEmail, fixture.SuperadminPassword)
		require.Equal(t, http.StatusSeeOther, a.status, a.body)
		require.Equal(t, "/jobs/", a.header.Get("Location"))
		set := a.header.Get("Set-Cookie")
		require.Contains(t, set, CookieName+"=")
		require.Contains(t, set, "Path=/jobs")
		require.Contains(t, set, "HttpOnly")
		require.Contains(t, set, "SameSite=Strict")
		require.Contains(t, set, "Max-Age=3600")

		a = do(t, c, http.MethodGet, base+"/jobs/api/queues", nil, nil)
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Contains(t, a.body, `"queues"`)
		a = do(t, c, http.MethodGet, base+"/jobs/", nil, nil)
		require.Equal(t, http.StatusOK, a.status)
		require.Contains(t, a.body, `window.FLAG_ROOT_PATH="\/jobs"`)
		require.Contains(t, a.body, `window.FLAG_READ_ONLY="true"`)
		a = do(t, c, http.MethodGet, base+LoginPath, nil, nil)
		require.Contains(t, a.body, "Signed in as "+fixture.SuperadminEmail)

		a = do(t, c, http.MethodPost, base+LogoutPath, url.Values{}, nil)
		require.Equal(t, http.StatusSeeOther, a.status)
		a = do(t, c, http.MethodGet, base+"/jobs/api/queues", nil, nil)
		require.Equal(t, http.StatusUnauthorized, a.status)
	})
}

func TestExpiredCookie(t *testing.T) {
	t.Parallel()
	b := setup(t)
	start := time.Now()
	b.env.Clock.Set(start)
	c := b.client(t)
	a := b.login(t, c, fixture.SuperadminEmail, fixture.SuperadminPassword)
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	a = do(t, c, http.MethodGet, b.env.HTTP.URL+"/jobs/api/queues", nil, nil)
	require.Equal(t, http.StatusOK, a.status, a.body)

	// The client's jar would drop the cookie itself after Max-Age; send it explicitly to see
	// the server refuse it.
	u, err := url.Parse(b.env.HTTP.URL + "/jobs/")
	require.NoError(t, err)
	cookies := c.Jar.Cookies(u)
	require.Len(t, cookies, 1)
	plain := &http.Client{CheckRedirect: c.CheckRedirect}

	b.env.Clock.Set(start.Add(DefaultTTL - time.Second))
	a = do(t, plain, http.MethodGet, b.env.HTTP.URL+"/jobs/api/queues", nil, cookies[0])
	require.Equal(t, http.StatusOK, a.status, a.body)

	b.env.Clock.Set(start.Add(DefaultTTL + time.Second))
	a = do(t, plain, http.MethodGet, b.env.HTTP.URL+"/jobs/api/queues", nil, cookies[0])
	require.Equal(t, http.StatusUnauthorized, a.status, a.body)
	a = do(t, plain, http.MethodGet, b.env.HTTP.URL+"/jobs/", nil, cookies[0])
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Equal(t, LoginPath, a.header.Get("Location"))
}

func TestReadOnlyUnlessEnabled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	queue := b.env.Namespace + ":default"
	aq := asynq.NewClient(asynq.RedisClientOpt{Addr: functionstest.RedisAddr()})
	t.Cleanup(func() { _ = aq.Close() })
	_, err := aq.EnqueueContext(ctx, asynq.NewTask("test:noop", nil), asynq.Queue(queue))
	require.NoError(t, err)
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: functionstest.RedisAddr()})
	t.Cleanup(func() {
		_ = insp.DeleteQueue(queue, true)
		_ = insp.Close()
	})

	c := b.client(t)
	require.Equal(t, http.StatusSeeOther, b.login(t, c, fixture.SuperadminEmail, fixture.SuperadminPassword).status)
	pause := b.env.HTTP.URL + "/jobs/api/queues/" + url.PathEscape(queue) + ":pause"
	a := do(t, c, http.MethodPost, pause, url.Values{}, nil)
	require.Equal(t, http.StatusMethodNotAllowed, a.status, a.body)
	require.Contains(t, a.body, "read-only")

	require.NoError(t, b.env.Etcd.Put(ctx, ReadWriteKey, "true"))
	deadline := time.Now().Add(10 * time.Second)
	for !b.dash.ReadWrite() {
		require.True(t, time.Now().Before(deadline), "the read-write flag never reached the shared config")
		time.Sleep(10 * time.Millisecond)
	}
	a = do(t, c, http.MethodPost, pause, url.Values{}, nil)
	require.Equal(t, http.StatusNoContent, a.status, a.body)
	info, err := insp.GetQueueInfo(queue)
	require.NoError(t, err)
	require.True(t, info.Paused)
}

func TestTokenRoundTrip(t *testing.T) {
	t.Parallel()
	secret := []byte("s3cret")
	id := uuid.New()
	now := time.Unix(1_700_000_000, 0)
	tok := signToken(secret, id, now.Add(time.Minute))
	got, ok := verifyToken(secret, tok, now)
	require.True(t, ok)
	require.Equal(t, id, got)
	_, ok = verifyToken(secret, tok, now.Add(time.Minute))
	require.False(t, ok, "expired at its expiry time")
	_, ok = verifyToken(nil, tok, now)
	require.False(t, ok, "no secret, no login")
}

func TestLoginFailuresLimited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t)
	for range MaxLoginFailures {
		require.Equal(t, http.StatusUnauthorized, b.login(t, c, fixture.SuperadminEmail, "guess").status)
	}
	// Blocked now, even with the right password.
	a := b.login(t, c, fixture.SuperadminEmail, fixture.SuperadminPassword)
	require.Equal(t, http.StatusTooManyRequests, a.status)
	require.Contains(t, a.body, "Too many failed logins")
	// Other addresses are not affected.
	require.Equal(t, http.StatusForbidden, b.login(t, c, fixture.UserEmail, fixture.UserPassword).status)

	// The block ends with its window (counted from the first failure).
	ttl, err := b.env.Redis.TTL(t.Context(), b.dash.failureKey(fixture.SuperadminEmail)).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, time.Duration(0))
	require.LessOrEqual(t, ttl, LoginFailureWindow)
	require.NoError(t, b.env.Redis.Del(t.Context(), b.dash.failureKey(fixture.SuperadminEmail)).Err())
	require.Equal(t, http.StatusSeeOther, b.login(t, c, fixture.SuperadminEmail, fixture.SuperadminPassword).status)
}
