package session_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
)

// streamFrame is a server message of the execute stream.
type streamFrame struct {
	Status   string           `json:"status"`
	Msg      string           `json:"msg"`
	Console  [][2]string      `json:"console"`
	ExitCode *int             `json:"exitCode"`
	Options  map[string]any   `json:"options"`
	Files    []map[string]any `json:"files"`
}

// dialStream opens the execute stream of session signed with creds, the way the client signs
// its upgrade request (no Content-Type: signed as application/octet-stream).
func dialStream(t *testing.T, env *functionstest.Env, session string, creds *auth.Credentials) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	u := env.HTTP.URL + "/stream/session/" + session + "/execute"
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	if creds != nil {
		require.NoError(t, creds.SignRequest(req, functions.APIVersion, env.Clock.Now()))
	} else {
		req.Header.Set("Date", env.Clock.Now().UTC().Format(http.TimeFormat))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(u, "http"), &websocket.DialOptions{HTTPHeader: req.Header})
	if conn != nil {
		t.Cleanup(func() { _ = conn.CloseNow() })
	}
	return conn, res, err
}

// readUntil reads frames until one has a status in stop, returning every frame read.
func readUntil(t *testing.T, conn *websocket.Conn, stop ...string) []streamFrame {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var frames []streamFrame
	for {
		var f streamFrame
		require.NoError(t, wsjson.Read(ctx, conn, &f))
		frames = append(frames, f)
		for _, s := range stop {
			if f.Status == s {
				return frames
			}
		}
		require.Contains(t, []string{"continued", "build-finished", "clean-finished"}, f.Status, "frame: %+v", f)
	}
}

// stdoutOf joins the stdout records of frames.
func stdoutOf(frames []streamFrame) string {
	var b strings.Builder
	for _, f := range frames {
		for _, c := range f.Console {
			if c[0] == "stdout" {
				b.WriteString(c[1])
			}
		}
	}
	return b.String()
}

func TestStreamExecute(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	// The client connects with the session's id.
	conn, res, err := dialStream(t, env, rs.ID, &functionstest.User)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	ctx := t.Context()

	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"code": "print(1)", "mode": "query", "options": map[string]any{}}))
	frames := readUntil(t, conn, "finished")
	last := frames[len(frames)-1]
	require.Equal(t, [][2]string{{"stdout", "1\n"}}, last.Console)
	require.NotNil(t, last.ExitCode)
	require.Equal(t, 0, *last.ExitCode)
	require.Equal(t, map[string]any{}, last.Options)
	require.Equal(t, []map[string]any{}, last.Files)

	// Another run on the same socket, with output spread over several frames.
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"mode": "query",
		"code": "import time\nprint('a', flush=True)\ntime.sleep(0.5)\nprint('b')\nraise SystemExit(3)"}))
	frames = readUntil(t, conn, "finished")
	require.Greater(t, len(frames), 1, "the run streams before it finishes")
	require.Equal(t, "a\nb\n", stdoutOf(frames))
	require.Equal(t, 3, *frames[len(frames)-1].ExitCode)

	// Each run counts as a query.
	var sq int64
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `SELECT num_queries FROM sessions WHERE id = $1`, rs.ID).Scan(&sq))
	require.EqualValues(t, 2, sq)

	// A bad request ends the stream with an error.
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(`{"code": "1", "mode": "explode"}`)))
	frames = readUntil(t, conn, "error")
	require.Contains(t, frames[len(frames)-1].Msg, "explode")
	_, _, err = conn.Read(ctx)
	require.Equal(t, websocket.StatusNormalClosure, websocket.CloseStatus(err), "err: %v", err)
}

func TestStreamExecuteShell(t *testing.T) {
	t.Parallel()
	env, rs := newShellKernelEnv(t)
	conn, _, err := dialStream(t, env, rs.Name, &functionstest.User)
	require.NoError(t, err)
	require.NoError(t, wsjson.Write(t.Context(), conn, map[string]any{"code": "echo hi; exit 4", "mode": "query"}))
	frames := readUntil(t, conn, "finished")
	require.Equal(t, "hi\n", stdoutOf(frames))
	require.Equal(t, 4, *frames[len(frames)-1].ExitCode)
}

