package schedule_test

import (
	"context"
	"github.com/hangar-run/hangar/jobs/jobstest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/jobs"
)

// TestSchedulePassDoesNotQueueBehindLock: while one pass over a scaling group runs, another
// wake-up returns at once instead of holding a worker slot and a database connection in
// line for the lock; the running pass places the sessions that arrived meanwhile.
func TestSchedulePassDoesNotQueueBehindLock(t *testing.T) {
	inPass := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	e := newEnv(t, jobstest.Options{AfterSnapshot: func() {
		once.Do(func() {
			close(inPass)
			<-release
		})
	}})
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	first, _ := e.InsertPendingSession(t, "first", "1", "1073741824")

	running := make(chan error, 1)
	go func() {
		running <- e.H.HandleScheduleScalingGroup(context.Background(), task(jobs.NewScheduleScalingGroupTask("default", e.Clock())))
	}()
	select {
	case <-inPass:
	case <-time.After(30 * time.Second):
		t.Fatal("the first pass did not start")
	}
	// A session arrives and its wake-up runs while the first pass holds the lock.
	second, _ := e.InsertPendingSession(t, "second", "1", "1073741824")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, e.H.HandleScheduleScalingGroup(ctx, task(jobs.NewScheduleScalingGroupTask("default", e.Clock().Add(time.Second)))),
		"the second pass must not wait for the first")
	require.Equal(t, "PENDING", e.Session(t, second).Status)

	close(release)
	require.NoError(t, <-running)
	require.Equal(t, "SCHEDULED", e.Session(t, first).Status)
	require.Equal(t, "SCHEDULED", e.Session(t, second).Status, "the running pass ran again for the late arrival")
	e.RequireConsistent(t)
}
