package schedule_test

import (
	"encoding/json"
	"github.com/hangar-run/hangar/jobs/jobstest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/events"
)

// A pass cancels each session it cannot evaluate (garbage written straight into the
// database), leaves their slots alone, tells their owners, and still places the good
// session next to them in the same pass.
func TestScheduleCancelsUnreadableSessionsAndPlacesTheOthers(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	evs := e.Subscribe(t)
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)

	type bad struct{ name, sql, Info string }
	cases := []bad{
		{"k-1e400", `UPDATE kernels SET requested_slots = '{"cpu": "1e400", "mem": "1g"}' WHERE session_id = $1`, "invalid-resource-request"},
		{"k-1e308", `UPDATE kernels SET requested_slots = '{"cpu": "1e308"}' WHERE session_id = $1`, "invalid-resource-request"},
		{"k-number", `UPDATE kernels SET requested_slots = '{"cpu": 1e400}' WHERE session_id = $1`, "invalid-resource-request"},
		{"k-nan", `UPDATE kernels SET requested_slots = '{"cpu": "NaN"}' WHERE session_id = $1`, "invalid-resource-request"},
		{"k-inf", `UPDATE kernels SET requested_slots = '{"cpu": "Infinity"}' WHERE session_id = $1`, "invalid-resource-request"},
		{"k-neg", `UPDATE kernels SET requested_slots = '{"mem": "-1"}' WHERE session_id = $1`, "invalid-resource-request"},
		{"k-array", `UPDATE kernels SET requested_slots = '[1, 2]' WHERE session_id = $1`, "invalid-resource-request"},
		{"k-object", `UPDATE kernels SET requested_slots = '{"cpu": {"a": 1}}' WHERE session_id = $1`, "invalid-resource-request"},
		{"s-1e400", `UPDATE sessions SET requested_slots = '{"cpu": "1e400"}' WHERE id = $1`, "invalid-resource-request"},
		{"s-mode", `UPDATE sessions SET cluster_mode = 'sideways' WHERE id = $1`, "invalid-session"},
	}
	ids := make([]string, len(cases))
	kernels := make([]string, len(cases))
	for i, c := range cases {
		ids[i], kernels[i] = e.InsertPendingSession(t, c.name, "1", "1073741824")
		_, err := e.Pool.Exec(t.Context(), c.sql, ids[i])
		require.NoError(t, err, c.name)
	}
	// The good session comes last in FIFO order: the bad ones ahead of it must not stop it.
	good, goodKernel := e.InsertPendingSession(t, "good", "1", "1073741824")

	e.Schedule(t)

	require.Equal(t, "SCHEDULED", e.Session(t, good).Status)
	require.Equal(t, "i-a1", e.Kernel(t, goodKernel).Agent)
	require.Equal(t, map[string]string{"cpu": "1", "mem": "1073741824"}, e.Occupied(t, "i-a1"))
	e.RequireConsistent(t)
	for i, c := range cases {
		s := e.Session(t, ids[i])
		require.Equal(t, "CANCELLED", s.Status, c.name)
		require.Equal(t, c.Info, s.Info, c.name)
		k := e.Kernel(t, kernels[i])
		require.Equal(t, "CANCELLED", k.Status, c.name)
		require.False(t, k.Reserved, c.name)
		var data map[string]map[string]any
		var raw []byte
		require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT status_data FROM sessions WHERE id = $1`, ids[i]).Scan(&raw))
		require.NoError(t, json.Unmarshal(raw, &data), c.name)
		require.NotEmpty(t, data["error"]["repr"], c.name)
	}
	// Every owner hears of the cancellation, with the reason.
	want := map[string]string{}
	for i, c := range cases {
		want[ids[i]] = c.Info
	}
	deadline := time.After(5 * time.Second)
	for len(want) > 0 {
		select {
		case ev := <-evs:
			if ev.Name == events.SessionCancelled && want[ev.SessionID] != "" {
				require.Equal(t, want[ev.SessionID], ev.Reason)
				delete(want, ev.SessionID)
			}
		case <-deadline:
			t.Fatalf("no session_cancelled event for %v", want)
		}
	}
}

// An agent whose capacity or occupancy rows hold garbage is left out of the pass; the others
// still take sessions. The garbage agent is the larger one, so dispersed placement would pick
// it if it were read.
func TestScheduleSkipsAgentsWithUnreadableCapacity(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	e.InsertAgent(t, "i-good", "tcp://127.0.0.1:1", 2, 4*gib)
	e.InsertAgent(t, "i-huge", "tcp://127.0.0.1:2", 64, 256*gib)
	e.InsertAgent(t, "i-inf", "tcp://127.0.0.1:3", 64, 256*gib)
	_, err := e.Pool.Exec(t.Context(), `UPDATE agent_slots SET capacity = 1e400 WHERE agent_id = 'i-huge' AND slot = 'cpu'`)
	require.NoError(t, err)
	_, err = e.Pool.Exec(t.Context(), `UPDATE agent_slots SET capacity = 'Infinity' WHERE agent_id = 'i-inf' AND slot = 'mem'`)
	require.NoError(t, err)
	sid, kid := e.InsertPendingSession(t, "s1", "1", "1073741824")

	e.Schedule(t)

	require.Equal(t, "SCHEDULED", e.Session(t, sid).Status)
	require.Equal(t, "i-good", e.Kernel(t, kid).Agent)
}

// Unreadable policy limits fail closed: the key's sessions stay pending with a reason, and
// the pass itself does not fail.
func TestScheduleUnreadablePolicyLimitsToNothing(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	_, err := e.Pool.Exec(t.Context(), `UPDATE keypair_resource_policies SET total_resource_slots = '{"cpu": "1e400"}'`)
	require.NoError(t, err)
	sid, _ := e.InsertPendingSession(t, "s1", "1", "1073741824")

	e.Schedule(t)

	s := e.Session(t, sid)
	require.Equal(t, "PENDING", s.Status)
	require.Equal(t, "predicate-checks-failed", s.Info)
}
