package maintenance_test

import (
	"testing"

	"github.com/hangar-run/hangar/jobs/jobstest"
)

// The shared harness of the job packages (jobs/jobstest) under this package's test names.

// testEnv is one test's database, queues, clock and handlers.
type testEnv struct{ *jobstest.Env }

func newEnv(t *testing.T, opts jobstest.Options) *testEnv {
	t.Helper()
	return &testEnv{jobstest.NewEnv(t, opts)}
}

//nolint:unused // not every package's tests use every helper
var (
	task          = jobstest.Task
	waitEvent     = jobstest.WaitEvent
	runAgent      = jobstest.RunAgent
	runAgentClock = jobstest.RunAgentClock
	testLogger    = jobstest.Logger
)

//nolint:unused // not every package's tests use every identity
const (
	userAccessKey = jobstest.UserAccessKey
	userUUID      = jobstest.UserUUID
	projectID     = jobstest.ProjectID
	testRedisAddr = jobstest.TestRedisAddr
)

type nopEnqueuer = jobstest.NopEnqueuer //nolint:unused // not every package's tests use it

const gib = int64(1) << 30
