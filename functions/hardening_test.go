package functions_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
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

type itemInput struct {
	Name string `path:"name"`
	Q    string `query:"q"`
}

type jsonInput struct {
	Body struct {
		Name  string            `json:"name,omitempty"`
		Env   map[string]string `json:"env,omitempty"`
		Items []string          `json:"items,omitempty"`
		Deep  any               `json:"deep,omitempty"`
	}
}

type waitInput struct {
	Body struct {
		Ms int `json:"ms"`
	}
}

// hardeningOps registers operations with a path parameter, a plain JSON body (not Backend.AI
// parameters), a public parameter body and a long poll.
func hardeningOps(s *functions.Server) {
	testOps(s)
	ok := func(context.Context, *struct{}) (*struct{}, error) { return nil, nil }
	huma.Register(s.API(), functions.Op(functions.OpSpec{ID: "t-item", Method: http.MethodGet, Path: "/t/item/{name}", Tag: "test", Summary: "item", Role: functions.User}),
		func(_ context.Context, in *itemInput) (*echoOutput, error) {
			out := &echoOutput{}
			out.Body.Name = in.Name
			return out, nil
		})
	huma.Register(s.API(), functions.Op(functions.OpSpec{ID: "t-json", Method: http.MethodPost, Path: "/t/json", Tag: "test", Summary: "json", Role: functions.User}),
		func(context.Context, *jsonInput) (*struct{}, error) { return nil, nil })
	huma.Register(s.API(), functions.Op(functions.OpSpec{ID: "t-public", Method: http.MethodPost, Path: "/t/public", Tag: "test", Summary: "public", Params: true}),
		func(context.Context, *echoInput) (*struct{}, error) { return nil, nil })
	huma.Register(s.API(), functions.Op(functions.OpSpec{ID: "t-wait", Method: http.MethodPost, Path: "/t/wait", Tag: "test", Summary: "long poll", Params: true}),
		func(ctx context.Context, in *waitInput) (*struct{}, error) {
			select {
			case <-time.After(time.Duration(in.Body.Ms) * time.Millisecond):
				return nil, nil
			case <-ctx.Done():
				return nil, functions.ErrServiceUnavailable("cancelled")
			}
		})
	huma.Register(s.API(), functions.Op(functions.OpSpec{ID: "t-known", Method: http.MethodGet, Path: "/t/known", Tag: "test", Summary: "known"}), ok)
}

// setShared writes a shared configuration key and waits until the API sees it.
func setShared(t *testing.T, env *functionstest.Env, key, value string) {
	t.Helper()
	require.NoError(t, env.Etcd.Put(context.Background(), key, value))
	require.Eventually(t, func() bool { v, _ := env.Shared.Get(key); return v == value }, 5*time.Second, 10*time.Millisecond)
}

func TestUnknownPathsAndMethods(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t, hardeningOps)
	// Any method on a path no route has is 404, not 405.
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		p := env.Do(t, m, "/no/such/path", nil, nil).RequireProblem(t, http.StatusNotFound, "url-not-found")
		require.Equal(t, "/no/such/path", p.Data, m)
		env.Do(t, m, "/no/such/path", map[string]any{"a": 1}, &functionstest.User).RequireProblem(t, http.StatusNotFound, "url-not-found")
	}
	// A known path with the wrong method is 405 with Allow, including the root.
	res := env.Do(t, http.MethodPost, "/t/known", nil, nil)
	res.RequireProblem(t, http.StatusMethodNotAllowed, "method-not-allowed")
	require.Contains(t, res.Header.Get("Allow"), "GET")
	env.Do(t, http.MethodDelete, "/", nil, nil).RequireProblem(t, http.StatusMethodNotAllowed, "method-not-allowed")
	env.Do(t, http.MethodPut, "/admin/users", nil, &functionstest.Superadmin).RequireProblem(t, http.StatusMethodNotAllowed, "method-not-allowed")
	// Unclean paths are 404, never a redirect to the cleaned path.
	for _, p := range []string{"/admin//users", "/x/../admin/users", "/admin/./users", "//admin/users", "/t/known/..", "/t//known"} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			res := env.Do(t, m, p, nil, &functionstest.Superadmin)
			res.RequireProblem(t, http.StatusNotFound, "url-not-found")
			require.Empty(t, res.Header.Get("Location"), p)
		}
	}
	env.Do(t, http.MethodGet, "/admin/users", nil, &functionstest.Superadmin).RequireStatus(t, http.StatusOK)
}

