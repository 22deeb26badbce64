package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/stacktest"
	"github.com/hangar-run/hangar/jobs"
)

// agentStatus returns an agent's status in the agents table.
func agentStatus(s *stacktest.Stack, id string) string {
	var st string
	_ = s.DB.QueryRow(context.Background(), `SELECT status::text FROM agents WHERE id = $1`, id).Scan(&st)
	return st
}

// agentOf returns the agent of a session's main kernel.
func agentOf(t *testing.T, s *stacktest.Stack, sid string) string {
	t.Helper()
	var agent string
	require.NoError(t, s.DB.QueryRow(context.Background(),
		`SELECT agent FROM kernels WHERE session_id = $1 AND cluster_role = 'main'`, sid).Scan(&agent))
	return agent
}

// TestE2EAgentKilledIsLostAndRevives kills an agent process with SIGKILL: it becomes LOST
// within the heartbeat timeout, its session ends with reason agent-lost and its slots return,
// while the other agent's session runs on. Restarted with the same id, the agent is ALIVE
// again, reconciled, and takes new sessions; the other agent's kernel is never touched.
func TestE2EAgentKilledIsLostAndRevives(t *testing.T) {
	t.Parallel()
	slots := map[string]string{"cpu": "1", "mem": "4g"}
	s := stacktest.Start(t, stacktest.Options{
		Workers: 1,
		Agents: []stacktest.AgentSpec{
			{ID: "doomed", Runtime: "dummy", Slots: slots},
			{ID: "steady", Runtime: "dummy", Slots: slots},
		},
		Etcd:      map[string]string{jobs.AgentLostCheckIntervalKey: "1s"},
		WorkerEnv: []string{"HANGAR_HEARTBEAT_TIMEOUT=3"},
	})
	// Each agent has room for one session.
	first := createSession(t, s, pythonSession("live-1", nil), http.StatusCreated)["sessionId"].(string)
	second := createSession(t, s, pythonSession("live-2", nil), http.StatusCreated)["sessionId"].(string)
	onDoomed, onSteady := first, second
	if agentOf(t, s, first) != "doomed" {
		onDoomed, onSteady = second, first
	}
	require.Equal(t, "steady", agentOf(t, s, onSteady))

	killed := time.Now()
	s.Agents[0].Kill()
	stacktest.Eventually(t, e2eWait, func() (bool, string) {
		st := agentStatus(s, "doomed")
		return st == "LOST", "agent status " + st
	})
	t.Logf("LOST detected %v after SIGKILL (heartbeat timeout 3 s, lost check every 1 s)", time.Since(killed).Round(10*time.Millisecond))
	got := s.WaitSession(t, onDoomed, e2eWait, "TERMINATED")
	require.Equal(t, "agent-lost", got.StatusInfo)
	require.Equal(t, []string{"TERMINATED"}, kernelStatuses(t, s, onDoomed))
	require.Equal(t, "0", s.Occupied(t)["doomed/cpu"])
	require.Equal(t, "RUNNING", s.Session(t, onSteady).Status)
	s.RequireConsistent(t)

	s.RestartAgent(t, 0)
	stacktest.Eventually(t, e2eWait, func() (bool, string) {
		st := agentStatus(s, "doomed")
		return st == "ALIVE", "agent status " + st
	})
	// The revived agent takes the next session (the only free room is there).
	third := createSession(t, s, pythonSession("live-3", nil), http.StatusCreated)
	require.Equal(t, "RUNNING", third["status"])
	require.Equal(t, "doomed", agentOf(t, s, third["sessionId"].(string)))
	require.Equal(t, "RUNNING", s.Session(t, onSteady).Status)
	require.Equal(t, []string{"RUNNING"}, kernelStatuses(t, s, onSteady))
	s.RequireConsistent(t)
}

// TestE2EWorkerKilledDuringStart kills the only worker while a session:start is in flight
// (the agent is stopped, so create_kernels hangs): after a restart the session still starts,
// exactly once, with its slots booked once.
func TestE2EWorkerKilledDuringStart(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t, stacktest.Options{Workers: 1, Agents: []stacktest.AgentSpec{{Runtime: "dummy"}}})
	resume := s.Agents[0].Freeze(t)
	sid := createSession(t, s, pythonSession("crash-start", map[string]any{"enqueueOnly": true}), http.StatusCreated)["sessionId"].(string)
	s.WaitSession(t, sid, e2eWait, "PREPARING")

	s.Workers[0].Kill()
	resume()
	other := createSession(t, s, pythonSession("after-crash", map[string]any{"enqueueOnly": true}), http.StatusCreated)["sessionId"].(string)
	s.RestartWorker(t, 0)

	// The orphaned start is retried once the session has been PREPARING for 30 s.
	s.WaitSession(t, sid, 2*time.Minute, "RUNNING")
	s.WaitSession(t, other, e2eWait, "RUNNING")
	require.Equal(t, []string{"RUNNING"}, kernelStatuses(t, s, sid))
	require.Equal(t, "2", s.Occupied(t)["agent-1/cpu"], "two sessions of one CPU, each booked once")
	s.RequireConsistent(t)
}
