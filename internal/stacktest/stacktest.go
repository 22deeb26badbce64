// Package stacktest runs Hangar as a user runs it, for end-to-end tests: the `hangar` and
// `hangar-agent` binaries built from this module, one `hangar api`, any number of
// `hangar worker` processes and agent processes, against the real halfstack. Each Stack has
// its own database (migrated, with the example fixtures), etcd namespace, Redis queue prefix,
// ports and scratch directories, so stacks of parallel tests never meet. A test that stops
// and restarts PostgreSQL or Redis asks for servers of its own (Options.PrivatePostgres,
// Options.PrivateRedis: StartPostgres, StartRedis); the shared halfstack is never restarted.
// Use it only from _test.go files.
//
// A test package that uses it should call Main from its TestMain so that the binaries built
// for the test process are removed afterwards:
//
//	func TestMain(m *testing.M) { stacktest.Main(m) }
//
// A test starts a stack, drives it through signed requests and asserts on the database and
// the lifecycle events:
//
//	s := stacktest.Start(t, stacktest.Options{Workers: 2, Agents: []stacktest.AgentSpec{{Runtime: "process"}}})
//	ev := s.Events(t)
//	res := s.Do(t, http.MethodPost, "/session", body, &stacktest.User)
//	res.RequireStatus(t, http.StatusCreated)
//	ev.Wait(t, sessionID, events.SessionStarted, 30*time.Second)
//	s.WaitSession(t, sessionID, 30*time.Second, "RUNNING")
//	s.RequireConsistent(t)
//
// Waits poll with a deadline (Eventually, WaitSession, EventLog.Wait); nothing sleeps for
// state. Start waits until the API answers GET /, every worker serves its metrics and every
// agent is ALIVE. When the test ends, the agents, workers and API get SIGTERM (SIGKILL after
// StopTimeout), kernels the agents left running are killed, and the etcd namespace and Redis
// keys are removed; a process that does not exit cleanly fails the test, and on failure
// every process's output is logged.
package stacktest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Binaries are the built executables.
type Binaries struct {
	// Hangar is cmd/hangar.
	Hangar string
	// Agent is cmd/hangar-agent.
	Agent string
}

// builds holds the one build of the test process.
type builds struct {
	once sync.Once
	dir  string
	bins Binaries
	err  error
}

var built builds //nolint:gochecknoglobals // one build per test process, by design

// moduleRoot returns the module's root directory (this file is internal/stacktest/...).
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// buildDir is where the binaries of this test process go: keyed by the pid, so that
// concurrent test processes never overwrite each other's binaries.
func buildDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("hangar-stacktest-%d", os.Getpid()))
}

// Build builds ./cmd/hangar and ./cmd/hangar-agent once per test process and returns their
// paths. A failed build fails every caller.
func Build(t testing.TB) Binaries {
	t.Helper()
	built.once.Do(func() {
		built.dir = buildDir()
		if err := os.MkdirAll(built.dir, 0o755); err != nil {
			built.err = fmt.Errorf("stacktest: %w", err)
			return
		}
		bins := Binaries{Hangar: filepath.Join(built.dir, "hangar"), Agent: filepath.Join(built.dir, "hangar-agent")}
		for pkg, out := range map[string]string{"./cmd/hangar": bins.Hangar, "./cmd/hangar-agent": bins.Agent} {
			cmd := exec.Command("go", "build", "-o", out, pkg)
			cmd.Dir = moduleRoot()
			if b, err := cmd.CombinedOutput(); err != nil {
				built.err = fmt.Errorf("stacktest: build %s: %v: %s", pkg, err, b)
				return
			}
		}
		built.bins = bins
	})
	require.NoError(t, built.err)
	return built.bins
}

// Main runs the tests of m and then removes the binaries Build made; it does not return.
func Main(m *testing.M) {
	code := m.Run()
	_ = os.RemoveAll(buildDir())
	os.Exit(code)
}