func TestMalformedText(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t, hardeningOps)

	// A path parameter that is not valid UTF-8 or holds a NUL names nothing: 404.
	env.Do(t, http.MethodGet, "/t/item/ok", nil, &functionstest.User).RequireStatus(t, http.StatusOK)
	for _, p := range []string{"/t/item/%ff", "/t/item/a%00b", "/session/%ff", "/session/%ff/logs", "/session/a%00"} {
		env.Do(t, http.MethodGet, p, nil, &functionstest.User).RequireProblem(t, http.StatusNotFound, "url-not-found")
	}
	env.Do(t, http.MethodGet, "/admin/users/%ff", nil, &functionstest.Superadmin).RequireProblem(t, http.StatusNotFound, "url-not-found")
	env.Do(t, http.MethodDelete, "/admin/domains/%fe%ff", nil, &functionstest.Superadmin).RequireProblem(t, http.StatusNotFound, "url-not-found")

	// Query values: 400 naming the parameter.
	p := env.Do(t, http.MethodGet, "/t/item/ok?q=%ff", nil, &functionstest.User).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Equal(t, map[string]any{"q": "invalid UTF-8"}, p.Data)
	p = env.Do(t, http.MethodGet, "/t/echo?name=a%00", nil, &functionstest.User).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Equal(t, map[string]any{"name": "NUL character not allowed"}, p.Data)

	// JSON strings and keys, in Backend.AI parameter bodies and plain JSON bodies alike.
	for _, tc := range []struct {
		path, body, field string
	}{
		{"/t/echo", `{"name": "a\u0000b"}`, "name"},
		{"/t/echo", "{\"name\": \"\xff\xfe\"}", "name"},
		{"/t/echo", `{"tags": ["ok", "x\u0000"]}`, "tags[1]"},
		{"/t/json", `{"name": "\u0000"}`, "name"},
		{"/t/json", `{"env": {"A\u0000": "x"}}`, "env"},
		{"/t/json", "{\"env\": {\"A\": \"\xc3\"}}", "env.A"},
		{"/t/json", `{"deep": {"a": [{"b": "ok"}, {"c": "\u0000"}]}}`, "deep.a[1].c"},
	} {
		m := http.MethodGet
		if tc.path == "/t/json" {
			m = http.MethodPost
		}
		p := env.Do(t, m, tc.path, tc.body, &functionstest.User).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		data, _ := p.Data.(map[string]any)
		require.Contains(t, data, tc.field, "body %q: %+v", tc.body, p)
	}
	env.Do(t, http.MethodPost, "/t/json", `{"name": "fine ✓", "env": {"A": "b"}, "items": ["x"]}`, &functionstest.User).RequireStatus(t, http.StatusNoContent)
	// Nesting is bounded.
	deep := `{"deep": ` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}`
	env.Do(t, http.MethodPost, "/t/json", deep, &functionstest.User).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")

	// Real operations that stored such text in PostgreSQL answered 500.
	p = env.Do(t, http.MethodPatch, "/admin/users/user@lablup.com", `{"description": "x\u0000y"}`, &functionstest.Superadmin).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Data, "description")
	p = env.Do(t, http.MethodPost, "/session", `{"image": "python", "enqueueOnly": true, "config": {"environ": {"K\u0000": "v"}}}`, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Data, "config.environ")
	p = env.Do(t, http.MethodGet, "/session/_/match?id=%00", nil, &functionstest.User).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Data, "id")

	// Bodies are bounded.
	big := `{"name": "` + strings.Repeat("x", functions.DefaultMaxBodyBytes) + `"}`
	env.Do(t, http.MethodPost, "/t/json", big, &functionstest.User).RequireProblem(t, http.StatusBadRequest, "generic-bad-request")
}

// rawRequest writes head and the first bytes of a body on a new connection and reports how
// long the server took to answer (or close), failing after limit.
func rawRequest(t *testing.T, env *functionstest.Env, head, partial string, limit time.Duration) (string, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", env.HTTP.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	start := time.Now()
	_, err = conn.Write([]byte(head + partial))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(start.Add(limit)))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if ne, ok := err.(net.Error); ok && ne.Timeout() { //nolint:errorlint
		t.Fatalf("the server held a slow body for %s", limit)
	}
	return line, time.Since(start)
}

func TestSlowBodyTimesOut(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t, hardeningOps)
	setShared(t, env, functions.BodyReadTimeoutKey, "500ms")
	host := env.HTTP.Listener.Addr().String()
	// An unauthenticated body that never arrives is cut off at the deadline.
	head := fmt.Sprintf("POST /t/public HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n", host)
	line, took := rawRequest(t, env, head, `{"na`, 10*time.Second)
	require.Less(t, took, 5*time.Second)
	if line != "" {
		require.Contains(t, line, " 400 ", "an answer, if any, is a 4xx")
	}
	// The same for a chunked body, and for a route that does not read it.
	head = fmt.Sprintf("POST /t/public HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n", host)
	_, took = rawRequest(t, env, head, "2\r\n{\"\r\n", 10*time.Second)
	require.Less(t, took, 5*time.Second)
	head = fmt.Sprintf("GET /t/echo HTTP/1.1\r\nHost: %s\r\nContent-Length: 100000\r\n\r\n", host)
	line, took = rawRequest(t, env, head, "{", 10*time.Second)
	require.Less(t, took, 5*time.Second)
	require.Contains(t, line, " 400 ") // unsigned: invalid-auth-params before the body is read

	// A request whose body arrived in time keeps its connection past the deadline: long polls
	// are not cut short.
	res := env.Do(t, http.MethodPost, "/t/wait", map[string]any{"ms": 1500}, nil)
	res.RequireStatus(t, http.StatusNoContent)
}

