package eventstream_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/eventstream"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/fixture"
)

func TestEventsInOrderWithBackendAIFraming(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	s := openSSE(t, env, "/events/session", &functionstest.User)

	var evs []events.Event
	for i, name := range events.Names() {
		e := ev(name, fmt.Sprintf("s%d", i%3))
		if events.IsKernelEvent(name) {
			e.ClusterRole, e.ClusterIdx = "sub", 2
		}
		evs = append(evs, e)
	}
	code := 7
	evs[0].Reason = "user-requested"
	evs[0].ExitCode = &code
	publish(t, env, evs...)
	for i, want := range evs {
		m := s.nextEvent(t)
		require.Equal(t, want.Name, m.Event, "event %d", i)
		var data map[string]any
		require.NoError(t, json.Unmarshal([]byte(m.Data), &data))
		require.Equal(t, want.SessionID, data["sessionId"])
		require.Equal(t, want.SessionName, data["sessionName"])
		require.Equal(t, want.KernelID, data["kernelId"])
		require.Equal(t, fixture.UserAccessKey, data["ownerAccessKey"])
		if events.IsKernelEvent(want.Name) {
			require.Equal(t, "sub", data["clusterRole"])
			require.InDelta(t, 2, data["clusterIdx"], 0)
		} else {
			require.NotContains(t, data, "clusterRole")
			require.NotContains(t, data, "clusterIdx")
		}
		if i == 0 {
			require.Equal(t, "event: session_enqueued\r\ndata: "+m.Data+"\r\n\r\n", m.Raw)
			require.Equal(t, map[string]any{
				"reason": "user-requested", "sessionName": "s-s0", "ownerAccessKey": fixture.UserAccessKey,
				"sessionId": "s0", "exitCode": float64(7), "kernelId": "k-s0",
			}, data)
		}
	}
}

func TestUserSeesOwnSessionsOnly(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	s := openSSE(t, env, "/events/session", &functionstest.User)
	foreign := ev(events.SessionStarted, "theirs")
	foreign.AccessKey = fixture.User2AccessKey
	publish(t, env, foreign, ev(events.SessionStarted, "mine"), foreign, ev(events.SessionTerminated, "mine"))
	// Events keep their order, so seeing the last one proves the foreign ones were dropped.
	require.Equal(t, "session_started", s.nextEvent(t).Event)
	m := s.nextEvent(t)
	require.Equal(t, "session_terminated", m.Event)
	require.Contains(t, m.Data, `"sessionId":"mine"`)
}

func TestDomainAdminSeesOwnDomainOnly(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	admin := openSSE(t, env, "/events/session", &functionstest.DomainAdmin)
	super := openSSE(t, env, "/events/session", &functionstest.Superadmin)
	other := ev(events.SessionStarted, "elsewhere")
	other.Domain = "other-domain"
	other.AccessKey = "AKIAOTHERDOMAINKEY00"
	second := ev(events.KernelStarted, "here")
	second.AccessKey = fixture.User2AccessKey
	publish(t, env, other, ev(events.SessionStarted, "here"), second)

	require.Contains(t, admin.nextEvent(t).Data, `"sessionId":"here"`)
	m := admin.nextEvent(t)
	require.Equal(t, "kernel_started", m.Event)
	require.Contains(t, m.Data, fixture.User2AccessKey)

	// Superadmins see everything.
	for _, sid := range []string{"elsewhere", "here", "here"} {
		require.Contains(t, super.nextEvent(t).Data, `"sessionId":"`+sid+`"`)
	}
}

func TestScopeFilters(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	sess := openSSE(t, env, "/events/session?scope=session", &functionstest.User)
	kern := openSSE(t, env, "/events/session?scope=kernel", &functionstest.User)
	publish(t, env,
		ev(events.SessionScheduled, "a"), ev(events.KernelCreating, "a"), ev(events.KernelStarted, "a"),
		ev(events.SessionStarted, "a"))
	require.Equal(t, "session_scheduled", sess.nextEvent(t).Event)
	require.Equal(t, "session_started", sess.nextEvent(t).Event)
	require.Equal(t, "kernel_creating", kern.nextEvent(t).Event)
	require.Equal(t, "kernel_started", kern.nextEvent(t).Event)
}