func TestStreamExecuteAuth(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	for _, tc := range []struct {
		name    string
		session string
		creds   *auth.Credentials
		status  int
		slug    string
	}{
		{"unsigned", rs.Name, nil, http.StatusUnauthorized, "auth-failed"},
		{"bad secret", rs.Name, &auth.Credentials{AccessKey: functionstest.User.AccessKey, SecretKey: "wrong"}, http.StatusUnauthorized, "auth-failed"},
		{"other user's session", rs.Name, &functionstest.User2, http.StatusNotFound, "object-not-found"},
		{"no such session", "nope", &functionstest.User, http.StatusNotFound, "object-not-found"},
	} {
		conn, res, err := dialStream(t, env, tc.session, tc.creds)
		require.Error(t, err, tc.name)
		require.Nil(t, conn, tc.name)
		require.NotNil(t, res, tc.name)
		body, rerr := io.ReadAll(res.Body)
		require.NoError(t, rerr)
		r := &functionstest.Response{Status: res.StatusCode, Header: res.Header, Body: body}
		r.RequireProblem(t, tc.status, tc.slug)
		require.Empty(t, res.Header.Get("Upgrade"), tc.name)
	}

	// A plain GET (no upgrade) is a problem+json 400, not the WebSocket library's text/plain 426.
	env.Do(t, http.MethodGet, "/stream/session/"+rs.Name+"/execute", nil, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "generic-bad-request")

	// A session that is not running cannot stream.
	_, err := env.DB.Pool.Exec(t.Context(), `UPDATE kernels SET status = 'PENDING' WHERE session_id = $1`, rs.ID)
	require.NoError(t, err)
	_, res, err := dialStream(t, env, rs.Name, &functionstest.User)
	require.Error(t, err)
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
}

func TestStreamExecuteServerRestart(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	conn, _, err := dialStream(t, env, rs.Name, &functionstest.User)
	require.NoError(t, err)
	ctx := t.Context()
	// Make sure the stream is served before the server goes down.
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"code": "print(2)", "mode": "query"}))
	readUntil(t, conn, "finished")

	env.Server.Shutdown()
	frames := readUntil(t, conn, "server-restarting")
	require.NotEmpty(t, frames[len(frames)-1].Msg)
	_, _, err = conn.Read(ctx)
	require.Equal(t, websocket.StatusServiceRestart, websocket.CloseStatus(err), "err: %v", err)
}

func TestStreamExecuteInput(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	conn, _, err := dialStream(t, env, rs.Name, &functionstest.User)
	require.NoError(t, err)
	ctx := t.Context()

	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"code": "print(input('? '))", "mode": "query"}))
	frames := readUntil(t, conn, "waiting-input")
	require.Equal(t, "? ", stdoutOf(frames))
	require.Equal(t, map[string]any{"is_password": false}, frames[len(frames)-1].Options)
	// The input is one raw text frame, passed on as it is.
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte("abc")))
	frames = readUntil(t, conn, "finished")
	require.Equal(t, "abc\n", stdoutOf(frames))
	require.Equal(t, 0, *frames[len(frames)-1].ExitCode)

	// The socket stays usable.
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"code": "print(6*7)", "mode": "query"}))
	require.Equal(t, "42\n", stdoutOf(readUntil(t, conn, "finished")))
}

// TestStreamExecuteBatch runs a batch the way `backend.ai run` does: its phases' ends arrive
// as frames of their own before the run finishes.
func TestStreamExecuteBatch(t *testing.T) {
	t.Parallel()
	env, rs := newShellKernelEnv(t)
	conn, _, err := dialStream(t, env, rs.ID, &functionstest.User)
	require.NoError(t, err)
	require.NoError(t, wsjson.Write(t.Context(), conn, map[string]any{"mode": "batch", "code": "",
		"options": map[string]any{"clean": "echo c", "build": "echo b > out.txt", "exec": "cat out.txt; exit 7", "buildLog": true}}))
	frames := readUntil(t, conn, "finished")
	var statuses []string
	for _, f := range frames {
		if f.Status != "continued" {
			statuses = append(statuses, f.Status)
		}
	}
	require.Equal(t, []string{"clean-finished", "build-finished", "finished"}, statuses)
	require.Equal(t, "c\nb\n", stdoutOf(frames))
	require.Equal(t, 7, *frames[len(frames)-1].ExitCode)
}
