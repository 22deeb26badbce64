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

	"github.com/hangar-run/hangar/internal/stacktest"
)

// Outage lengths and the recovery bound of the outage chaos test: the target is the last
// session RUNNING within 5 s of the end of a PostgreSQL outage; the bound adds slack for a
// loaded CI machine, and the measured times are logged.
const (
	chaosRedisOutage    = 2 * time.Second
	chaosPostgresOutage = 5 * time.Second
	chaosOutageRecovery = 30 * time.Second
	chaosCreateEvery    = 50 * time.Millisecond // 20 creates/s
)

// createResult is the answer to one create of the outage test.
type createResult struct {
	at      time.Time
	status  int
	id      string
	problem string
	err     error
}

// steadyCreates posts enqueueOnly creates at a steady rate until stop is closed, each from a
// goroutine of its own, so that a slow answer during an outage does not lower the rate.
// done is closed when every create has been answered.
func steadyCreates(s *stacktest.Stack, stop <-chan struct{}) (results func() []createResult, done <-chan struct{}) {
	var (
		mu  sync.Mutex
		out []createResult
		wg  sync.WaitGroup
	)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(chaosCreateEvery)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				wg.Wait()
				return
			case <-tick.C:
			}
			wg.Go(func() {
				r := createResult{at: time.Now()}
				res, err := s.Request(http.MethodPost, "/session", pythonSession(fmt.Sprintf("out-%d", i), map[string]any{"enqueueOnly": true}), &stacktest.User)
				if err != nil {
					r.err = err
				} else {
					r.status = res.Status
					var body map[string]any
					_ = json.Unmarshal(res.Body, &body)
					if res.Status == http.StatusCreated {
						r.id, _ = body["sessionId"].(string)
					} else {
						r.problem = string(res.Body)
					}
				}
				mu.Lock()
				out = append(out, r)
				mu.Unlock()
			})
		}
	}()
	return func() []createResult {
		mu.Lock()
		defer mu.Unlock()
		return append([]createResult(nil), out...)
	}, finished
}

// createdIDs returns the ids of the sessions of rs that were created (201).
func createdIDs(rs []createResult) []string {
	var ids []string
	for _, r := range rs {
		if r.status == http.StatusCreated && r.id != "" {
			ids = append(ids, r.id)
		}
	}
	return ids
}

// sessionStatuses counts the sessions of ids per status; a query that fails (the database
// just came back and the pool's connections broke) returns the error.
func sessionStatuses(s *stacktest.Stack, ids []string) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := s.DB.Query(ctx, `SELECT status::text, count(*) FROM sessions WHERE id = ANY($1::uuid[]) GROUP BY 1`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}

// waitRunningSince waits until every session of ids is RUNNING and returns how long after
// since that was first seen.
func waitRunningSince(t *testing.T, s *stacktest.Stack, ids []string, since time.Time) time.Duration {
	t.Helper()
	stacktest.Eventually(t, chaosOutageRecovery, func() (bool, string) {
		st, err := sessionStatuses(s, ids)
		if err != nil {
			return false, err.Error()
		}

		return st["RUNNING"] == len(ids), fmt.Sprintf("%d of %d sessions RUNNING (%v)", st["RUNNING"], len(ids), st)
	})
	return time.Since(since).Round(10 * time.Millisecond)
}

