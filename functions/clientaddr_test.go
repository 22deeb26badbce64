package functions_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
)

func TestClientAddr(t *testing.T) {
	t.Parallel()
	d := &functions.Deps{TrustedProxies: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"),
	}}
	for _, tc := range []struct {
		name, peer string
		headers    map[string][]string
		want       string
	}{
		{"untrusted peer, spoofed XFF", "203.0.113.5:1234", map[string][]string{"X-Forwarded-For": {"10.9.9.9"}}, "203.0.113.5"},
		{"untrusted peer, spoofed X-Real-IP", "203.0.113.5:1234", map[string][]string{"X-Real-Ip": {"10.9.9.9"}}, "203.0.113.5"},
		{"untrusted peer, spoofed Forwarded", "203.0.113.5:1234", map[string][]string{"Forwarded": {"for=10.9.9.9"}}, "203.0.113.5"},
		{"trusted peer without headers", "10.0.0.1:1234", nil, "10.0.0.1"},
		{"trusted peer", "10.0.0.1:1234", map[string][]string{"X-Forwarded-For": {"198.51.100.7"}}, "198.51.100.7"},
		{"right-most untrusted", "10.0.0.1:1234", map[string][]string{"X-Forwarded-For": {"1.2.3.4, 198.51.100.7, 10.0.0.2"}}, "198.51.100.7"},
		{"several headers in order", "10.0.0.1:1234", map[string][]string{"X-Forwarded-For": {"1.2.3.4", "198.51.100.7"}}, "198.51.100.7"},
		{"client-written entries are not believed", "10.0.0.1:1234", map[string][]string{"X-Forwarded-For": {"10.9.9.9, 198.51.100.7"}}, "198.51.100.7"},
		{"all trusted: the left-most", "10.0.0.1:1234", map[string][]string{"X-Forwarded-For": {"10.0.0.3, 10.0.0.2"}}, "10.0.0.3"},
		{"garbage stops the walk", "10.0.0.1:1234", map[string][]string{"X-Forwarded-For": {"198.51.100.7, junk, 10.0.0.2"}}, "10.0.0.2"},
		{"X-Real-IP", "10.0.0.1:1234", map[string][]string{"X-Real-Ip": {"198.51.100.7"}}, "198.51.100.7"},
		{"Forwarded", "10.0.0.1:1234", map[string][]string{"Forwarded": {`for="[2001:db8::1]:4711";proto=https, for=10.0.0.2`}}, "2001:db8::1"},
		{"IPv6 proxy, port in XFF", "[fd00::1]:1234", map[string][]string{"X-Forwarded-For": {"198.51.100.7:5555"}}, "198.51.100.7"},
		{"mapped peer", "[::ffff:203.0.113.5]:1", nil, "203.0.113.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			for k, vs := range tc.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			require.Equal(t, tc.want, d.ClientAddr(r).String())
		})
	}
	// No trusted proxies (the default): headers never count.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "127.0.0.1:80"
	r.Header.Set("X-Forwarded-For", "10.9.9.9")
	require.Equal(t, "127.0.0.1", (&functions.Deps{}).ClientAddr(r).String())
}

// signedFrom sends a request signed with creds from the local address peer (any 127.0.0.0/8
// address reaches the test server), with extra headers, and a deadline.
func signedFrom(t *testing.T, env *functionstest.Env, peer, method, path string, creds *auth.Credentials, headers ...string) *functionstest.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, env.HTTP.URL+path, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if creds != nil {
		require.NoError(t, creds.SignRequest(req, functions.APIVersion, env.Clock.Now()))
	}
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(peer)}}
	tr := &http.Transport{DialContext: dialer.DialContext}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err, "the API must answer within the deadline")
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return &functionstest.Response{Status: res.StatusCode, Header: res.Header, Body: body}
}

// TestAllowedClientIPNotSpoofable: allowed_client_ip goes by the TCP peer unless the peer is a
// configured trusted proxy; an X-Forwarded-For from anyone else is ignored.
func TestAllowedClientIPNotSpoofable(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t, testOps)
	env.Deps.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	_, err := env.DB.Pool.Exec(context.Background(), `UPDATE users SET allowed_client_ip = '{10.9.9.9/32}' WHERE email = $1`, "user2@lablup.com")
	require.NoError(t, err)
	user2 := functionstest.User2

	// 127.0.0.2 is not a trusted proxy: its X-Forwarded-For is ignored.
	p := signedFrom(t, env, "127.0.0.2", http.MethodGet, "/t/echo", &user2, "X-Forwarded-For", "10.9.9.9").
		RequireProblem(t, http.StatusUnauthorized, "auth-failed")
	require.Equal(t, "'127.0.0.2' is not allowed IP address", p.Msg)
	signedFrom(t, env, "127.0.0.2", http.MethodGet, "/t/echo", &user2, "X-Real-IP", "10.9.9.9", "Forwarded", "for=10.9.9.9").
		RequireProblem(t, http.StatusUnauthorized, "auth-failed")

	// Through the trusted proxy, the address it reports counts.
	signedFrom(t, env, "127.0.0.1", http.MethodGet, "/t/echo", &user2, "X-Forwarded-For", "10.9.9.9").RequireStatus(t, http.StatusOK)
	signedFrom(t, env, "127.0.0.1", http.MethodGet, "/t/echo", &user2, "X-Forwarded-For", "10.9.9.9, 10.9.9.8").
		RequireProblem(t, http.StatusUnauthorized, "auth-failed")
	signedFrom(t, env, "127.0.0.1", http.MethodGet, "/t/echo", &user2).RequireProblem(t, http.StatusUnauthorized, "auth-failed")
	// Users without allowed_client_ip are not affected.
	signedFrom(t, env, "127.0.0.2", http.MethodGet, "/t/echo", &functionstest.User, "X-Forwarded-For", "garbage").RequireStatus(t, http.StatusOK)
}
