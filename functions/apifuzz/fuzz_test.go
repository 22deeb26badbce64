package apifuzz_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
)

// Budget and seed of the run. HANGAR_FUZZ_REQUESTS raises the number of generated requests
// (spread evenly over operations and actors) for a longer local run; HANGAR_FUZZ_SEED picks
// another deterministic sequence; HANGAR_FUZZ_TRACE (operation ids, comma-separated) logs
// those operations' requests and answers.
const (
	defaultRequests = 3000
	defaultSeed     = 1
	// requestTimeout is how long a request may take before it counts as a hang.
	requestTimeout = 15 * time.Second
	// streamTimeout is how long a stream is read before the client disconnects.
	streamTimeout = 300 * time.Millisecond
	// slowRequest is reported (not failed) in the summary.
	slowRequest = 3 * time.Second
)

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "%s", name)
	return n
}

var actors = []string{"user", "superadmin"} //nolint:gochecknoglobals // read-only

func credentials(actor string) *auth.Credentials {
	switch actor {
	case "superadmin":
		return &functionstest.Superadmin
	case "user":
		return &functionstest.User
	}
	return nil
}

// deepBodies are the operations whose body carries a document (a GraphQL query and its
// variables, a template payload) that the field mutations reach into.
var deepBodies = map[string]bool{ //nolint:gochecknoglobals // read-only
	"graphql": true, "graphql-legacy": true, "create-session-template": true, "update-session-template": true,
	"create-cluster-template": true, "update-cluster-template": true,
}

// isStream reports whether op answers with a stream (SSE or WebSocket), which the client ends.
func isStream(op *operation) bool {
	return strings.HasPrefix(op.Path, "/stream/") || strings.HasPrefix(op.Path, "/events/")
}

// outcome is one answer.
type outcome struct {
	status  int
	ctype   string
	body    []byte
	took    time.Duration
	err     error
	timeout bool
}

type runner struct {
	t      *testing.T
	env    *functionstest.Env
	hook   *logHook
	client *http.Client
	// per operation id: status → count
	counts map[string]map[string]int
	// failure class → first example and count
	failures map[string]*failure
	slow     []string
	sent     int
	// trace lists operation ids (comma-separated) whose every request and answer is logged.
	trace string
}

type failure struct {
	example string
	count   int
}