// TestE2EChaosOutages runs a steady stream of creates on two workers and simulated agents
// while the stack's own Redis is restarted (its data lost) and later its own PostgreSQL is
// stopped the way a crash stops it and started again. Creates answer 201 while Redis is
// down (PostgreSQL is the source of truth; the schedule tick wakes the workers) and 503 while
// PostgreSQL is down — never another 5xx; afterwards every created session runs within
// seconds, exactly one kernel each, with the slot accounting intact.
func TestE2EChaosOutages(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t, stacktest.Options{
		Workers:         2,
		Agents:          []stacktest.AgentSpec{{ID: "sim", Runtime: "dummy", Simulate: 10, Slots: map[string]string{"cpu": "32", "mem": "64g"}}},
		PrivatePostgres: true,
		PrivateRedis:    true,
	})
	ctx := context.Background()
	_, err := s.DB.Exec(ctx, `UPDATE keypair_resource_policies SET max_concurrent_sessions = 0, max_pending_session_count = 1000000`)
	require.NoError(t, err)
	_, err = s.DB.Exec(ctx, `UPDATE keypairs SET rate_limit = 100000000`)
	require.NoError(t, err)

	stop := make(chan struct{})
	results, done := steadyCreates(s, stop)
	stacktest.Eventually(t, e2eWait, func() (bool, string) {
		n := len(createdIDs(results()))
		return n >= 20, fmt.Sprintf("%d sessions created", n)
	})

	// Redis goes away with everything it held (queues, events); creates go on.
	redisDown := time.Now()
	s.RedisServer.Stop(t)
	time.Sleep(chaosRedisOutage) // the outage itself, not a wait for state
	s.RedisServer.Start(t)
	redisUp := time.Now()
	before := createdIDs(results())
	redisRecovery := waitRunningSince(t, s, before, redisUp)
	t.Logf("Redis down %v: the %d sessions created until it came back all RUNNING %v after",
		redisUp.Sub(redisDown).Round(10*time.Millisecond), len(before), redisRecovery)

	// PostgreSQL crashes with starts in flight: the agents are frozen until a few sessions
	// wait in PREPARING on their calls, and answer once the database is gone. Creates are
	// refused with 503 until it is back.
	resume := s.Agents[0].Freeze(t)
	var preCrash []string
	var st map[string]int
	stacktest.Eventually(t, e2eWait, func() (bool, string) {
		preCrash = createdIDs(results())
		st, err = sessionStatuses(s, preCrash)
		return err == nil && st["PREPARING"] >= 6, fmt.Sprintf("%v %v", st, err)
	})
	pgDown := time.Now()
	s.Postgres.Stop(t)
	resume()
	time.Sleep(chaosPostgresOutage) // the outage itself
	s.Postgres.Start(t)
	pgUp := time.Now()
	pgRecovery := waitRunningSince(t, s, preCrash, pgUp)
	t.Logf("PostgreSQL down %v with %d of %d sessions not yet RUNNING (%v): all RUNNING %v after it came back",
		pgUp.Sub(pgDown).Round(10*time.Millisecond), len(preCrash)-st["RUNNING"], len(preCrash), st, pgRecovery)
	time.Sleep(time.Second) // creates go on a little after the outage
	close(stop)
	<-done
	all := results()
	ids := createdIDs(all)
	lastRunning := waitRunningSince(t, s, ids, pgUp)

	// Every create was answered 201, or 503 while PostgreSQL was down (a create sent just
	// before the crash may meet it too).
	counts := map[int]int{}
	duringRedis := 0
	for _, r := range all {
		require.NoError(t, r.err, "create at %v", r.at.Sub(redisDown))
		counts[r.status]++
		switch r.status {
		case http.StatusCreated:
			if !r.at.Before(redisDown) && r.at.Before(redisUp) {
				duringRedis++
			}
		case http.StatusServiceUnavailable:
			require.True(t, r.at.After(pgDown.Add(-time.Second)) && r.at.Before(pgUp),
				"503 outside the PostgreSQL outage (create sent %v after Redis went down): %s", r.at.Sub(redisDown), r.problem)
			var p stacktest.Problem
			require.NoError(t, json.Unmarshal([]byte(r.problem), &p), r.problem)
			require.Equal(t, stacktest.ProblemBase+"service-unavailable", p.Type, r.problem)
		default:
			t.Fatalf("create sent %v after Redis went down: status %d: %s", r.at.Sub(redisDown), r.status, r.problem)
		}
	}
	require.Positive(t, duringRedis, "no create was accepted while Redis was down")
	require.Positive(t, counts[http.StatusServiceUnavailable], "no create met the PostgreSQL outage")
	t.Logf("%d creates answered %v (%d accepted while Redis was down); all %d created sessions RUNNING %v after PostgreSQL came back",
		len(all), counts, duringRedis, len(ids), lastRunning)

	// Every process rode the outages out.
	for _, p := range append(append([]*stacktest.Proc{s.API}, s.Workers...), s.Agents...) {
		exited, err := p.Exited()
		require.False(t, exited, "%s exited: %v", p.Name, err)
	}

	// Nothing lost, over-committed or started twice.
	s.RequireConsistent(t)
	var kernels, sessions int
	require.NoError(t, s.DB.QueryRow(ctx,
		`SELECT count(*), count(DISTINCT session_id) FROM kernels WHERE session_id = ANY($1::uuid[]) AND status::text = 'RUNNING'`,
		ids).Scan(&kernels, &sessions))
	require.Equal(t, len(ids), sessions)
	require.Equal(t, len(ids), kernels)
	var cpu string
	require.NoError(t, s.DB.QueryRow(ctx,
		`SELECT COALESCE(sum(occupied), 0)::text FROM agent_slots WHERE slot = 'cpu'`).Scan(&cpu))
	require.Equal(t, fmt.Sprint(len(ids)), cpu)
}
