package session_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
)

// sseEvent is one event of /events/session.
type sseEvent struct {
	Name string
	Data map[string]any
}

// watchSession opens /events/session for one session and returns its events (pings left out).
func watchSession(t *testing.T, env *functionstest.Env, sid string) <-chan sseEvent {
	t.Helper()
	res := env.Open(t, http.MethodGet, "/events/session?sessionId="+sid, &functionstest.User)
	require.Equal(t, http.StatusOK, res.StatusCode)
	out := make(chan sseEvent, 64)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := strings.TrimSuffix(sc.Text(), "\r")
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.Name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.Data)
			case line == "" && ev.Name != "":
				out <- ev
				ev = sseEvent{}
			}
		}
	}()
	t.Cleanup(func() { _ = res.Body.Close() })
	return out
}

// A restart shows on /events/session as Backend.AI's does: kernel_started for the restarted
// kernel, then session_started.
func TestRestartEventsOnSessionStream(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	runRestartWorker(t, env)
	evs := watchSession(t, env, rs.ID)

	env.Do(t, http.MethodPatch, "/session/"+rs.Name, nil, &functionstest.User).RequireStatus(t, http.StatusNoContent)

	var got []sseEvent
	deadline := time.After(20 * time.Second)
	for len(got) < 2 {
		select {
		case ev, ok := <-evs:
			require.True(t, ok, "stream ended after %+v", got)
			got = append(got, ev)
		case <-deadline:
			t.Fatalf("events so far: %+v", got)
		}
	}
	require.Equal(t, "kernel_started", got[0].Name)
	require.Equal(t, rs.KernelID, got[0].Data["kernelId"])
	require.Equal(t, rs.ID, got[0].Data["sessionId"])
	require.Equal(t, rs.Name, got[0].Data["sessionName"])
	require.Equal(t, "session_started", got[1].Name)
	require.Equal(t, rs.ID, got[1].Data["sessionId"])
}
