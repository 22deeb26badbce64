package dashboard

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"strconv"
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
		dash, err = Mount(t.Context(), s, Options{RedisOpt: functionstest.RedisOpt()})
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
	aq := asynq.NewClient(functionstest.RedisOpt())
	t.Cleanup(func() { _ = aq.Close() })
	_, err := aq.EnqueueContext(ctx, asynq.NewTask("test:noop", nil), asynq.Queue(queue))
	require.NoError(t, err)
	insp := asynq.NewInspector(functionstest.RedisOpt())
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

// loginFrom posts the login form as a client behind the test's trusted proxy (the peer
// 127.0.0.1) whose address is from.
func (b *testBundle) loginFrom(t *testing.T, from, email, password string) answer {
	t.Helper()
	return b.loginVia(t, "127.0.0.1", from, email, password)
}

// loginVia posts the login form from the local address peer with X-Forwarded-For: from.
func (b *testBundle) loginVia(t *testing.T, peer, from, email, password string) answer {
	t.Helper()
	form := url.Values{"email": {email}, "password": {password}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.env.HTTP.URL+LoginPath, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", from)
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(peer)}}
	tr := &http.Transport{DialContext: dialer.DialContext}
	defer tr.CloseIdleConnections()
	c := b.client(t)
	c.Transport = tr
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return answer{status: res.StatusCode, header: res.Header, body: string(raw)}
}

func TestLoginFailuresLimited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.env.Deps.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	start := time.Now()
	b.env.Clock.Set(start)
	lim := b.env.Deps.PasswordLimiter().Limits()

	// Per address: wrong passwords (for any accounts) use up the address's attempts; then even
	// the right password is refused from there, but works from elsewhere.
	for i := range lim.AddressAttempts {
		a := b.loginFrom(t, "198.51.100.1", fmt.Sprintf("nobody%d@example.com", i), "guess")
		require.Equal(t, http.StatusUnauthorized, a.status, a.body)
	}
	a := b.loginFrom(t, "198.51.100.1", fixture.SuperadminEmail, fixture.SuperadminPassword)
	require.Equal(t, http.StatusTooManyRequests, a.status)
	require.Contains(t, a.body, "Too many failed logins from this address")
	retry, err := strconv.Atoi(a.header.Get("Retry-After"))
	require.NoError(t, err)
	require.InDelta(t, lim.AddressWindow.Seconds(), retry, 1)
	require.Equal(t, http.StatusSeeOther, b.loginFrom(t, "198.51.100.2", fixture.SuperadminEmail, fixture.SuperadminPassword).status)

	// The same limiter counts POST /auth/authorize: an address that used its attempts there is
	// refused here.
	for i := range lim.AddressAttempts {
		res := b.env.Do(t, http.MethodPost, "/auth/authorize",
			map[string]any{"type": "keypair", "domain": "default", "username": fmt.Sprintf("x%d@example.com", i), "password": "guess"},
			nil, "X-Forwarded-For: 198.51.100.3")
		res.RequireProblem(t, http.StatusUnauthorized, "auth-failed")
	}
	require.Equal(t, http.StatusTooManyRequests, b.loginFrom(t, "198.51.100.3", fixture.SuperadminEmail, fixture.SuperadminPassword).status)

	// Per account: failures from many addresses slow the account down, without locking its
	// owner out.
	for i := range lim.AccountFreeFailures {
		a := b.loginFrom(t, fmt.Sprintf("192.0.2.%d", i+1), fixture.SuperadminEmail, "guess")
		require.Equal(t, http.StatusUnauthorized, a.status, a.body)
	}
	a = b.loginFrom(t, "203.0.113.1", fixture.SuperadminEmail, fixture.SuperadminPassword)
	require.Equal(t, http.StatusTooManyRequests, a.status)
	require.Contains(t, a.body, "for this account")
	require.Equal(t, "1", a.header.Get("Retry-After"))
	b.env.Clock.Set(start.Add(time.Second))
	require.Equal(t, http.StatusSeeOther, b.loginFrom(t, "203.0.113.1", fixture.SuperadminEmail, fixture.SuperadminPassword).status)

	// From a peer that is not a trusted proxy, X-Forwarded-For is not believed: the varying
	// "addresses" below are all the peer's one address.
	for i := range lim.AddressAttempts {
		a := b.loginVia(t, "127.0.0.2", fmt.Sprintf("10.0.0.%d", i), fmt.Sprintf("spoof%d@example.com", i), "guess")
		require.Equal(t, http.StatusUnauthorized, a.status, a.body)
	}
	require.Equal(t, http.StatusTooManyRequests, b.loginVia(t, "127.0.0.2", "10.0.0.99", "spoof@example.com", "guess").status)
	require.Equal(t, http.StatusUnauthorized, b.loginVia(t, "127.0.0.3", "10.0.0.99", "spoof@example.com", "guess").status)
}

// TestLogoutRevokesCookie: a copy of the cookie taken before the logout is refused after it,
// while another login of the same user stays valid.
func TestLogoutRevokesCookie(t *testing.T) {
	t.Parallel()
	b := setup(t)
	base := b.env.HTTP.URL
	u, err := url.Parse(base + "/jobs/")
	require.NoError(t, err)

	c := b.client(t)
	require.Equal(t, http.StatusSeeOther, b.login(t, c, fixture.SuperadminEmail, fixture.SuperadminPassword).status)
	cookies := c.Jar.Cookies(u)
	require.Len(t, cookies, 1)
	captured := cookies[0]
	other := b.client(t)
	require.Equal(t, http.StatusSeeOther, b.login(t, other, fixture.SuperadminEmail, fixture.SuperadminPassword).status)

	plain := &http.Client{CheckRedirect: c.CheckRedirect}
	require.Equal(t, http.StatusOK, do(t, plain, http.MethodGet, base+"/jobs/api/queues", nil, captured).status)

	a := do(t, c, http.MethodPost, base+LogoutPath, url.Values{}, nil)
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	a = do(t, plain, http.MethodGet, base+"/jobs/api/queues", nil, captured)
	require.Equal(t, http.StatusUnauthorized, a.status, a.body)
	a = do(t, plain, http.MethodGet, base+"/jobs/", nil, captured)
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Equal(t, http.StatusOK, do(t, other, http.MethodGet, base+"/jobs/api/queues", nil, nil).status)

	// Every replica sees the logout: another dashboard on the same Redis refuses the cookie too.
	b2 := setup(t)
	b2.env.Deps.RedisPrefix = b.env.Deps.RedisPrefix
	require.NoError(t, b2.env.Etcd.Put(t.Context(), SecretKey, string(b.dash.secret())))
	require.Eventually(t, func() bool { return string(b2.dash.secret()) == string(b.dash.secret()) }, 10*time.Second, 10*time.Millisecond)
	a = do(t, plain, http.MethodGet, b2.env.HTTP.URL+"/jobs/api/queues", nil, captured)
	require.Equal(t, http.StatusUnauthorized, a.status, a.body)
}
