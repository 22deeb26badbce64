package stacktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/dbtest"
	"github.com/hangar-run/hangar/internal/fixture"
	"github.com/hangar-run/hangar/internal/halfstack"
	"github.com/hangar-run/hangar/jobs"
)

// Defaults of Options.
const (
	// DefaultScheduleTick is the schedule tick period a Stack runs with.
	DefaultScheduleTick = 500 * time.Millisecond
	// DefaultHeartbeat is the agents' heartbeat period.
	DefaultHeartbeat = time.Second
	// DefaultReadyTimeout bounds the wait for the processes to become ready.
	DefaultReadyTimeout = 60 * time.Second
)

// AgentSpec describes one agent process of a Stack.
type AgentSpec struct {
	// ID is the agent id (the prefix of the simulated ids when Simulate is set); "agent-<k>"
	// for the k-th spec (1-based) when empty.
	ID string
	// Runtime is "process" or "dummy"; "dummy" when empty.
	Runtime string
	// Simulate, when positive, runs that many dummy agents in the process
	// (`hangar-agent --simulate N`), with ids "<ID>-sim-<k>".
	Simulate int
	// Slots overrides the agent's capacities ([resource] slots of agent.toml), e.g.
	// {"cpu": "4", "mem": "8g"}; when nil, {"cpu": "8", "mem": "16g"}.
	Slots map[string]string
	// ScalingGroup is the agent's scaling group; "default" when empty.
	ScalingGroup string
	// Env are extra "NAME=value" entries of the process's environment (they win over the
	// stack's own, e.g. a PATH without python3).
	Env []string
}

// Options configure a Stack.
type Options struct {
	// Workers is the number of `hangar worker` processes (none when zero: an API-only stack
	// enqueues jobs nobody runs).
	Workers int
	// Agents are the agent processes, started after the API and the workers.
	Agents []AgentSpec
	// ScheduleTick is the schedule tick period put into etcd; DefaultScheduleTick when zero.
	ScheduleTick time.Duration
	// Etcd are extra shared-configuration keys (below the namespace) written before the
	// processes start.
	Etcd map[string]string
	// NoAPI skips `hangar api` (a stack of workers and agents only).
	NoAPI bool
	// NoFixtures leaves the database without the example fixtures.
	NoFixtures bool
	// ReadyTimeout bounds the wait for readiness; DefaultReadyTimeout when zero.
	ReadyTimeout time.Duration
	// WorkerEnv are extra environment variables of the workers ("HANGAR_HEARTBEAT_TIMEOUT=3").
	WorkerEnv []string
	// PrivatePostgres runs the stack on a PostgreSQL server of its own (Stack.Postgres) that
	// the test may stop and restart, instead of a database on the shared halfstack.
	PrivatePostgres bool
	// PrivateRedis runs the stack on a Redis server of its own (Stack.RedisServer) that the
	// test may stop and restart, instead of a key prefix on the shared halfstack.
	PrivateRedis bool
}

// Stack is a running Hangar: one API, workers and agents as processes, on a private
// database, etcd namespace and Redis queue prefix. Everything is stopped and removed when
// the test ends; on failure the processes' output is logged.
type Stack struct {
	// Bins are the executables the processes run.
	Bins Binaries
	// Endpoint is the API's base URL ("http://127.0.0.1:port"); empty with NoAPI.
	Endpoint string
	// APIVersion is the version the API announces at GET / (requests are signed with it).
	APIVersion string
	// Database is the stack's database; DB is its pool, for assertions.
	Database *dbtest.Database
	DB       *pgxpool.Pool
	// Redis is a client of the stack's Redis (the halfstack's, or RedisServer).
	Redis *redis.Client
	// Postgres and RedisServer are the stack's own servers with Options.PrivatePostgres and
	// Options.PrivateRedis (nil otherwise).
	Postgres    *PrivatePostgres
	RedisServer *PrivateRedis
	// Etcd is the stack's etcd namespace.
	Etcd *config.Etcd
	// Namespace is the etcd namespace; Prefix the Redis queue (and event channel) prefix.
	Namespace string
	Prefix    string
	// API, Workers and Agents are the processes (API is nil with NoAPI). Agents has one Proc
	// per AgentSpec.
	API     *Proc
	Workers []*Proc
	Agents  []*Proc
	// AgentIDs are the ids of every agent, in spec order (simulated ones expanded).
	AgentIDs []string

	dir     string
	baseEnv []string
	opts    Options
}

