package schedule_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/jobs"
	"github.com/hangar-run/hangar/jobs/jobstest"
	"github.com/hangar-run/hangar/jobs/schedule"
)

// batchHandlers returns schedule handlers on e's database and queues that write chunk
// placements per batch and run hook (once) right after the snapshot of a pass is read.
func batchHandlers(t *testing.T, e *testEnv, chunk int, hook func()) *schedule.Handlers {
	t.Helper()
	h, err := schedule.New(e.Deps, schedule.Options{WriteChunk: chunk, AfterSnapshot: func() {
		if f := hook; f != nil {
			hook = nil
			f()
		}
	}})
	require.NoError(t, err)
	return h
}

// runPass runs one schedule task of scaling group "default" on h.
func runPass(t *testing.T, e *testEnv, h *schedule.Handlers) {
	t.Helper()
	require.NoError(t, h.HandleScheduleScalingGroup(t.Context(), task(jobs.NewScheduleScalingGroupTask("default", e.Clock()))))
}

// insertSessions inserts n PENDING sessions of (1 CPU, 1 GiB), s0 oldest.
func insertSessions(t *testing.T, e *testEnv, n int) (sids, kids []string) {
	t.Helper()
	for i := range n {
		sid, kid := e.InsertPendingSession(t, fmt.Sprintf("s%d", i), "1", "1073741824")
		sids = append(sids, sid)
		kids = append(kids, kid)
	}
	return sids, kids
}

// statuses returns the status of each session.
func statuses(t *testing.T, e *testEnv, sids []string) []string {
	t.Helper()
	out := make([]string, len(sids))
	for i, sid := range sids {
		out[i] = e.Session(t, sid).Status
	}
	return out
}

// A pass plans over its snapshot, and the agents change before it writes (another writer
// reserved slots directly): each placement is checked in plan order against the current
// amounts (with write chunks smaller than the pass), so the placements that still fit are
// written, exactly those
// that no longer fit stay PENDING (a placement short of one slot reserves none of the
// others), and the totals stay exact.
func TestBatchWriteLeavesStalePlacementsPending(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	evs := e.Subscribe(t)
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	e.InsertAgent(t, "i-a2", "tcp://127.0.0.1:2", 4, 8*gib)
	// Dispersed placement alternates: s0, s2, s4, s6 on i-a1 and s1, s3, s5, s7 on i-a2.
	sids, kids := insertSessions(t, e, 8)
	h := batchHandlers(t, e, 3, func() {
		// 2 CPUs of i-a1 and 7 GiB of i-a2 are taken between the snapshot and the writes.
		_, err := e.Pool.Exec(context.Background(), `UPDATE agent_slots SET occupied = occupied + 2 WHERE agent_id = 'i-a1' AND slot = 'cpu'`)
		require.NoError(t, err)
		_, err = e.Pool.Exec(context.Background(), `UPDATE agent_slots SET occupied = occupied + 7 * 1073741824::numeric WHERE agent_id = 'i-a2' AND slot = 'mem'`)
		require.NoError(t, err)
	})

	runPass(t, e, h)

	require.Equal(t, []string{"SCHEDULED", "SCHEDULED", "SCHEDULED", "PENDING", "PENDING", "PENDING", "PENDING", "PENDING"},
		statuses(t, e, sids))
	for i, kid := range kids {
		k := e.Kernel(t, kid)
		if i < 3 {
			require.True(t, k.Reserved, "kernel of s%d", i)
			require.Equal(t, []string{"i-a1", "i-a2", "i-a1"}[i], k.Agent, "kernel of s%d", i)
		} else {
			require.Equal(t, "PENDING", k.Status, "kernel of s%d", i)
			require.False(t, k.Reserved, "kernel of s%d", i)
			require.Empty(t, k.Agent, "kernel of s%d", i)
		}
	}
	require.Equal(t, map[string]string{"cpu": "4", "mem": "2147483648"}, e.Occupied(t, "i-a1"))
	// s3, s5 and s7 had CPUs on i-a2 but not memory: none of their CPUs are reserved.
	require.Equal(t, map[string]string{"cpu": "1", "mem": "8589934592"}, e.Occupied(t, "i-a2"))
	for _, sid := range sids[:3] {
		waitEvent(t, evs, events.SessionScheduled, sid)
	}

	// Without the outside reservations the books balance, and the next pass places the rest.
	_, err := e.Pool.Exec(t.Context(), `UPDATE agent_slots SET occupied = occupied - 2 WHERE agent_id = 'i-a1' AND slot = 'cpu'`)
	require.NoError(t, err)
	_, err = e.Pool.Exec(t.Context(), `UPDATE agent_slots SET occupied = occupied - 7 * 1073741824::numeric WHERE agent_id = 'i-a2' AND slot = 'mem'`)
	require.NoError(t, err)
	e.RequireConsistent(t)
	runPass(t, e, h)
	require.Equal(t, []string{"SCHEDULED", "SCHEDULED", "SCHEDULED", "SCHEDULED", "SCHEDULED", "SCHEDULED", "SCHEDULED", "SCHEDULED"},
		statuses(t, e, sids))
	require.Equal(t, "4", e.Occupied(t, "i-a1")["cpu"])
	require.Equal(t, "4", e.Occupied(t, "i-a2")["cpu"])
	e.RequireConsistent(t)
}

