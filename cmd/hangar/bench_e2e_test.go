package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/stacktest"
)

// The end-to-end benchmarks run the real processes (API, 2 workers, agents) on the halfstack
// and drive them through the signed REST API, as clients would. They report:
//
//   - placed/s: sessions created and placed (RUNNING) per second, sustained over the run;
//   - p50-ms / p99-ms: create→RUNNING latency as a client sees it (POST /session with
//     maxWaitSeconds answers when the session is RUNNING);
//   - api-MB / worker-MB: peak resident memory (VmHWM) of the API and of the largest worker;
//   - pg-commits/session and redis-cmds/session: PostgreSQL commits in the stack's database and
//     Redis commands (the whole server: each stack has a Redis server of its own) per placed
//     session.
//
// HANGAR_BENCH_SESSIONS sets the number of sessions of the throughput runs (default 10000);
// HANGAR_BENCH_PACED_SECONDS the length of the paced run (default 30).

// benchClients is the number of concurrent clients.
const benchClients = 50

// BenchmarkSessionsEndToEnd measures placement throughput and latency through the whole
// system with 1,000 simulated agents of (32 CPU, 128 GiB) and sessions of (1 CPU, 4 GiB).
func BenchmarkSessionsEndToEnd(b *testing.B) {
	n := benchSessions()
	s := stacktest.Start(b, stacktest.Options{
		Workers:      2,
		PrivateRedis: true,
		Agents: []stacktest.AgentSpec{{
			Runtime: "dummy", Simulate: 1000, Slots: map[string]string{"cpu": "32", "mem": "128g"},
			// 1,000 agents heartbeating every 3 s would add 333 heartbeat jobs/s to the run.
			Env: []string{"HANGAR_HEARTBEAT_INTERVAL=20s"},
		}},
		ReadyTimeout: 3 * time.Minute,
	})
	unlimit(b, s)
	round := 0

	b.Run("enqueued", func(b *testing.B) {
		for b.Loop() {
			m := measure(b, s, func() []time.Duration {
				// A round of its own names: with -count, earlier rounds' ended sessions stay.
				round++
				prefix := fmt.Sprintf("q%d", round)
				runClients(b, s, n, prefix, true)
				waitRunning(b, s, n, "bench-"+prefix+"-", 5*time.Minute)
				return nil
			})
			m.report(b, n)
			destroyAll(b, s)
		}
	})
	b.Run("waiting", func(b *testing.B) {
		for b.Loop() {
			var lat []time.Duration
			m := measure(b, s, func() []time.Duration {
				round++
				lat = runClients(b, s, n, fmt.Sprintf("w%d", round), false)
				return lat
			})
			m.report(b, n)
			destroyAll(b, s)
		}
	})
}

// benchSessions is the number of sessions of a throughput run: HANGAR_BENCH_SESSIONS, or
// 10,000.
func benchSessions() int {
	if v, err := strconv.Atoi(os.Getenv("HANGAR_BENCH_SESSIONS")); err == nil && v > 0 {
		return v
	}
	return 10000
}

// BenchmarkSessionsWorkers measures how placement throughput grows with the number of worker
// processes: for 1, 2 and 4 workers, a stack of its own with 1,000 simulated agents of
// (32 CPU, 128 GiB), 50 clients creating sessions of (1 CPU, 4 GiB) with enqueueOnly, timed
// until every session is RUNNING.
func BenchmarkSessionsWorkers(b *testing.B) {
	n := benchSessions()
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			s := stacktest.Start(b, stacktest.Options{
				Workers:      workers,
				PrivateRedis: true,
				Agents: []stacktest.AgentSpec{{
					Runtime: "dummy", Simulate: 1000, Slots: map[string]string{"cpu": "32", "mem": "128g"},
					Env: []string{"HANGAR_HEARTBEAT_INTERVAL=20s"}, // as in BenchmarkSessionsEndToEnd
				}},
				ReadyTimeout: 3 * time.Minute,
			})
			unlimit(b, s)
			round := 0
			for b.Loop() {
				m := measure(b, s, func() []time.Duration {
					round++
					prefix := fmt.Sprintf("k%d", round)
					runClients(b, s, n, prefix, true)
					waitRunning(b, s, n, "bench-"+prefix+"-", 5*time.Minute)
					return nil
				})
				m.report(b, n)
				destroyAll(b, s)
			}
		})
	}
}

// pacedRate is the create rate of BenchmarkSessionsPaced, per second.
const pacedRate = 60