// Start runs a Stack for t and waits until it is ready: the API answers GET /, every
// worker serves its metrics, and every agent is ALIVE in the agents table.
func Start(t testing.TB, o Options) *Stack {
	t.Helper()
	bins := Build(t)
	if o.ScheduleTick <= 0 {
		o.ScheduleTick = DefaultScheduleTick
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.ReadyTimeout)
	defer cancel()

	s := &Stack{Bins: bins, dir: t.TempDir(), opts: o}
	if o.PrivatePostgres {
		s.Postgres = StartPostgres(t)
		s.Database = s.Postgres.NewDatabase(t, "hangar")
	} else {
		s.Database = dbtest.NewDatabase(t)
	}
	s.DB = s.Database.Pool
	if !o.NoFixtures {
		require.NoError(t, fixture.LoadExamples(ctx, s.DB, fixture.Options{BcryptCost: 4}))
	}
	s.Namespace = "e2e-" + randHex(6)
	s.Prefix = s.Namespace + ":"
	etcd, err := config.DialEtcd(ctx, EtcdAddr(), s.Namespace, halfstack.EtcdUser(), halfstack.EtcdPassword())
	require.NoError(t, err)
	s.Etcd = etcd
	if o.PrivateRedis {
		s.RedisServer = StartRedis(t)
		s.Redis = s.RedisServer.Client()
	} else {
		s.Redis = halfstack.NewRedis()
	}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		_ = etcd.DeletePrefix(cctx, "")
		_ = etcd.Close()
		if o.PrivateRedis {
			_ = s.Redis.Close() // the server goes with the test
			return
		}
		var keys []string
		for _, pattern := range []string{s.Prefix + "*", "asynq:{" + s.Prefix + "*"} {
			iter := s.Redis.Scan(cctx, 0, pattern, 1000).Iterator()
			for iter.Next(cctx) {
				keys = append(keys, iter.Val())
			}
		}
		if len(keys) > 0 {
			_ = s.Redis.Del(cctx, keys...).Err()
		}
		// asynq lists every queue it has seen in one set, which the job dashboard shows.
		for q := range jobs.Queues(s.Prefix) {
			_ = s.Redis.SRem(cctx, "asynq:queues", q).Err()
		}
		_ = s.Redis.Close()
	})
	require.NoError(t, etcd.Put(ctx, jobs.ScheduleTickIntervalKey, o.ScheduleTick.String()))
	for k, v := range o.Etcd {
		require.NoError(t, etcd.Put(ctx, k, v))
	}

	s.baseEnv = s.environ(t)
	// Stop every process when the test ends (registered after t.TempDir, so it runs before
	// the directories are removed), then kill the kernels the agents left behind.
	t.Cleanup(func() { s.stop(t) })

	// The API and the workers bind port 0 and log the address they got: no port is picked
	// by the test and lost to another process in between.
	if !o.NoAPI {
		s.API = s.start(t, "api", exec.Command(bins.Hangar, "api", "--listen", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"))
	}
	for i := range max(o.Workers, 0) {
		s.Workers = append(s.Workers, s.startWorker(t, i))
	}
	for i, a := range o.Agents {
		s.Agents = append(s.Agents, s.startAgent(t, i+1, a))
		s.AgentIDs = append(s.AgentIDs, agentIDs(i+1, a)...)
	}

	if s.API != nil {
		s.waitReady(t, ctx, s.API, func() bool {
			addr := s.API.logged(apiListening)
			if addr == "" {
				return false
			}
			res, err := http.Get("http://" + addr + "/")
			if err != nil {
				return false
			}
			defer res.Body.Close()
			var root struct {
				Version string `json:"version"`
			}
			if json.NewDecoder(res.Body).Decode(&root) != nil || root.Version == "" {
				return false
			}
			s.Endpoint, s.APIVersion = "http://"+addr, root.Version
			return true
		})
	}
	for _, w := range s.Workers {
		s.waitReady(t, ctx, w, func() bool {
			addr := w.logged(metricsListening)
			if addr == "" {
				return false
			}
			res, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				return false
			}
			res.Body.Close()
			return res.StatusCode == http.StatusOK
		})
	}
	if len(s.AgentIDs) > 0 {
		s.waitReady(t, ctx, nil, func() bool {
			var n int
			err := s.DB.QueryRow(ctx, `SELECT count(*) FROM agents WHERE status = 'ALIVE' AND id = ANY($1)`, s.AgentIDs).Scan(&n)
			return err == nil && n == len(s.AgentIDs)
		})
	}
	return s
}

// The log lines announcing the addresses the API and a worker's metrics server bound.
var (
	apiListening     = regexp.MustCompile(`msg="API listening" addr=(\S+)`)     //nolint:gochecknoglobals // read-only
	metricsListening = regexp.MustCompile(`msg="metrics listening" addr=(\S+)`) //nolint:gochecknoglobals // read-only
)

