package session_test

import (
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/jobs"
	"github.com/hangar-run/hangar/jobs/session"
)

// TestScheduleTickRetriesStartOfDeadWorker: a worker killed while it held a pass's start
// batch leaves that task active, its TaskID taken, until asynq's lease expires a minute or
// more later. The tick starts such a session again under a start task of its own once it is
// stale, and leaves alone the sessions whose batch still waits in the queue.
func TestScheduleTickRetriesStartOfDeadWorker(t *testing.T) {
	e := newEnv(t, session.Options{StaleAfter: 5 * time.Second, RPCTimeout: time.Second})
	e.insertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	orphan, _ := e.insertPendingSession(t, "orphan", "1", "1073741824")
	e.schedule(t)
	waiting, _ := e.insertPendingSession(t, "waiting", "1", "1073741824")
	e.schedule(t)
	require.Equal(t, "SCHEDULED", e.session(t, orphan).status)
	require.Equal(t, "SCHEDULED", e.session(t, waiting).status)

	// The orphan's start batch was taken by a worker that then died: asynq still counts it
	// as active. (A worker sets this state when it dequeues a task.)
	var placedAt time.Time
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT status_changed FROM sessions WHERE id = $1`, orphan).Scan(&placedAt))
	q := jobs.QueueName(e.prefix, jobs.QueueCritical)
	first := jobs.SessionStartBatchTaskID("default", placedAt)
	require.Equal(t, int64(1), e.rdb.LRem(t.Context(), "asynq:{"+q+"}:pending", 0, first).Val())
	require.NoError(t, e.rdb.LPush(t.Context(), "asynq:{"+q+"}:active", first).Err())
	require.NoError(t, e.rdb.HSet(t.Context(), "asynq:{"+q+"}:t:"+first, "state", "active").Err())

	insp := asynq.NewInspector(e.redisOpt)
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
		require.NoError(t, e.h.HandleScheduleTick(t.Context(), task(jobs.NewScheduleTickTask(jobs.ScheduleTickPayload{Slot: e.clock()}))))
	}

	e.advance(4 * time.Second)
	tick()
	require.Equal(t, map[string]int{waiting: 1}, starts(), "not stale yet")

	e.advance(2 * time.Second)
	tick()
	require.Equal(t, map[string]int{waiting: 1, orphan: 1}, starts(),
		"the orphan starts again; the batch still in the queue is not doubled")
	tick()
	require.Equal(t, map[string]int{waiting: 1, orphan: 1}, starts(), "one retry per period")

	// The retry starts the session, and a later copy finds nothing to do.
	e.start(t, orphan)
	require.NotEqual(t, "SCHEDULED", e.session(t, orphan).status)
	e.requireConsistent(t)
}