func TestGroupFilter(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	s := openSSE(t, env, "/events/session?groupName=model-store", &functionstest.User)
	inStore := ev(events.SessionStarted, "store")
	inStore.ProjectID = fixture.ModelStoreProjectID
	publish(t, env, ev(events.SessionStarted, "default"), inStore)
	require.Contains(t, s.nextEvent(t).Data, `"sessionId":"store"`)

	env.Do(t, http.MethodGet, "/events/session?group=no-such-project", nil, &functionstest.User).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
}

func TestNameFilterNeedsNameAndOwner(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	insertSession(t, env, "0c6f9a3e-5d1b-4a47-8e2f-7b9c1d3e5f70", "job", fixture.User2AccessKey, fixture.User2UUID)
	s := openSSE(t, env, "/events/session?sessionName=job&ownerAccessKey="+fixture.User2AccessKey, &functionstest.Superadmin)
	mine := ev(events.SessionStarted, "1")
	mine.SessionName = "job"
	theirs := mine
	theirs.SessionID, theirs.AccessKey = "2", fixture.User2AccessKey
	otherName := theirs
	otherName.SessionID, otherName.SessionName = "3", "other"
	ended := theirs
	ended.Name = events.SessionTerminated
	publish(t, env, mine, otherName, theirs, ended)
	require.Contains(t, s.nextEvent(t).Data, `"sessionId":"2"`)
	require.Equal(t, "session_terminated", s.nextEvent(t).Event)
	// The named session ended: the stream says so and closes.
	m := s.nextEvent(t)
	require.Equal(t, eventstream.ServerClose, m.Event)
	require.Equal(t, "{}", m.Data)
	s.requireEnd(t)
}

func TestSessionIDWatchEndsWithServerClose(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	sid := createSession(t, env, "watched")
	s := openSSE(t, env, "/events/session?sessionId="+sid, &functionstest.User)
	kernels := openSSE(t, env, "/events/session?scope=kernel&sessionId="+sid, &functionstest.User)
	code := 0
	terminated := ev(events.SessionTerminated, sid)
	terminated.ExitCode = &code
	kt := ev(events.KernelTerminated, sid)
	kt.ExitCode = &code
	publish(t, env, ev(events.SessionStarted, "another"), ev(events.SessionStarted, sid), kt,
		ev(events.SessionSuccess, sid), terminated, ev(events.SessionStarted, "later"))

	require.Equal(t, "session_started", s.nextEvent(t).Event)
	require.Equal(t, "kernel_terminated", s.nextEvent(t).Event)
	require.Equal(t, "session_success", s.nextEvent(t).Event)
	m := s.nextEvent(t)
	require.Equal(t, "session_terminated", m.Event)
	require.Contains(t, m.Data, `"exitCode":0`)
	require.Equal(t, eventstream.ServerClose, s.nextEvent(t).Event)
	s.requireEnd(t)

	// The session's end closes a kernel-scoped stream too, though it does not show it.
	require.Equal(t, "kernel_terminated", kernels.nextEvent(t).Event)
	require.Equal(t, eventstream.ServerClose, kernels.nextEvent(t).Event)
	kernels.requireEnd(t)
}

func TestAlreadyEndedSessionClosesAtOnce(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	sid := createSession(t, env, "gone")
	endSession(t, env, sid, "TERMINATED")

	for _, path := range []string{"/events/session?sessionId=" + sid, "/events/session?name=gone"} {
		s := openSSE(t, env, path, &functionstest.User)
		m := s.nextEvent(t)
		require.Equal(t, eventstream.ServerClose, m.Event, path)
		require.Equal(t, "{}", m.Data)
		s.requireEnd(t)
	}

	// A live session of the same name keeps a name watch open.
	createSession(t, env, "gone")
	s := openSSE(t, env, "/events/session?name=gone", &functionstest.User)
	live := ev(events.SessionStarted, "x")
	live.SessionName = "gone"
	publish(t, env, live)
	require.Equal(t, "session_started", s.nextEvent(t).Event)
}