// environ returns the environment every process of s starts with: the test process's,
// without Hangar's and Backend.AI's variables, plus the stack's services.
func (s *Stack) environ(t testing.TB) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		// The caller's settings stay out, except a CPU profile request (cmd/hangar's main).
		if (strings.HasPrefix(kv, "HANGAR_") || strings.HasPrefix(kv, "BACKEND_")) &&
			!strings.HasPrefix(kv, "HANGAR_CPUPROFILE=") {
			continue
		}
		env = append(env, kv)
	}
	u, err := url.Parse(s.Database.DSN)
	require.NoError(t, err)
	redisAddr, redisPassword := RedisAddr(), halfstack.RedisPassword()
	if s.RedisServer != nil {
		redisAddr, redisPassword = s.RedisServer.Addr(), s.RedisServer.Password
	}
	env = append(env,
		"HOME="+filepath.Join(s.dir, "home"),
		"BACKEND_DB_ADDR="+u.Host,
		"BACKEND_DB_NAME="+s.Database.Name,
		"BACKEND_NAMESPACE="+s.Namespace,
		"BACKEND_ETCD_ADDR="+EtcdAddr(),
		"BACKEND_REDIS_ADDR="+redisAddr,
		"BACKEND_REDIS_PASSWORD="+redisPassword,
		"HANGAR_QUEUE_PREFIX="+s.Prefix,
		"HANGAR_HEARTBEAT_INTERVAL="+DefaultHeartbeat.String(),
	)
	if user := halfstack.EtcdUser(); user != "" {
		env = append(env, "BACKEND_ETCD_USER="+user, "BACKEND_ETCD_PASSWORD="+halfstack.EtcdPassword())
	}
	if u.User != nil {
		env = append(env, "BACKEND_DB_USER="+u.User.Username())
		if pw, ok := u.User.Password(); ok {
			env = append(env, "BACKEND_DB_PASSWORD="+pw)
		}
	}
	return env
}

// start starts one process of s in its own working directory (no stray manager.toml or
// agent.toml is found there).
func (s *Stack) start(t testing.TB, name string, cmd *exec.Cmd, env ...string) *Proc {
	t.Helper()
	cmd.Dir = filepath.Join(s.dir, name)
	require.NoError(t, os.MkdirAll(cmd.Dir, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(s.dir, "home"), 0o755))
	cmd.Env = append(append(append([]string{}, s.baseEnv...), env...), "HANGAR_PROC_NAME="+name)
	return startProc(t, name, cmd)
}