// A reservation made by a transaction that is still open when the pass writes holds the
// pass back until it ends; the pass then decides on the amounts it committed, without
// failing and without over-committing.
func TestBatchWriteWaitsForConcurrentReservation(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	sids, _ := insertSessions(t, e, 4)
	ctx := t.Context()
	committed := make(chan error, 1)
	h := batchHandlers(t, e, 2, func() {
		tx, err := e.Pool.Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `UPDATE agent_slots SET occupied = occupied + 3 WHERE agent_id = 'i-a1' AND slot = 'cpu'`)
		require.NoError(t, err)
		// Commit once the pass waits for the row this transaction holds.
		go func() {
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				var waiting int
				if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
					WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
					committed <- err
					return
				}
				if waiting > 0 {
					committed <- tx.Commit(ctx)
					return
				}
				runtime.Gosched()
			}
			_ = tx.Rollback(ctx)
			committed <- fmt.Errorf("the pass never waited for the open reservation")
		}()
	})

	runPass(t, e, h)
	require.NoError(t, <-committed)

	require.Equal(t, []string{"SCHEDULED", "PENDING", "PENDING", "PENDING"}, statuses(t, e, sids))
	require.Equal(t, "4", e.Occupied(t, "i-a1")["cpu"])
	_, err := e.Pool.Exec(ctx, `UPDATE agent_slots SET occupied = occupied - 3 WHERE agent_id = 'i-a1' AND slot = 'cpu'`)
	require.NoError(t, err)
	e.RequireConsistent(t)
}

// A session that leaves PENDING between the snapshot and the writes (destroyed meanwhile) is
// not placed and reserves nothing; the others of its chunk are placed.
func TestBatchWriteSkipsSessionsNoLongerPending(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	sids, kids := insertSessions(t, e, 3)
	h := batchHandlers(t, e, 0, func() {
		_, err := e.Pool.Exec(context.Background(), `UPDATE sessions SET status = 'CANCELLED' WHERE id = $1`, sids[1])
		require.NoError(t, err)
		_, err = e.Pool.Exec(context.Background(), `UPDATE kernels SET status = 'CANCELLED' WHERE session_id = $1`, sids[1])
		require.NoError(t, err)
	})

	runPass(t, e, h)

	require.Equal(t, []string{"SCHEDULED", "CANCELLED", "SCHEDULED"}, statuses(t, e, sids))
	k := e.Kernel(t, kids[1])
	require.False(t, k.Reserved)
	require.Empty(t, k.Agent)
	require.Equal(t, map[string]string{"cpu": "2", "mem": "2147483648"}, e.Occupied(t, "i-a1"))
	e.RequireConsistent(t)
}

// A multi-node session is written with every kernel on its agent, the session's agents in
// kernel order and its occupying slots the sum of its kernels'.
func TestBatchWriteMultiNodeSession(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	e.InsertAgent(t, "i-a2", "tcp://127.0.0.1:2", 4, 8*gib)
	sid, k0 := e.InsertPendingSession(t, "multi", "3", "1073741824")
	ctx := t.Context()
	_, err := e.Pool.Exec(ctx, `UPDATE sessions SET cluster_mode = 'multi-node', cluster_size = 2, requested_slots = '{"cpu": "6", "mem": "2147483648"}' WHERE id = $1`, sid)
	require.NoError(t, err)
	k1 := uuid.New()
	_, err = e.Pool.Exec(ctx, `INSERT INTO kernels (id, session_id, session_name, scaling_group, domain_name, group_id, user_uuid,
		access_key, image, registry, requested_slots, created_at, cluster_role, cluster_idx)
		SELECT $2, session_id, session_name, scaling_group, domain_name, group_id, user_uuid, access_key, image, registry,
		       requested_slots, created_at, 'sub', 1
		FROM kernels WHERE id = $1`, k0, k1)
	require.NoError(t, err)

	runPass(t, e, batchHandlers(t, e, 0, nil))

	require.Equal(t, "SCHEDULED", e.Session(t, sid).Status)
	a0, a1 := e.Kernel(t, k0).Agent, e.Kernel(t, k1.String()).Agent
	require.ElementsMatch(t, []string{"i-a1", "i-a2"}, []string{a0, a1})
	var agents []string
	var occupying []byte
	require.NoError(t, e.Pool.QueryRow(ctx, `SELECT agent_ids, occupying_slots FROM sessions WHERE id = $1`, sid).Scan(&agents, &occupying))
	require.Equal(t, []string{a0, a1}, agents)
	var occ map[string]string
	require.NoError(t, json.Unmarshal(occupying, &occ))
	require.Equal(t, map[string]string{"cpu": "6", "mem": "2147483648"}, occ)
	require.Equal(t, "3", e.Occupied(t, "i-a1")["cpu"])
	require.Equal(t, "3", e.Occupied(t, "i-a2")["cpu"])
	e.RequireConsistent(t)
}