func TestParameterErrors(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	env.Do(t, http.MethodGet, "/events/session?ownerAccessKey="+fixture.User2AccessKey, nil, &functionstest.User).
		RequireProblem(t, http.StatusForbidden, "generic-forbidden")
	p := env.Do(t, http.MethodGet, "/events/session?owner_access_key=x", nil, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, fmt.Sprint(p.Data), "owner_access_key")
	env.Do(t, http.MethodGet, "/events/session?scope=agent", nil, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	env.Do(t, http.MethodGet, "/events/session?sessionId=not-a-uuid", nil, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	// Admins may name another owner.
	insertSession(t, env, "1e2d3c4b-5a69-4788-9aa1-b2c3d4e5f607", "x", fixture.UserAccessKey, fixture.UserUUID)
	res := env.Open(t, http.MethodGet, "/events/session?ownerAccessKey="+fixture.UserAccessKey+"&name=x", &functionstest.DomainAdmin)
	require.Equal(t, http.StatusOK, res.StatusCode)
}

// pingServer serves only the event stream, pinging every few milliseconds, with env's deps.
func pingServer(t *testing.T, env *functionstest.Env) string {
	t.Helper()
	srv := functions.NewServer(env.Deps)
	eventstream.RegisterWith(srv, eventstream.Options{PingInterval: 20 * time.Millisecond})
	srv.Finalize()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}

func TestPingsKeepAWatchOpen(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	sid := createSession(t, env, "quiet")
	base := pingServer(t, env)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/events/session?sessionId="+sid, nil)
	require.NoError(t, err)
	require.NoError(t, functionstest.User.SignRequest(req, functions.APIVersion, time.Now()))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = res.Body.Close() })
	require.Equal(t, http.StatusOK, res.StatusCode)
	s := readSSE(t, res)
	// Pings keep coming past huma's 5 s read deadline for request bodies, which the stream
	// must lift so that it does not cancel the request.
	opened := time.Now()
	for time.Since(opened) < 6*time.Second {
		m := s.next(t)
		require.Equal(t, "ping", m.Comment)
		require.Equal(t, ": ping\r\n\r\n", m.Raw)
	}
}

func TestUnknownOrHiddenSessionIs404(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	sid := createSession(t, env, "private")
	endSession(t, env, sid, "CANCELLED")

	for _, tc := range []struct {
		path  string
		creds *auth.Credentials
	}{
		{"/events/session?sessionId=8d9d2d5e-7a43-4f55-9d7c-6c7e0f1b2a3c", &functionstest.User},
		{"/events/session?name=no-such-session", &functionstest.User},
		{"/events/session?sessionName=private&ownerAccessKey=" + fixture.User2AccessKey, &functionstest.Superadmin},
		// Another user's session does not exist for the caller, ended or not.
		{"/events/session?sessionId=" + sid, &functionstest.User2},
		{"/events/session?name=private", &functionstest.User2},
		// Nor, by name, outside the project filter.
		{"/events/session?name=private&group=model-store", &functionstest.User},
	} {
		p := env.Do(t, http.MethodGet, tc.path, nil, tc.creds).RequireProblem(t, http.StatusNotFound, "object-not-found")
		require.Equal(t, "No such session.", p.Title, tc.path)
	}
	// The owner's ended session closes at once instead.
	s := openSSE(t, env, "/events/session?sessionId="+sid, &functionstest.User)
	require.Equal(t, eventstream.ServerClose, s.nextEvent(t).Event)
	s.requireEnd(t)
}

func TestStreamEndsWhenClientLeaves(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.HTTP.URL+"/events/session", nil)
	require.NoError(t, err)
	require.NoError(t, functionstest.User.SignRequest(req, functions.APIVersion, time.Now()))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	s := readSSE(t, res)
	publish(t, env, ev(events.SessionStarted, "a"))
	require.Equal(t, "session_started", s.nextEvent(t).Event)
	cancel()
	_ = res.Body.Close()
	<-s.done
	// The server notices and ends the handler: the test server's Close, which waits for
	// running handlers, and goleak in TestMain fail otherwise.
}

// endSession puts a session and its kernels in an end status, as the workers would.
func endSession(t *testing.T, env *functionstest.Env, sid, status string) {
	t.Helper()
	ctx := context.Background()
	_, err := env.DB.Pool.Exec(ctx, `UPDATE sessions SET status = $2::text::session_status WHERE id = $1`, sid, status)
	require.NoError(t, err)
	_, err = env.DB.Pool.Exec(ctx, `UPDATE kernels SET status = $2::text::kernel_status WHERE session_id = $1`, sid, status)
	require.NoError(t, err)
}

func TestShutdownEndsStreamWithoutServerClose(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	const sid = "8d9d2d5e-7a43-4f55-9d7c-6c7e0f1b2a3c"
	insertSession(t, env, sid, "shutdown", fixture.UserAccessKey, fixture.UserUUID)
	s := openSSE(t, env, "/events/session?sessionId="+sid, &functionstest.User)
	env.Server.Shutdown()
	// No server_close: the client is to reconnect to another API server.
	s.requireEnd(t)
}