// BenchmarkSessionsPaced offers an open-loop load: one creator starts a create
// (enqueueOnly) every 1/60 s whatever the earlier ones are doing, for
// HANGAR_BENCH_PACED_SECONDS (default 30), on 200 simulated agents of (32 CPU, 128 GiB)
// heartbeating every second (the stack's period, three times Backend.AI's default rate), with
// 2 workers. Once every session is RUNNING it reports, from the sessions' status_history:
//
//   - lag-p50-ms / lag-p99-ms / lag-max-ms: SCHEDULED → RUNNING;
//   - run-p50-ms / run-p99-ms / run-max-ms: created_at → RUNNING;
//   - creates/s: the rate actually offered, and create-p99-ms the create call's latency.
func BenchmarkSessionsPaced(b *testing.B) {
	seconds := 30
	if v, err := strconv.Atoi(os.Getenv("HANGAR_BENCH_PACED_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	n := seconds * pacedRate
	s := stacktest.Start(b, stacktest.Options{
		Workers:      2,
		PrivateRedis: true,
		Agents: []stacktest.AgentSpec{{
			Runtime: "dummy", Simulate: 200, Slots: map[string]string{"cpu": "32", "mem": "128g"},
		}},
		ReadyTimeout: 3 * time.Minute,
	})
	unlimit(b, s)
	round := 0
	for b.Loop() {
		round++
		prefix := fmt.Sprintf("bench-r%d-", round)
		var offered time.Duration
		var calls []time.Duration
		m := measure(b, s, func() []time.Duration {
			offered, calls = runPaced(b, s, n, prefix)
			waitRunning(b, s, n, prefix, 5*time.Minute)
			return nil
		})
		lag, run := statusLags(b, s, prefix)
		require.Len(b, lag, n)
		m.report(b, n)
		b.ReportMetric(float64(n)/offered.Seconds(), "creates/s")
		reportPercentiles(b, "create", calls)
		reportPercentiles(b, "lag", lag)
		reportPercentiles(b, "run", run)
		destroyAll(b, s)
	}
}

// runPaced starts one create of a session named prefix+i every 1/pacedRate s, each in a
// goroutine of its own, and returns when all have answered: how long the offering took and
// each create call's latency.
func runPaced(b *testing.B, s *stacktest.Stack, n int, prefix string) (time.Duration, []time.Duration) {
	b.Helper()
	lat := make([]time.Duration, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / pacedRate)
	defer tick.Stop()
	start := time.Now()
	for i := range n {
		if i > 0 {
			<-tick.C
		}
		wg.Go(func() {
			body := map[string]any{
				"name": fmt.Sprintf("%s%d", prefix, i), "image": "python", "enqueueOnly": true,
				"config": map[string]any{"resources": map[string]string{"cpu": "1", "mem": "4g"}},
			}
			t0 := time.Now()
			res, err := s.Request(http.MethodPost, "/session", body, &stacktest.User)
			lat[i] = time.Since(t0)
			if err == nil && res.Status != http.StatusCreated {
				err = fmt.Errorf("create %d: %d %s", i, res.Status, res.Body)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	offered := time.Since(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return offered, lat
}

// statusLags returns, for every session whose name starts with prefix, the time from
// SCHEDULED to RUNNING and from its creation to RUNNING, as its status_history records them.
func statusLags(b *testing.B, s *stacktest.Stack, prefix string) (lag, run []time.Duration) {
	b.Helper()
	rows, err := s.DB.Query(context.Background(), `SELECT
			(extract(epoch FROM (status_history->>'RUNNING')::timestamptz - (status_history->>'SCHEDULED')::timestamptz) * 1e6)::bigint,
			(extract(epoch FROM (status_history->>'RUNNING')::timestamptz - created_at) * 1e6)::bigint
		FROM sessions WHERE starts_with(name, $1)`, prefix)
	require.NoError(b, err)
	defer rows.Close()
	for rows.Next() {
		var l, r int64 // µs
		require.NoError(b, rows.Scan(&l, &r))
		lag = append(lag, time.Duration(l)*time.Microsecond)
		run = append(run, time.Duration(r)*time.Microsecond)
	}
	require.NoError(b, rows.Err())
	return lag, run
}

// reportPercentiles reports the p50, p99 and maximum of d in milliseconds as
// <name>-p50-ms, <name>-p99-ms and <name>-max-ms.
func reportPercentiles(b *testing.B, name string, d []time.Duration) {
	b.Helper()
	if len(d) == 0 {
		return
	}
	l := slices.Clone(d)
	slices.Sort(l)
	ms := func(v time.Duration) float64 { return float64(v.Microseconds()) / 1000 }
	b.ReportMetric(ms(l[min(len(l)-1, len(l)/2)]), name+"-p50-ms")
	b.ReportMetric(ms(l[min(len(l)-1, int(0.99*float64(len(l))))]), name+"-p99-ms")
	b.ReportMetric(ms(l[len(l)-1]), name+"-max-ms")
}

// BenchmarkSessionsProcessRuntime measures create→RUNNING with the process runtime: rounds
// of 50 concurrent creates of Python sessions on one agent, each session a real process.
func BenchmarkSessionsProcessRuntime(b *testing.B) {
	s := stacktest.Start(b, stacktest.Options{
		Workers:      2,
		PrivateRedis: true,
		Agents: []stacktest.AgentSpec{{
			Runtime: "process", Slots: map[string]string{"cpu": "64", "mem": "256g"},
			// A warm interpreter ready for each of a round's creates.
			Env: []string{fmt.Sprintf("HANGAR_WARM_INTERPRETERS=%d", benchClients)},
		}},
	})
	unlimit(b, s)
	// serial: one client at a time, the path's own latency without queueing.
	b.Run("serial", func(b *testing.B) {
		const n = 20
		for b.Loop() {
			m := measure(b, s, func() []time.Duration {
				lat := runClientsN(b, s, 1, n, "serial", false)
				destroyAll(b, s)
				return lat
			})
			m.report(b, n)
		}
	})
	b.Run("concurrent", func(b *testing.B) {
		const rounds = 4
		for b.Loop() {
			var all []time.Duration
			m := measure(b, s, func() []time.Duration {
				for r := range rounds {
					all = append(all, runClients(b, s, benchClients, fmt.Sprintf("p%d", r), false)...)
					destroyAll(b, s)
				}
				return all
			})
			m.report(b, rounds*benchClients)
		}
	})
}

// unlimit lifts the example policy's session cap and the rate limit, which a benchmark
// would otherwise measure.
func unlimit(b *testing.B, s *stacktest.Stack) {
	b.Helper()
	ctx := context.Background()
	_, err := s.DB.Exec(ctx, `UPDATE keypair_resource_policies SET max_concurrent_sessions = 0, max_pending_session_count = 1000000`)
	require.NoError(b, err)
	_, err = s.DB.Exec(ctx, `UPDATE keypairs SET rate_limit = 100000000`)
	require.NoError(b, err)
}

// runClients creates n sessions from benchClients goroutines and returns each create's
// latency. With enqueueOnly the latency is the create call's alone.
func runClients(b *testing.B, s *stacktest.Stack, n int, prefix string, enqueueOnly bool) []time.Duration {
	return runClientsN(b, s, benchClients, n, prefix, enqueueOnly)
}

// runClientsN is runClients with clients goroutines.
func runClientsN(b *testing.B, s *stacktest.Stack, clients, n int, prefix string, enqueueOnly bool) []time.Duration {
	b.Helper()
	var next atomic.Int64
	lat := make([]time.Duration, n)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				body := map[string]any{
					"name": fmt.Sprintf("bench-%s-%d", prefix, i), "image": "python",
					"config": map[string]any{"resources": map[string]string{"cpu": "1", "mem": "4g"}},
				}
				if enqueueOnly {
					body["enqueueOnly"] = true
				} else {
					body["maxWaitSeconds"] = 60
				}
				start := time.Now()
				res, err := s.Request(http.MethodPost, "/session", body, &stacktest.User)
				lat[i] = time.Since(start)
				if err == nil && res.Status != http.StatusCreated {
					err = fmt.Errorf("create %d: %d %s", i, res.Status, res.Body)
				}
				if err == nil && !enqueueOnly {
					var out struct{ Status string }
					if err = json.Unmarshal(res.Body, &out); err == nil && out.Status != "RUNNING" {
						err = fmt.Errorf("create %d: status %s", i, out.Status)
					}
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return lat
}

// waitRunning polls until n sessions whose names start with prefix are RUNNING.
func waitRunning(b *testing.B, s *stacktest.Stack, n int, prefix string, timeout time.Duration) {
	b.Helper()
	stacktest.Eventually(b, timeout, func() (bool, string) {
		var running, other int
		err := s.DB.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE status = 'RUNNING'),
			count(*) FILTER (WHERE status NOT IN ('RUNNING', 'PENDING', 'SCHEDULED', 'PREPARING'))
			FROM sessions WHERE starts_with(name, $1)`, prefix).Scan(&running, &other)
		if err != nil {
			return false, err.Error()
		}
		if other > 0 {
			b.Fatalf("%d sessions ended instead of running", other)
		}
		return running >= n, fmt.Sprintf("%d of %d running", running, n)
	})
}

// destroyAll destroys every live session and waits until the agents hold nothing.
func destroyAll(b *testing.B, s *stacktest.Stack) {
	b.Helper()
	rows, err := s.DB.Query(context.Background(), `SELECT id::text FROM sessions WHERE status NOT IN ('TERMINATED', 'CANCELLED', 'ERROR')`)
	require.NoError(b, err)
	var ids []string
	for rows.Next() {
		var id string
		require.NoError(b, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(b, rows.Err())
	var next atomic.Int64
	var wg sync.WaitGroup
	for range benchClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return
				}
				if _, err := s.Request(http.MethodDelete, "/session/"+ids[i], nil, &stacktest.User); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	stacktest.Eventually(b, 5*time.Minute, func() (bool, string) {
		var live int
		var occupied string
		err := s.DB.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM sessions WHERE status NOT IN ('TERMINATED', 'CANCELLED', 'ERROR')),
			(SELECT COALESCE(sum(occupied), 0)::text FROM agent_slots)`).Scan(&live, &occupied)
		if err != nil {
			return false, err.Error()
		}
		return live == 0 && occupied == "0", fmt.Sprintf("%d sessions live, %s occupied", live, occupied)
	})
	s.RequireConsistent(b)
}

// statsFlushWait is how long a PostgreSQL backend may keep its statistics before they reach
// pg_stat_database (PostgreSQL 15+: PGSTAT_IDLE_INTERVAL, 10 s), and a margin.
const statsFlushWait = 10500 * time.Millisecond

// counters are the PostgreSQL commits of the stack's database and the Redis server's
// processed commands at one moment.
type counters struct {
	commits, redisCmds int64
}

func readCounters(b *testing.B, s *stacktest.Stack, after bool) counters {
	b.Helper()
	ctx := context.Background()
	var c counters
	readRedis := func() {
		info, err := s.Redis.Info(ctx, "stats").Result()
		require.NoError(b, err)
		for line := range strings.SplitSeq(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
				c.redisCmds, err = strconv.ParseInt(v, 10, 64)
				require.NoError(b, err)
			}
		}
	}
	// Redis counts at once, so its window is the run's; PostgreSQL's after the statistics
	// flush (the background of heartbeats during the wait after a run is counted too).
	if after {
		readRedis()
	}
	// Backends report to pg_stat_database at most once a second while busy, and a backend
	// gone idle within a second of its last report only after 10 s: waiting that long makes
	// the count include the run's last commits.
	time.Sleep(statsFlushWait) // the statistics flush interval, not a state wait
	require.NoError(b, s.DB.QueryRow(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&c.commits))
	if !after {
		readRedis()
	}
	return c
}

// measurement is one run's outcome.
type measurement struct {
	elapsed       time.Duration
	latencies     []time.Duration
	before, after counters
	apiMB, workMB float64
}

// measure runs fn and records time, counters and peak memory around it.
func measure(b *testing.B, s *stacktest.Stack, fn func() []time.Duration) measurement {
	b.Helper()
	m := measurement{before: readCounters(b, s, false)}
	start := time.Now()
	m.latencies = fn()
	m.elapsed = time.Since(start)
	m.after = readCounters(b, s, true)
	m.apiMB = peakRSS(b, s.API.Cmd.Process.Pid)
	for _, w := range s.Workers {
		m.workMB = max(m.workMB, peakRSS(b, w.Cmd.Process.Pid))
	}
	return m
}

// report adds m to the benchmark's output; sessions is how many were placed.
func (m measurement) report(b *testing.B, sessions int) {
	b.ReportMetric(float64(sessions)/m.elapsed.Seconds(), "placed/s")
	if len(m.latencies) > 0 {
		l := slices.Clone(m.latencies)
		slices.Sort(l)
		pct := func(p float64) float64 {
			return float64(l[min(len(l)-1, int(p*float64(len(l))))].Microseconds()) / 1000
		}
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
	}
	b.ReportMetric(m.apiMB, "api-MB")
	b.ReportMetric(m.workMB, "worker-MB")
	b.ReportMetric(float64(m.after.commits-m.before.commits)/float64(sessions), "pg-commits/session")
	b.ReportMetric(float64(m.after.redisCmds-m.before.redisCmds)/float64(sessions), "redis-cmds/session")
	b.ReportMetric(0, "ns/op") // one run of the whole scenario; the metrics above are the result
}

// peakRSS returns a process's peak resident memory (VmHWM) in MB.
func peakRSS(b *testing.B, pid int) float64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(b, err)
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			require.NoError(b, err)
			return kb / 1024
		}
	}
	b.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