// startAgent writes the k-th agent's agent.toml and starts it.
func (s *Stack) startAgent(t testing.TB, k int, a AgentSpec) *Proc {
	t.Helper()
	if a.ID == "" {
		a.ID = fmt.Sprintf("agent-%d", k)
	}
	if a.Runtime == "" {
		a.Runtime = "dummy"
	}
	if a.ScalingGroup == "" {
		a.ScalingGroup = "default"
	}
	slotMap := a.Slots
	if slotMap == nil {
		slotMap = map[string]string{"cpu": "8", "mem": "16g"}
	}
	name := "agent-" + a.ID
	dir := filepath.Join(s.dir, name)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	var b strings.Builder
	b.WriteString("[agent]\n")
	fmt.Fprintf(&b, "id = %q\nscaling-group = %q\nrpc-listen-addr = \"127.0.0.1:0\"\nruntime = %q\n", a.ID, a.ScalingGroup, a.Runtime)
	fmt.Fprintf(&b, "[container]\nscratch-root = %q\n", filepath.Join(dir, "scratches"))
	b.WriteString("[resource]\nreserved-cpu = 0\nreserved-mem = \"0\"\n[resource.slots]\n")
	keys := make([]string, 0, len(slotMap))
	for key := range slotMap {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		fmt.Fprintf(&b, "%q = %q\n", key, slotMap[key])
	}
	cfgPath := filepath.Join(dir, "agent.toml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(b.String()), 0o644))
	args := []string{"--config", cfgPath, "--runtime", a.Runtime, "--metrics-addr", "127.0.0.1:0"}
	if a.Simulate > 0 {
		args = append(args, "--simulate", fmt.Sprint(a.Simulate))
	}
	return s.start(t, name, exec.Command(s.Bins.Agent, args...), a.Env...)
}

// agentIDs returns the ids the k-th agent spec runs (its simulated agents' when it simulates).
func agentIDs(k int, a AgentSpec) []string {
	if a.ID == "" {
		a.ID = fmt.Sprintf("agent-%d", k)
	}
	if a.Simulate <= 0 {
		return []string{a.ID}
	}
	out := make([]string, 0, a.Simulate)
	for i := 1; i <= a.Simulate; i++ {
		out = append(out, fmt.Sprintf("%s-sim-%d", a.ID, i))
	}
	return out
}

// startWorker starts the i-th worker (0-based).
func (s *Stack) startWorker(t testing.TB, i int) *Proc {
	t.Helper()
	cmd := exec.Command(s.Bins.Hangar, "worker", "--metrics-addr", "127.0.0.1:0")
	return s.start(t, fmt.Sprintf("worker-%d", i+1), cmd, s.opts.WorkerEnv...)
}

// RestartAgent starts the i-th agent (0-based, in Options.Agents order) again, with the same
// configuration and id, after its process ended (killed by the test, say). It does not wait
// for the agent's first heartbeat.
func (s *Stack) RestartAgent(t testing.TB, i int) *Proc {
	t.Helper()
	if exited, _ := s.Agents[i].Exited(); !exited {
		t.Fatalf("stacktest: agent %d still runs", i)
	}
	s.Agents[i] = s.startAgent(t, i+1, s.opts.Agents[i])
	return s.Agents[i]
}

// RestartWorker starts the i-th worker (0-based) again after its process ended.
func (s *Stack) RestartWorker(t testing.TB, i int) *Proc {
	t.Helper()
	if exited, _ := s.Workers[i].Exited(); !exited {
		t.Fatalf("stacktest: worker %d still runs", i)
	}
	s.Workers[i] = s.startWorker(t, i)
	return s.Workers[i]
}

// waitReady polls ready until it holds; it fails t when ctx ends or p (when not nil) exits.
func (s *Stack) waitReady(t testing.TB, ctx context.Context, p *Proc, ready func() bool) {
	t.Helper()
	for !ready() {
		if p != nil {
			if ok, err := p.Exited(); ok {
				s.dumpLogs(t)
				t.Fatalf("stacktest: %s exited before it was ready: %v", p.Name, err)
			}
		}
		for _, q := range s.procs() {
			if ok, err := q.Exited(); ok {
				s.dumpLogs(t)
				t.Fatalf("stacktest: %s exited while the stack started: %v", q.Name, err)
			}
		}
		select {
		case <-ctx.Done():
			s.dumpLogs(t)
			name := "the agents"
			if p != nil {
				name = p.Name
			}
			t.Fatalf("stacktest: %s not ready: %v", name, ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// procs returns every process of s.
func (s *Stack) procs() []*Proc {
	var out []*Proc
	if s.API != nil {
		out = append(out, s.API)
	}
	out = append(out, s.Workers...)
	return append(out, s.Agents...)
}

// stop stops the agents, the workers and the API and kills leftover kernels. It logs the
// output of every process when t failed, and fails t when a process did not exit cleanly
// after SIGTERM.
func (s *Stack) stop(t testing.TB) {
	var problems []string
	stopAll := func(ps []*Proc) {
		errs := make(chan string, len(ps))
		for _, p := range ps {
			go func() {
				if err := p.Stop(); err != nil {
					errs <- fmt.Sprintf("%s: %v", p.Name, err)
					return
				}
				errs <- ""
			}()
		}
		for range ps {
			if e := <-errs; e != "" {
				problems = append(problems, e)
			}
		}
	}
	// Workers first: a job in flight may be waiting on an agent's answer, which would not come
	// from an agent stopped before it.
	stopAll(s.Workers)
	if s.API != nil {
		stopAll([]*Proc{s.API})
	}
	stopAll(s.Agents)
	if _, err := killUnder(s.dir); err != nil {
		problems = append(problems, fmt.Sprintf("kill leftover kernels: %v", err))
	}
	if t.Failed() || len(problems) > 0 {
		s.dumpLogs(t)
	}
	// A process that does not shut down cleanly on SIGTERM is a defect of its own.
	for _, p := range problems {
		t.Errorf("stacktest: %s", p)
	}
}

// dumpLogs logs every process's output.
func (s *Stack) dumpLogs(t testing.TB) {
	for _, p := range s.procs() {
		t.Logf("---- %s output ----\n%s", p.Name, p.Output())
	}
}

// RedisAddr is the Redis stacks use: TEST_REDIS_ADDR or the halfstack's.
func RedisAddr() string { return halfstack.RedisAddr() }

// EtcdAddr is the etcd stacks use: TEST_ETCD_ADDR or the halfstack's.
func EtcdAddr() string { return halfstack.EtcdAddr() }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