func (r *runner) send(req *request) outcome {
	stream := req.op != nil && isStream(req.op)
	timeout := requestTimeout
	if stream {
		timeout = streamTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, r.env.HTTP.URL+req.target, body)
	if err != nil {
		return outcome{err: fmt.Errorf("build request: %w", err)}
	}
	if req.contentType != "" {
		hr.Header.Set("Content-Type", req.contentType)
	}
	for _, h := range req.preSign {
		hr.Header.Set(h[0], h[1])
	}
	creds := req.creds
	if creds == nil {
		creds = credentials(req.actor)
	}
	if creds != nil && !req.unsigned {
		if err := creds.SignRequest(hr, functions.APIVersion, r.env.Clock.Now()); err != nil {
			return outcome{err: fmt.Errorf("sign: %w", err)}
		}
	} else {
		hr.Header.Set(auth.VersionHeader, functions.APIVersion)
		hr.Header.Set(auth.DateHeader, auth.FormatDate(r.env.Clock.Now()))
	}
	for _, h := range req.postSign {
		hr.Header.Set(h[0], h[1])
	}
	r.hook.setCurrent(req.describe())
	start := time.Now()
	res, err := r.client.Do(hr)
	if err != nil {
		return outcome{err: err, took: time.Since(start), timeout: errors.Is(err, context.DeadlineExceeded)}
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusSwitchingProtocols {
		// An accepted WebSocket: the connection is the client's to end (the transport no longer
		// watches the context), which closing the body does.
		return outcome{status: res.StatusCode, took: time.Since(start)}
	}
	out, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	o := outcome{status: res.StatusCode, ctype: res.Header.Get("Content-Type"), body: out, took: time.Since(start)}
	if err != nil && !(stream && errors.Is(err, context.DeadlineExceeded)) {
		o.err, o.timeout = err, errors.Is(err, context.DeadlineExceeded)
	}
	return o
}

func (req *request) describe() string {
	id := "-"
	if req.op != nil {
		id = req.op.ID
	}
	return fmt.Sprintf("%s as %s [%s]: %s %s", id, req.actor, req.mutation, req.method, truncate(req.target, 160))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("…(%d bytes)", len(s))
}

// check records o and reports whether it is acceptable.
func (r *runner) check(req *request, o outcome) {
	r.sent++
	id := "unknown-path " + req.method
	if req.op != nil {
		id = req.op.ID
	}
	if r.counts[id] == nil {
		r.counts[id] = map[string]int{}
	}
	label := strconv.Itoa(o.status)
	switch {
	case o.timeout:
		label = "hang"
	case o.err != nil:
		label = "error"
	}
	r.counts[id][label]++
	if r.trace != "" && strings.Contains(","+r.trace+",", ","+id+",") {
		r.t.Logf("trace %s\n    body: %s\n    → %d %s", req.describe(), truncate(fmt.Sprintf("%q", req.body), 300), o.status,
			truncate(string(o.body), 300))
	}
	if o.took > slowRequest && (req.op == nil || !isStream(req.op)) {
		r.slow = append(r.slow, fmt.Sprintf("%s took %s", req.describe(), o.took.Round(time.Millisecond)))
	}

	var class string
	switch {
	case o.timeout:
		class = id + " hang"
	case o.err != nil:
		class = id + " transport error: " + o.err.Error()
	case o.status >= 500:
		class = fmt.Sprintf("%s %d %s", id, o.status, problemType(o.body))
	case o.status >= 400:
		mt, _, _ := mime.ParseMediaType(o.ctype)
		var p struct {
			Type  string `json:"type"`
			Title string `json:"title"`
		}
		// A HEAD answer has no body (RFC 9110 §9.3.2): only its media type can be checked.
		head := req.method == http.MethodHead && len(o.body) == 0
		if mt != "application/problem+json" || (!head && (json.Unmarshal(o.body, &p) != nil || p.Type == "" || p.Title == "")) {
			class = fmt.Sprintf("%s %d not problem+json (%s)", id, o.status, o.ctype)
		}
	}
	for _, p := range r.hook.takePanics() {
		r.fail(id+" panic", "panic while serving request: "+p)
	}
	if class == "" {
		return
	}
	r.fail(class, fmt.Sprintf("%s\n    body: %s\n    → %d %s %s", req.describe(), truncate(fmt.Sprintf("%q", req.body), 300),
		o.status, o.ctype, truncate(string(o.body), 400)))
}

func (r *runner) fail(class, example string) {
	f := r.failures[class]
	if f == nil {
		f = &failure{example: example}
		r.failures[class] = f
	}
	f.count++
}

func problemType(body []byte) string {
	var p struct {
		Type string `json:"type"`
		Msg  string `json:"msg"`
	}
	if json.Unmarshal(body, &p) != nil {
		return "(no problem body)"
	}
	return strings.TrimPrefix(p.Type, functions.ProblemBase)
}

// afterward restores what a request may have changed that later requests rely on.
func (r *runner) afterward(t *testing.T, o *objects, req *request, out outcome) {
	t.Helper()
	if req.op == nil || out.status < 200 || out.status >= 300 {
		return
	}
	switch {
	case req.op.ID == "update-manager-status":
		superDo(t, r.env, http.MethodPut, "/manager/status", map[string]any{"status": "running"}).RequireStatus(t, http.StatusNoContent)
	case req.op.ID == "rename-session":
		var b map[string]any
		if json.Unmarshal(req.body, &b) == nil {
			if n, ok := b["session_name"].(string); ok {
				o.RunningName = n
			} else if n, ok := b["name"].(string); ok {
				o.RunningName = n
			}
		}
	case req.op.ID == "destroy-session" || req.op.ID == "restart-session":
		ensureVictim(t, r.env, o)
	case restoresExtras(req.op.ID):
		ensureExtras(t, r.env, o)
	case req.op.ID == "graphql" || req.op.ID == "graphql-legacy":
		// Its documents change, never delete.
	case strings.HasPrefix(req.op.Path, "/admin/") && req.op.Method != http.MethodGet && req.actor == "superadmin":
		ensureObjects(t, r.env, o)
		if req.op.Method == http.MethodDelete {
			ensureExtras(t, r.env, o) // the project or domain of the dotfiles may have gone
		}
		ensureExtras(t, r.env, o)
	}
}

// TestAPIFuzz sends generated hostile requests to every operation of the OpenAPI document.
func TestAPIFuzz(t *testing.T) {
	s := loadSpec(t)
	env, hook := newHookedEnv(t)
	o := setupObjects(t, env)
	total := envInt(t, "HANGAR_FUZZ_REQUESTS", defaultRequests)
	seed := uint64(envInt(t, "HANGAR_FUZZ_SEED", defaultSeed))
	perOp := max(len(kinds), total/(len(s.ops)*len(actors)))

	r := &runner{t: t, env: env, hook: hook, client: &http.Client{
		// Redirects are answers to check, not to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, counts: map[string]map[string]int{}, failures: map[string]*failure{}, trace: os.Getenv("HANGAR_FUZZ_TRACE")}
	start := time.Now()
	seq := 0
	vals, whole := hostileValues(), wholeBodies()
	for _, op := range s.ops {
		for _, actor := range actors {
			h := fnv.New64a()
			_, _ = h.Write([]byte(op.ID + "/" + actor))
			g := &generator{s: s, o: o, r: rand.New(rand.NewPCG(seed, h.Sum64())), seq: &seq, vals: vals, whole: whole} //nolint:gosec // deterministic on purpose
			n := perOp
			if isStream(op) {
				n = len(kinds) // each costs the stream timeout
			}
			if deepBodies[op.ID] {
				n *= 3 // documents in the body: more places to put a hostile value
			}
			for i := range n {
				req := g.generate(op, actor, i)
				out := r.send(req)
				r.check(req, out)
				r.afterward(t, o, req, out)
			}
		}
	}
	r.unknownPaths()

	// The API still answers.
	res := env.Do(t, http.MethodGet, "/", nil, nil)
	require.Equal(t, http.StatusOK, res.Status, "GET / after fuzzing: %s", res.Body)
	for _, c := range []*auth.Credentials{&functionstest.User, &functionstest.Superadmin} {
		res := env.Do(t, http.MethodGet, "/auth/test?echo=alive", nil, c)
		require.Equal(t, http.StatusOK, res.Status, "signed GET /auth/test after fuzzing as %s: %s", c.AccessKey, res.Body)
	}
	res = env.Do(t, http.MethodPost, "/session/"+o.RunningID, map[string]any{"mode": "query", "code": "print(6*7)", "runId": "fz-final"}, &functionstest.User)
	require.Equal(t, http.StatusOK, res.Status, "execute after fuzzing: %s", res.Body)

	r.report(time.Since(start))
}

// unknownPaths sends every method to paths no route has, and to unclean paths.
func (r *runner) unknownPaths() {
	paths := []string{"/nope", "/admin//users", "/x/../admin/users", "/session/a/b/c/d/e", "/%ff", "/admin/users/%ff/extra",
		"/admin/domains/default/", "/" + strings.Repeat("p", 8<<10), "/events/session/x", "/session/_/nope"}
	for _, p := range paths {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			for _, actor := range []string{"superadmin", "anonymous"} {
				req := &request{actor: actor, mutation: "unknown path", method: m, target: p, unsigned: actor == "anonymous"}
				if m != http.MethodGet {
					req.body, req.contentType = []byte("{}"), "application/json"
				}
				out := r.send(req)
				r.check(req, out)
				// Any method on a path no route has is 404 url-not-found: not a 405, and not a
				// redirect to a cleaned path.
				if out.err == nil && out.status != http.StatusNotFound {
					r.fail(fmt.Sprintf("unknown path %s answers %d, not 404", m, out.status),
						fmt.Sprintf("%s\n    → %d %s", req.describe(), out.status, truncate(string(out.body), 200)))
				}
			}
		}
	}
}

func (r *runner) report(took time.Duration) {
	t := r.t
	t.Logf("fuzzed %d requests in %s", r.sent, took.Round(time.Millisecond))
	for _, id := range sortedKeys(r.counts) {
		var parts []string
		for _, st := range sortedKeys(r.counts[id]) {
			parts = append(parts, fmt.Sprintf("%s×%d", st, r.counts[id][st]))
		}
		t.Logf("  %-36s %s", id, strings.Join(parts, " "))
	}
	if len(r.slow) > 0 {
		t.Logf("slow requests (over %s):", slowRequest)
		for _, s := range r.slow {
			t.Logf("  %s", s)
		}
	}
	if len(r.hook.errors) > 0 {
		var msgs []string
		for _, m := range sortedKeys(r.hook.errors) {
			msgs = append(msgs, fmt.Sprintf("%q×%d", m, r.hook.errors[m]))
		}
		t.Logf("server error logs: %s", strings.Join(msgs, ", "))
	}
	classes := sortedKeys(r.failures)
	slices.Sort(classes)
	for _, c := range classes {
		f := r.failures[c]
		t.Errorf("%s (%d×), e.g.\n    %s", c, f.count, f.example)
	}
}
