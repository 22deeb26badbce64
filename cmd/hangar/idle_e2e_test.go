package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/stacktest"
	"github.com/hangar-run/hangar/jobs"
)

// TestE2EIdleReaping runs the idle check every second with a 3 s network timeout: idle
// sessions are terminated with reason idle-timeout within the timeout plus about one check
// period, a session that keeps executing code stays. It logs the reap latency: the time from
// a session's expiry (last access, or RUNNING, plus the timeout) to its TERMINATING status.
func TestE2EIdleReaping(t *testing.T) {
	t.Parallel()
	const (
		timeout = 3 * time.Second
		period  = time.Second
		idleN   = 4
	)
	s := stacktest.Start(t, stacktest.Options{Workers: 1, Agents: []stacktest.AgentSpec{{Runtime: "dummy"}}, Etcd: map[string]string{
		jobs.IdleCheckIntervalKey:                        "1s",
		"config/idle/enabled":                            "network_timeout",
		"config/idle/checkers/network_timeout/threshold": "3s",
	}})
	ctx := context.Background()
	_, err := s.DB.Exec(ctx, `UPDATE keypair_resource_policies SET idle_timeout = -1, max_concurrent_sessions = 0`)
	require.NoError(t, err)

	var idle []string
	for i := range idleN {
		name := fmt.Sprintf("idle-e2e-%d", i)
		out := createSession(t, s, pythonSession(name, nil), http.StatusCreated)
		idle = append(idle, out["sessionId"].(string))
	}
	createSession(t, s, pythonSession("busy-e2e", nil), http.StatusCreated)

	// Keep the busy session in use while the idle ones expire.
	pace := time.NewTicker(500 * time.Millisecond)
	defer pace.Stop()
	for deadline := time.Now().Add(2*timeout + 3*period); time.Now().Before(deadline); <-pace.C {
		execute(t, s, "busy-e2e", "", "1")
	}

	var latencies []time.Duration
	for _, sid := range idle {
		var (
			status, info string
			running      time.Time
			access       *time.Time
			terminating  *time.Time
		)
		stacktest.Eventually(t, e2eWait, func() (bool, string) {
			err := s.DB.QueryRow(ctx, `SELECT status::text, COALESCE(status_info, ''),
					(status_history->>'RUNNING')::timestamptz, last_access_at, (status_history->>'TERMINATING')::timestamptz
				FROM sessions WHERE id = $1`, sid).Scan(&status, &info, &running, &access, &terminating)
			require.NoError(t, err)
			return terminating != nil, "session " + sid + " is " + status
		})
		require.Equal(t, "idle-timeout", info)
		expiry := running
		if access != nil && access.After(expiry) {
			expiry = *access
		}
		expiry = expiry.Add(timeout)
		latencies = append(latencies, terminating.Sub(expiry))
	}
	slices.Sort(latencies)
	t.Logf("reap latency (expiry → TERMINATING) with a %v check period, %d sessions: min %v, median %v, max %v",
		period, len(latencies), latencies[0], latencies[len(latencies)/2], latencies[len(latencies)-1])
	for _, l := range latencies {
		require.Less(t, l, 2*period+time.Second, "reaped within the timeout plus about one check period")
	}

	var busy string
	require.NoError(t, s.DB.QueryRow(ctx, `SELECT status::text FROM sessions WHERE name = 'busy-e2e'`).Scan(&busy))
	require.Equal(t, "RUNNING", busy, "a session in use is not reaped")
}
