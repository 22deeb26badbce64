package main

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/stacktest"
	"github.com/hangar-run/hangar/jobs"
)

// BenchmarkSessionsBreakdown splits the PostgreSQL commits and Redis commands of placing
// sessions by where they go. Each stack has a Redis server of its own, so that its command
// statistics count that stack only, and counters are read after PostgreSQL's statistics
// flush (statsFlushWait). Two stacks, each with 2 workers:
//
//   - placement: 1,000 simulated agents of (32 CPU, 128 GiB) that heartbeat only to register
//     (every 10 minutes), 50 clients creating sessions of (1 CPU, 4 GiB) with enqueueOnly.
//     Phases: idle (idleWindow, nothing created: periodic jobs and the workers' queue
//     polling, idle-pg-commits/s and idle-redis-cmds/s); api (every worker frozen with
//     SIGSTOP: the creates alone, i.e. the API's authentication, rate limit, reads,
//     transaction, wake-up enqueue and event publish, api-pg-commits/session and
//     api-redis-cmds/session); worker (workers resumed until every session is RUNNING:
//     schedule passes and start batches, worker-pg-commits/session and
//     worker-redis-cmds/session, less the idle rates over the phase);
//   - heartbeats: 50 simulated agents heartbeating every second (the heartbeat load of
//     BenchmarkSessionsEndToEnd's 1,000 agents every 20 s), nothing created: per heartbeat,
//     pg-commits/heartbeat and redis-cmds/heartbeat (less the idle rates of the placement
//     stack's workers).
//
// Each stack is measured once its agents' registration heartbeats are no longer retained
// (the placement stack) or a retention after its start (the heartbeat stack), so that the
// deletion of retained tasks counts where it belongs. placed/s is the rate of the api and
// worker phases together, and pg-commits/session and
// redis-cmds/session the total at that rate with 50 heartbeats a second. The log shows, per
// phase, the top Redis commands (INFO commandstats, which counts the commands run inside Lua
// scripts as well as the EVALSHA) and the tasks the workers processed by type
// (hangar_jobs_processed_total).
func BenchmarkSessionsBreakdown(b *testing.B) {
	n := benchSessions()
	s := stacktest.Start(b, stacktest.Options{
		Workers:      2,
		PrivateRedis: true,
		Agents: []stacktest.AgentSpec{{
			Runtime: "dummy", Simulate: 1000, Slots: map[string]string{"cpu": "32", "mem": "128g"},
			Env: []string{"HANGAR_HEARTBEAT_INTERVAL=10m"},
		}},
		WorkerEnv:    []string{"HANGAR_HEARTBEAT_TIMEOUT=1800"}, // agents stay ALIVE between heartbeats
		ReadyTimeout: 3 * time.Minute,
	})
	unlimit(b, s)
	waitNoCompleted(b, s)
	metricsAddrs := workerMetricsAddrs(b, s)
	round := 0
	for b.Loop() {
		round++
		prefix := fmt.Sprintf("d%d", round)

		idle := measureIdle(b, s, metricsAddrs, "idle")

		// api: the workers frozen, then their last commits flushed
		resumes := make([]func(), 0, len(s.Workers))
		for _, w := range s.Workers {
			resumes = append(resumes, w.Freeze(b))
		}
		pgA0 := readCommits(b, s, true)
		rA0 := readRedis(b, s)
		runClients(b, s, n, prefix, true)
		rA1 := readRedis(b, s)
		pgA1 := readCommits(b, s, true)
		api := phase{name: "api", commits: pgA1.v - pgA0.v, redis: rA1.sub(rA0)}

		// worker
		rW0 := readRedis(b, s)
		for _, resume := range resumes {
			resume()
		}
		waitRunning(b, s, n, "bench-"+prefix+"-", 5*time.Minute)
		rW1, jW1 := readRedis(b, s), readJobs(b, metricsAddrs)
		pgW1 := readCommits(b, s, true)
		work := phase{name: "worker", commits: pgW1.v - pgA1.v, pgSecs: pgW1.at.Sub(pgA1.at).Seconds(),
			redis: rW1.sub(rW0), redisSecs: rW1.at.Sub(rW0.at).Seconds(), jobs: jW1.sub(idle.jobsEnd)} // frozen workers process nothing

		pgRate, redisRate := idle.rates()
		workPG := float64(work.commits) - pgRate*work.pgSecs
		workRedis := float64(work.redis.total) - redisRate*work.redisSecs
		placed := float64(n) / (rA1.at.Sub(rA0.at) + rW1.at.Sub(rW0.at)).Seconds()
		b.ReportMetric(pgRate, "idle-pg-commits/s")
		b.ReportMetric(redisRate, "idle-redis-cmds/s")
		b.ReportMetric(float64(api.commits)/float64(n), "api-pg-commits/session")
		b.ReportMetric(float64(api.redis.total)/float64(n), "api-redis-cmds/session")
		b.ReportMetric(workPG/float64(n), "worker-pg-commits/session")
		b.ReportMetric(workRedis/float64(n), "worker-redis-cmds/session")
		b.ReportMetric(placed, "placed/s")
		idle.log(b, 0)
		api.log(b, n)
		work.log(b, n)
		destroyAll(b, s)

		hbPG, hbRedis := measureHeartbeats(b, pgRate, redisRate)
		b.ReportMetric(hbPG, "pg-commits/heartbeat")
		b.ReportMetric(hbRedis, "redis-cmds/heartbeat")
		const heartbeatsPerSec = 50
		b.ReportMetric((float64(api.commits)+workPG)/float64(n)+(pgRate+heartbeatsPerSec*hbPG)/placed, "pg-commits/session")
		b.ReportMetric((float64(api.redis.total)+workRedis)/float64(n)+(redisRate+heartbeatsPerSec*hbRedis)/placed, "redis-cmds/session")
		b.ReportMetric(0, "ns/op")
	}
}

