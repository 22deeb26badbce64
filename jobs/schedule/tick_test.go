package schedule_test

import (
	"fmt"
	"github.com/hangar-run/hangar/jobs/jobstest"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/jobs"
)

func TestScheduleTickEnqueuesWakeups(t *testing.T) {
	e := newEnv(t, jobstest.Options{StaleAfter: 5 * time.Second})
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	sid, _ := e.InsertPendingSession(t, "s1", "1", "1073741824")
	e.Schedule(t)
	pending, _ := e.InsertPendingSession(t, "s2", "1", "1073741824")
	require.Equal(t, "PENDING", e.Session(t, pending).Status)

	// Drop the start task the pass enqueued: its wake-up is lost.
	insp := asynq.NewInspector(e.RedisOpt)
	defer insp.Close()
	var placedAt time.Time
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT status_changed FROM sessions WHERE id = $1`, sid).Scan(&placedAt))
	q := jobs.QueueName(e.Prefix, jobs.DefaultsOf(jobs.TypeSessionStartBatch).Queue)
	require.NoError(t, insp.DeleteTask(q, jobs.SessionStartBatchTaskID("default", placedAt)))
	// The session was scheduled at the injected time; the tick runs well after it.
	_, err := e.Pool.Exec(t.Context(), `UPDATE sessions SET status_changed = $2 WHERE id = $1`, sid, e.Clock())
	require.NoError(t, err)
	e.Advance(time.Minute)

	tick := task(jobs.NewScheduleTickTask(jobs.ScheduleTickPayload{Slot: e.Clock()}))
	require.NoError(t, e.H.HandleScheduleTick(t.Context(), tick))
	e.requireQueued(t, jobs.TypeSessionStart, jobs.TypeSessionStart+":"+sid)
	bucket := e.Clock().UnixNano() / int64(jobs.ScheduleWakeupBucket)
	e.requireQueued(t, jobs.TypeScheduleScalingGroup, fmt.Sprintf("%s:default:%d", jobs.TypeScheduleScalingGroup, bucket))
}

// TestScheduleTickRetriesStartOfDeadWorker: a worker killed while it held a pass's start
// batch leaves that task active, its TaskID taken, until asynq's lease expires a minute or
// more later. The tick starts such a session again under a start task of its own once it is
// stale, and leaves alone the sessions whose batch still waits in the queue.
func TestScheduleTickRetriesStartOfDeadWorker(t *testing.T) {
	e := newEnv(t, jobstest.Options{StaleAfter: 5 * time.Second, RPCTimeout: time.Second})
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	orphan, _ := e.InsertPendingSession(t, "orphan", "1", "1073741824")
	e.Schedule(t)
	waiting, _ := e.InsertPendingSession(t, "waiting", "1", "1073741824")
	e.Schedule(t)
	require.Equal(t, "SCHEDULED", e.Session(t, orphan).Status)
	require.Equal(t, "SCHEDULED", e.Session(t, waiting).Status)

	// The orphan's start batch was taken by a worker that then died: asynq still counts it
	// as active. (A worker sets this state when it dequeues a task.)
	var placedAt time.Time
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT status_changed FROM sessions WHERE id = $1`, orphan).Scan(&placedAt))
	q := jobs.QueueName(e.Prefix, jobs.QueueCritical)
	first := jobs.SessionStartBatchTaskID("default", placedAt)
	require.Equal(t, int64(1), e.Rdb.LRem(t.Context(), "asynq:{"+q+"}:pending", 0, first).Val())
	require.NoError(t, e.Rdb.LPush(t.Context(), "asynq:{"+q+"}:active", first).Err())
	require.NoError(t, e.Rdb.HSet(t.Context(), "asynq:{"+q+"}:t:"+first, "state", "active").Err())

	insp := asynq.NewInspector(e.RedisOpt)
	defer insp.Close()
	starts := func() map[string]int {
		tasks, err := insp.ListPendingTasks(q)
		require.NoError(t, err)
		n := map[string]int{}
		for _, ti := range tasks {
			switch ti.Type {
			case jobs.TypeSessionStart:
				var p jobs.SessionStartPayload
				require.NoError(t, jobs.Decode(asynq.NewTask(ti.Type, ti.Payload), &p))
				n[p.SessionID]++
			case jobs.TypeSessionStartBatch:
				var p jobs.SessionStartBatchPayload
				require.NoError(t, jobs.Decode(asynq.NewTask(ti.Type, ti.Payload), &p))
				for _, id := range p.SessionIDs {
					n[id]++
				}
			}
		}
		return n
	}
	tick := func() {
		require.NoError(t, e.H.HandleScheduleTick(t.Context(), task(jobs.NewScheduleTickTask(jobs.ScheduleTickPayload{Slot: e.Clock()}))))
	}

	e.Advance(4 * time.Second)
	tick()
	require.Equal(t, map[string]int{waiting: 1}, starts(), "not stale yet")

	e.Advance(2 * time.Second)
	tick()
	require.Equal(t, map[string]int{waiting: 1, orphan: 1}, starts(),
		"the orphan starts again; the batch still in the queue is not doubled")
	tick()
	require.Equal(t, map[string]int{waiting: 1, orphan: 1}, starts(), "one retry per period")

	// The retry starts the session, and a later copy finds nothing to do.
	e.Start(t, orphan)
	require.NotEqual(t, "SCHEDULED", e.Session(t, orphan).Status)
	e.RequireConsistent(t)
}

func TestScheduleTickRetriesOrphanedStart(t *testing.T) {
	e := newEnv(t, jobstest.Options{StaleAfter: 5 * time.Second})
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	sid, _ := e.InsertPendingSession(t, "s1", "1", "1073741824")
	e.Schedule(t)
	// The start task is active on a worker that died: its TaskID stays taken.
	_, err := e.Pool.Exec(t.Context(), `UPDATE sessions SET status = 'PREPARING', status_changed = $2 WHERE id = $1`, sid, e.Clock())
	require.NoError(t, err)
	tick := func() {
		require.NoError(t, e.H.HandleScheduleTick(t.Context(), task(jobs.NewScheduleTickTask(jobs.ScheduleTickPayload{Slot: e.Clock()}))))
	}
	insp := asynq.NewInspector(e.RedisOpt)
	defer insp.Close()
	retries := func() int {
		tasks, err := insp.ListPendingTasks(jobs.QueueName(e.Prefix, jobs.QueueCritical))
		require.NoError(t, err)
		n := 0
		for _, ti := range tasks {
			if ti.Type == jobs.TypeSessionStart && ti.ID != jobs.TypeSessionStart+":"+sid {
				n++
			}
		}
		return n
	}
	e.Advance(jobs.PreparingRetryAfter - time.Second)
	tick()
	require.Zero(t, retries(), "a start may still be in flight")
	e.Advance(2 * time.Second)
	tick()
	require.Equal(t, 1, retries())
	tick()
	require.Equal(t, 1, retries(), "one retry per period")
}
