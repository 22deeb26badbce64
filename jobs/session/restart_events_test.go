package session_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/events"
)

// restartEvents collects the events of session sid up to and including session_started.
func restartEvents(t *testing.T, ch <-chan events.Event, sid string) []events.Event {
	t.Helper()
	var got []events.Event
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-ch:
			if ev.SessionID != sid {
				continue
			}
			got = append(got, ev)
			if ev.Name == events.SessionStarted {
				return got
			}
		case <-deadline:
			t.Fatalf("no session_started for session %s; got %+v", sid, got)
		}
	}
}

// A restart reports its kernels as Backend.AI's agent does (kernel_started again), then the
// session's session_started.
func TestRestartJobEmitsKernelStartedThenSessionStarted(t *testing.T) {
	r := newRestartEnv(t)
	r.beginRestart(t)
	r.restart(t)
	got := restartEvents(t, r.evs, r.sid)
	require.Len(t, got, 2)
	require.Equal(t, events.KernelStarted, got[0].Name)
	require.Equal(t, r.kid, got[0].KernelID)
	require.Equal(t, "main", got[0].ClusterRole)
	require.Equal(t, "s1", got[0].SessionName)
	require.NotEmpty(t, got[0].AccessKey)
	require.Equal(t, got[1].AccessKey, got[0].AccessKey)
	require.Equal(t, got[1].ProjectID, got[0].ProjectID)
	require.Equal(t, events.SessionStarted, got[1].Name)
	require.Equal(t, "RUNNING", got[1].Status)
}

// A kernel whose restart failed is not reported as started.
func TestRestartJobFailedKernelIsNotStarted(t *testing.T) {
	r := newRestartEnv(t)
	r.Agent.fail = agentrpc.Errorf(agentrpc.KindFailure, "the runtime refused")
	r.beginRestart(t)
	r.restart(t)
	got := restartEvents(t, r.evs, r.sid)
	require.Len(t, got, 1)
	require.Equal(t, events.SessionStarted, got[0].Name)
}