// measureIdle measures a stack doing nothing for idleWindow.
func measureIdle(b *testing.B, s *stacktest.Stack, metricsAddrs []string, name string) phase {
	b.Helper()
	pg0 := readCommits(b, s, true)
	r0, j0 := readRedis(b, s), readJobs(b, metricsAddrs)
	time.Sleep(idleWindow) // the window measured, not a state wait
	r1, j1 := readRedis(b, s), readJobs(b, metricsAddrs)
	pg1 := readCommits(b, s, true)
	return phase{name: name, commits: pg1.v - pg0.v, pgSecs: pg1.at.Sub(pg0.at).Seconds(),
		redis: r1.sub(r0), redisSecs: r1.at.Sub(r0.at).Seconds(), jobs: j1.sub(j0), jobsEnd: j1}
}

// measureHeartbeats runs a stack of 2 workers and 50 simulated agents heartbeating every
// second and returns the PostgreSQL commits and Redis commands per heartbeat, less the idle
// rates given (the workers' own background).
func measureHeartbeats(b *testing.B, pgRate, redisRate float64) (float64, float64) {
	b.Helper()
	s := stacktest.Start(b, stacktest.Options{
		Workers:      2,
		PrivateRedis: true,
		Agents: []stacktest.AgentSpec{{
			Runtime: "dummy", Simulate: 50, Slots: map[string]string{"cpu": "32", "mem": "128g"},
			Env: []string{"HANGAR_HEARTBEAT_INTERVAL=1s"},
		}},
		ReadyTimeout: 3 * time.Minute,
	})
	// Steady state: the first processed heartbeats have outlived their retention, so that
	// the window counts the deletion of retained heartbeats as well as their processing.
	time.Sleep(jobs.AgentHeartbeatRetention + 10*time.Second) // a warm-up, not a state wait
	hb := measureIdle(b, s, workerMetricsAddrs(b, s), "heartbeats")
	hb.log(b, 0)
	beats := float64(hb.jobs.v["agent:heartbeat"])
	if beats == 0 {
		b.Fatal("no heartbeat processed")
	}
	return (float64(hb.commits) - pgRate*hb.pgSecs) / beats * hb.redisSecs / hb.pgSecs,
		(float64(hb.redis.total) - redisRate*hb.redisSecs) / beats
}

// waitNoCompleted waits until the stack's queues retain no processed heartbeat: the agents'
// registration heartbeats are kept for jobs.AgentHeartbeatRetention, and their deletion
// must not land in a measured phase.
func waitNoCompleted(b *testing.B, s *stacktest.Stack) {
	b.Helper()
	stacktest.Eventually(b, 3*time.Minute, func() (bool, string) {
		n := 0
		for q := range jobs.Queues(s.Prefix) {
			ids, err := s.Redis.ZRange(context.Background(), "asynq:{"+q+"}:completed", 0, -1).Result()
			if err != nil {
				return false, err.Error()
			}
			for _, id := range ids {
				if strings.HasPrefix(id, jobs.TypeAgentHeartbeat+":") {
					n++
				}
			}
		}
		return n == 0, fmt.Sprintf("%d processed heartbeats retained", n)
	})
}

// idleWindow is how long an idle phase of BenchmarkSessionsBreakdown lasts.
const idleWindow = 20 * time.Second

// count is a counter's value at one moment.
type count struct {
	v  int64
	at time.Time
}