// A pass over more sessions than one write chunk places them all, and records the skips
// of those that do not fit, chunk by chunk.
func TestBatchWriteManyChunks(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	e.InsertAgent(t, "i-a2", "tcp://127.0.0.1:2", 4, 8*gib)
	sids, _ := insertSessions(t, e, 11)

	runPass(t, e, batchHandlers(t, e, 2, nil))

	got := statuses(t, e, sids)
	require.Equal(t, []string{"SCHEDULED", "SCHEDULED", "SCHEDULED", "SCHEDULED", "SCHEDULED", "SCHEDULED", "SCHEDULED", "SCHEDULED",
		"PENDING", "PENDING", "PENDING"}, got)
	for _, sid := range sids[8:] {
		require.Equal(t, "no-available-instances", e.Session(t, sid).Info)
		require.Contains(t, e.statusData(t, sid), `"retries": 1`)
	}
	e.RequireConsistent(t)
}

// An agent slot that disappears, or whose amounts become unreadable, between the snapshot
// and the writes takes no reservation: the sessions planned on it stay PENDING, the pass
// does not fail, and the sessions planned elsewhere are placed.
func TestBatchWriteAgentSlotsGoneOrUnreadable(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	e.InsertAgent(t, "i-a2", "tcp://127.0.0.1:2", 4, 8*gib)
	e.InsertAgent(t, "i-a3", "tcp://127.0.0.1:3", 4, 8*gib)
	// Dispersed placement: s0 on i-a1, s1 on i-a2, s2 on i-a3.
	sids, kids := insertSessions(t, e, 3)
	h := batchHandlers(t, e, 0, func() {
		_, err := e.Pool.Exec(context.Background(), `DELETE FROM agent_slots WHERE agent_id = 'i-a1' AND slot = 'mem'`)
		require.NoError(t, err)
		_, err = e.Pool.Exec(context.Background(), `UPDATE agent_slots SET capacity = 'Infinity' WHERE agent_id = 'i-a2' AND slot = 'cpu'`)
		require.NoError(t, err)
	})

	runPass(t, e, h)

	require.Equal(t, []string{"PENDING", "PENDING", "SCHEDULED"}, statuses(t, e, sids))
	require.Equal(t, "i-a3", e.Kernel(t, kids[2]).Agent)
	require.Equal(t, map[string]string{"cpu": "0"}, e.Occupied(t, "i-a1"))
	require.Equal(t, map[string]string{"cpu": "0", "mem": "0"}, e.Occupied(t, "i-a2"))
	require.Equal(t, map[string]string{"cpu": "1", "mem": "1073741824"}, e.Occupied(t, "i-a3"))
	e.RequireConsistent(t)
}

// Sessions pending longer than the scaling group's pending timeout are cancelled in batches,
// kernels included, each owner hearing of it; one that left PENDING meanwhile is left alone.
func TestBatchCancelsTimedOutSessions(t *testing.T) {
	e := newEnv(t, jobstest.Options{})
	evs := e.Subscribe(t)
	e.InsertAgent(t, "i-a1", "tcp://127.0.0.1:1", 4, 8*gib)
	_, err := e.Pool.Exec(t.Context(), `UPDATE scaling_groups SET scheduler_opts = '{"pending_timeout": 60}' WHERE name = 'default'`)
	require.NoError(t, err)
	sids, kids := insertSessions(t, e, 5)
	e.Advance(2 * time.Minute)
	h := batchHandlers(t, e, 2, func() {
		_, err := e.Pool.Exec(context.Background(), `UPDATE sessions SET status = 'TERMINATED' WHERE id = $1`, sids[3])
		require.NoError(t, err)
	})

	runPass(t, e, h)

	require.Equal(t, []string{"CANCELLED", "CANCELLED", "CANCELLED", "TERMINATED", "CANCELLED"}, statuses(t, e, sids))
	for i, sid := range sids {
		if i == 3 {
			require.Equal(t, "PENDING", e.Kernel(t, kids[i]).Status)
			continue
		}
		s := e.Session(t, sid)
		require.Equal(t, "pending-timeout", s.Info)
		require.Contains(t, s.History, "CANCELLED")
		require.Equal(t, "CANCELLED", e.Kernel(t, kids[i]).Status)
		ev := waitEvent(t, evs, events.SessionCancelled, sid)
		require.Equal(t, "pending-timeout", ev.Reason)
	}
	require.Equal(t, map[string]string{"cpu": "0", "mem": "0"}, e.Occupied(t, "i-a1"))
	e.RequireConsistent(t)
}
