package session_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/jobs"
	"github.com/hangar-run/hangar/jobs/session"
)

// TestSchedulePassDoesNotQueueBehindLock: while one pass over a scaling group runs, another
// wake-up returns at once instead of holding a worker slot and a database connection in
// line for the lock; the running pass places the sessions that arrived meanwhile.
func TestSchedulePassDoesNotQueueBehindLock(t *testing.T) {
	inPass := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	e := newEnv(t, session.Options{AfterSnapshot: func() {
		once.Do(func() {
			close(inPass)
			<-release
		})
	}})
	e.insertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	first, _ := e.insertPendingSession(t, "first", "1", "1073741824")

	running := make(chan error, 1)
	go func() {
		running <- e.h.HandleScheduleScalingGroup(context.Background(), task(jobs.NewScheduleScalingGroupTask("default", e.clock())))
	}()
	select {
	case <-inPass:
	case <-time.After(30 * time.Second):
		t.Fatal("the first pass did not start")
	}
	// A session arrives and its wake-up runs while the first pass holds the lock.
	second, _ := e.insertPendingSession(t, "second", "1", "1073741824")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, e.h.HandleScheduleScalingGroup(ctx, task(jobs.NewScheduleScalingGroupTask("default", e.clock().Add(time.Second)))),
		"the second pass must not wait for the first")
	require.Equal(t, "PENDING", e.session(t, second).status)

	close(release)
	require.NoError(t, <-running)
	require.Equal(t, "SCHEDULED", e.session(t, first).status)
	require.Equal(t, "SCHEDULED", e.session(t, second).status, "the running pass ran again for the late arrival")
	e.requireConsistent(t)
}