// readCommits returns the stack database's commits; with wait, after the statistics of every
// backend are flushed (statsFlushWait).
func readCommits(b *testing.B, s *stacktest.Stack, wait bool) count {
	b.Helper()
	if wait {
		time.Sleep(statsFlushWait) // the statistics flush interval, not a state wait
	}
	var c count
	require.NoError(b, s.DB.QueryRow(context.Background(), `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&c.v))
	c.at = time.Now()
	return c
}

// tally is a set of counters by name at one moment.
type tally struct {
	total int64
	v     map[string]int64
	at    time.Time
}

// sub returns t − o.
func (t tally) sub(o tally) tally {
	d := tally{total: t.total - o.total, v: map[string]int64{}, at: t.at}
	for k, v := range t.v {
		if v -= o.v[k]; v != 0 {
			d.v[k] = v
		}
	}
	return d
}

// readRedis reads the Redis server's processed commands, in total and by command (INFO
// commandstats, which counts the commands run inside Lua scripts).
func readRedis(b *testing.B, s *stacktest.Stack) tally {
	b.Helper()
	ctx := context.Background()
	t := tally{v: map[string]int64{}}
	info, err := s.Redis.Info(ctx, "stats", "commandstats").Result()
	require.NoError(b, err)
	t.at = time.Now()
	re := regexp.MustCompile(`^cmdstat_([^:]+):calls=(\d+)`)
	for line := range strings.SplitSeq(info, "\n") {
		line = strings.TrimSpace(line)
		if m := re.FindStringSubmatch(line); m != nil {
			v, err := strconv.ParseInt(m[2], 10, 64)
			require.NoError(b, err)
			t.v[m[1]] = v
		}
		if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
			t.total, err = strconv.ParseInt(v, 10, 64)
			require.NoError(b, err)
		}
	}
	return t
}

// readJobs reads the tasks processed by type (hangar_jobs_processed_total), summed over the
// workers whose metrics serve at addrs.
func readJobs(b *testing.B, addrs []string) tally {
	b.Helper()
	t := tally{v: map[string]int64{}, at: time.Now()}
	for _, addr := range addrs {
		for typ, v := range jobsProcessed(b, addr) {
			t.v[typ] += v
			t.total += v
		}
	}
	return t
}

// phase is what one phase of BenchmarkSessionsBreakdown counted.
type phase struct {
	name      string
	commits   int64
	pgSecs    float64
	redis     tally
	redisSecs float64
	jobs      tally
	// jobsEnd are the job counts at the end of the phase.
	jobsEnd tally
}

// rates returns the phase's commits and Redis commands per second.
func (p phase) rates() (float64, float64) {
	return float64(p.commits) / p.pgSecs, float64(p.redis.total) / p.redisSecs
}

// log writes a phase's totals, its top Redis commands and its tasks by type, per session when
// sessions > 0 and per second otherwise.
func (p phase) log(b *testing.B, sessions int) {
	pgDiv, redisDiv, unit := p.pgSecs, p.redisSecs, "/s"
	if sessions > 0 {
		pgDiv, redisDiv, unit = float64(sessions), float64(sessions), "/session"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s: %d pg commits (%.2f%s), %d redis cmds (%.2f%s)\n  redis:", p.name,
		p.commits, float64(p.commits)/pgDiv, unit, p.redis.total, float64(p.redis.total)/redisDiv, unit)
	cmds := slices.SortedFunc(maps.Keys(p.redis.v), func(x, y string) int { return int(p.redis.v[y] - p.redis.v[x]) })
	for i, c := range cmds {
		if i == 14 {
			break
		}
		fmt.Fprintf(&sb, " %s=%.2f", c, float64(p.redis.v[c])/redisDiv)
	}
	if len(p.jobs.v) > 0 {
		sb.WriteString("\n  tasks:")
		for _, typ := range slices.Sorted(maps.Keys(p.jobs.v)) {
			fmt.Fprintf(&sb, " %s=%d", typ, p.jobs.v[typ])
		}
	}
	b.Log(sb.String())
}

// workerMetricsAddrs returns the address of every worker's metrics server, as it logged it
// at start.
func workerMetricsAddrs(b *testing.B, s *stacktest.Stack) []string {
	b.Helper()
	re := regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)
	var out []string
	for _, w := range s.Workers {
		m := re.FindStringSubmatch(w.Output())
		require.NotNil(b, m, "%s logged no metrics address", w.Name)
		out = append(out, m[1])
	}
	return out
}

// jobsProcessed reads hangar_jobs_processed_total by type from a worker's metrics.
func jobsProcessed(b *testing.B, addr string) map[string]int64 {
	b.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	require.NoError(b, err)
	defer res.Body.Close()
	re := regexp.MustCompile(`^hangar_jobs_processed_total\{type="([^"]+)"\} (\S+)$`)
	out := map[string]int64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			v, err := strconv.ParseFloat(m[2], 64)
			require.NoError(b, err)
			out[m[1]] = int64(v)
		}
	}
	require.NoError(b, sc.Err())
	return out
}