func TestServerTimeouts(t *testing.T) {
	t.Parallel()
	srv := &http.Server{}
	functions.ConfigureHTTPServer(srv)
	require.Equal(t, functions.ReadHeaderTimeout, srv.ReadHeaderTimeout)
	require.Equal(t, functions.IdleTimeout, srv.IdleTimeout)
	require.Positive(t, srv.MaxHeaderBytes)
	srv = &http.Server{ReadHeaderTimeout: time.Second}
	functions.ConfigureHTTPServer(srv)
	require.Equal(t, time.Second, srv.ReadHeaderTimeout)
}

func TestStreamCaps(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t, hardeningOps)
	setShared(t, env, functions.MaxStreamsPerKeyKey, "2")
	setShared(t, env, functions.MaxStreamsKey, "3")
	open := func(creds *auth.Credentials) *http.Response {
		return env.Open(t, http.MethodGet, "/events/session", creds)
	}
	a := open(&functionstest.User)
	require.Equal(t, http.StatusOK, a.StatusCode)
	b := open(&functionstest.User)
	require.Equal(t, http.StatusOK, b.StatusCode)
	require.InDelta(t, 2, openStreamsGauge(t, env), 0)

	// A third stream of the same key is refused; another key still gets one.
	requireRefused(t, open(&functionstest.User))
	c := open(&functionstest.User2)
	require.Equal(t, http.StatusOK, c.StatusCode)
	// The process holds 3: the limit for everyone.
	requireRefused(t, open(&functionstest.Superadmin))

	// Closing a stream gives its slot back.
	require.NoError(t, a.Body.Close())
	require.Eventually(t, func() bool { _, n := env.Server.OpenStreams(functionstest.User.AccessKey); return n == 1 }, 10*time.Second, 10*time.Millisecond)
	d := open(&functionstest.User)
	require.Equal(t, http.StatusOK, d.StatusCode)
	require.NoError(t, b.Body.Close())
	require.NoError(t, c.Body.Close())
	require.NoError(t, d.Body.Close())
	require.Eventually(t, func() bool { n, _ := env.Server.OpenStreams(""); return n == 0 }, 10*time.Second, 10*time.Millisecond)
	require.InDelta(t, 0, openStreamsGauge(t, env), 0)

	// "0" lifts the limit.
	setShared(t, env, functions.MaxStreamsPerKeyKey, "0")
	setShared(t, env, functions.MaxStreamsKey, "0")
	for range 4 {
		require.Equal(t, http.StatusOK, open(&functionstest.User).StatusCode)
	}
}

// openStreamsGauge reads hangar_api_open_streams{kind="sse"}.
func openStreamsGauge(t *testing.T, env *functionstest.Env) float64 {
	t.Helper()
	mfs, err := env.Metrics.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "hangar_api_open_streams" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == functions.StreamSSE {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

// requireRefused checks that a stream was answered 429 rate-limit-exceeded.
func requireRefused(t *testing.T, res *http.Response) {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Contains(t, string(body), functions.ProblemBase+"rate-limit-exceeded")
}
