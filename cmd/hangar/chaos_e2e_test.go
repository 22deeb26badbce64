package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/stacktest"
)

// Recovery bounds of the chaos test: the targets (a killed worker's sessions RUNNING again
// within 10 s, leadership moved within the lease TTL) plus slack for a loaded CI machine.
const (
	chaosWorkerRecovery = 20 * time.Second
	chaosLeaderGap      = time.Duration(config.DefaultLeaderTTL)*time.Second + 3*time.Second
)

// createMany creates sessions named prefix-0 … prefix-(n-1) with enqueueOnly from a few
// concurrent clients and returns their ids.
func createMany(t *testing.T, s *stacktest.Stack, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range next {
				res, err := s.Request(http.MethodPost, "/session", pythonSession(fmt.Sprintf("%s-%d", prefix, i), map[string]any{"enqueueOnly": true}), &stacktest.User)
				if err != nil {
					errs <- err
					continue
				}
				var out map[string]any
				_ = json.Unmarshal(res.Body, &out)
				if res.Status != http.StatusCreated {
					errs <- fmt.Errorf("create %s-%d: status %d: %v", prefix, i, res.Status, out)
					continue
				}
				ids[i], _ = out["sessionId"].(string)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	return ids
}

// countStatus returns how many of ids have status.
func countStatus(t *testing.T, s *stacktest.Stack, ids []string, status string) int {
	t.Helper()
	var n int
	require.NoError(t, s.DB.QueryRow(context.Background(),
		`SELECT count(*) FROM sessions WHERE id = ANY($1::uuid[]) AND status::text = $2`, ids, status).Scan(&n))
	return n
}

// statuses counts the sessions of ids per status.
func statuses(t *testing.T, s *stacktest.Stack, ids []string) map[string]int {
	t.Helper()
	rows, err := s.DB.Query(context.Background(),
		`SELECT status::text, count(*) FROM sessions WHERE id = ANY($1::uuid[]) GROUP BY 1`, ids)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		require.NoError(t, rows.Scan(&st, &n))
		out[st] = n
	}
	require.NoError(t, rows.Err())
	return out
}

// waitAllRunning waits until every session of ids is RUNNING.
func waitAllRunning(t *testing.T, s *stacktest.Stack, ids []string, timeout time.Duration) {
	t.Helper()
	stacktest.Eventually(t, timeout, func() (bool, string) {
		n := countStatus(t, s, ids, "RUNNING")
		return n == len(ids), fmt.Sprintf("%d of %d sessions RUNNING (%v)", n, len(ids), statuses(t, s, ids))
	})
}

// TestE2EChaos runs creates on two workers and a process of simulated agents while workers
// are killed with SIGKILL: first a worker in the middle of session starts (its agent calls
// in flight), then the leader. The killed worker's sessions run again within seconds,
// leadership moves within the lease TTL, and nothing is over-committed or started twice.
func TestE2EChaos(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t, stacktest.Options{
		Workers: 2,
		Agents:  []stacktest.AgentSpec{{ID: "sim", Runtime: "dummy", Simulate: 10, Slots: map[string]string{"cpu": "8", "mem": "16g"}}},
	})
	ctx := context.Background()
	_, err := s.DB.Exec(ctx, `UPDATE keypair_resource_policies SET max_concurrent_sessions = 0, max_pending_session_count = 1000000`)
	require.NoError(t, err)
	_, err = s.DB.Exec(ctx, `UPDATE keypairs SET rate_limit = 100000000`)
	require.NoError(t, err)
	var all []string

	// A worker dies while its starts wait on agent calls (the agents are frozen, so the calls
	// are in flight at the kill).
	all = append(all, createMany(t, s, "calm", 30)...)
	resume := s.Agents[0].Freeze(t)
	all = append(all, createMany(t, s, "storm", 30)...)
	stacktest.Eventually(t, e2eWait, func() (bool, string) {
		n := countStatus(t, s, all, "PREPARING")
		return n >= 4, fmt.Sprintf("%d sessions PREPARING (%v)", n, statuses(t, s, all))
	})
	victim := 0
	if s.LeaderWorker(t) == 0 {
		victim = 1 // the leader's death is the next act
	}
	preparing := countStatus(t, s, all, "PREPARING")
	killed := time.Now()
	s.Workers[victim].Kill()
	resume()
	s.RestartWorker(t, victim)
	waitAllRunning(t, s, all, chaosWorkerRecovery)
	t.Logf("worker killed with %d sessions PREPARING: all %d sessions RUNNING %v after the kill",
		preparing, len(all), time.Since(killed).Round(10*time.Millisecond))
	s.RequireConsistent(t)

	// The leader dies; another worker leads within the lease TTL and the periodic jobs go on.
	var leader int
	stacktest.Eventually(t, e2eWait, func() (bool, string) {
		leader = s.LeaderWorker(t)
		return leader >= 0, "no worker leads"
	})
	killed = time.Now()
	s.Workers[leader].Kill()
	stacktest.Eventually(t, chaosLeaderGap, func() (bool, string) {
		i := s.LeaderWorker(t)
		return i >= 0 && i != leader, "no live worker leads"
	})
	t.Logf("leader killed: a new leader after %v (lease TTL %ds)", time.Since(killed).Round(10*time.Millisecond), config.DefaultLeaderTTL)
	s.RestartWorker(t, leader)
	late := createMany(t, s, "after", 10)
	all = append(all, late...)
	waitAllRunning(t, s, all, e2eWait)

	// No over-commit, no kernel started twice: one RUNNING kernel per session, each booked
	// once (agent_slots.occupied equals the sum of the live kernels' slots, within capacity).
	s.RequireConsistent(t)
	var kernels, sessions int
	require.NoError(t, s.DB.QueryRow(context.Background(),
		`SELECT count(*), count(DISTINCT session_id) FROM kernels WHERE session_id = ANY($1::uuid[]) AND status::text = 'RUNNING'`,
		all).Scan(&kernels, &sessions))
	require.Equal(t, len(all), sessions)
	require.Equal(t, len(all), kernels)
	var cpu string
	require.NoError(t, s.DB.QueryRow(context.Background(),
		`SELECT COALESCE(sum(occupied), 0)::text FROM agent_slots WHERE slot = 'cpu'`).Scan(&cpu))
	require.Equal(t, fmt.Sprint(len(all)), cpu)
}
