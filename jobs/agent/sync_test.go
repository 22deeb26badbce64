package agent_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/halfstack"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
	"github.com/hangar-run/hangar/jobs/agent"
)

// TestHeartbeatAsksForSync checks when a heartbeat enqueues an agent sync: on revival, when
// it omits a kernel RUNNING on the agent for a while, and when it lists one the manager does
// not count as live there; never for a kernel that only just started.
func TestHeartbeatAsksForSync(t *testing.T) {
	ctx := t.Context()
	pool := testPool(t)
	prefix := testQueuePrefix(t)
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: testRedisAddr, Password: halfstack.RedisPassword()})
	defer client.Close()
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: testRedisAddr, Password: halfstack.RedisPassword()})
	defer insp.Close()
	now := time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC)
	handlers := func() *agent.Handlers {
		at := now
		h, err := agent.New(&worker.Deps{Pool: pool, Logger: testLogger(), Enqueuer: jobs.NewEnqueuer(client, prefix),
			Now: func() time.Time { return at }})
		require.NoError(t, err)
		return h
	}
	syncs := func() []string {
		tasks, err := insp.ListPendingTasks(jobs.QueueName(prefix, jobs.DefaultsOf(jobs.TypeAgentSync).Queue))
		if err != nil {
			return nil
		}
		var out []string
		for _, ti := range tasks {
			if ti.Type == jobs.TypeAgentSync {
				var p jobs.AgentSyncPayload
				require.NoError(t, json.Unmarshal(ti.Payload, &p))
				out = append(out, p.Reason)
			}
		}
		return out
	}
	beat := func(kernels ...string) {
		t.Helper()
		p := payload(now, "4", "1024")
		p.KernelIDs = kernels
		require.NoError(t, handlers().HandleAgentHeartbeat(ctx, heartbeat(t, p)))
	}

	beat()
	require.Empty(t, syncs(), "a new agent with no kernels")
	// A session with a kernel RUNNING on the agent since now.
	var kid string
	require.NoError(t, pool.QueryRow(ctx, `
		WITH s AS (
			INSERT INTO sessions (name, domain_name, group_id, user_uuid, access_key)
			SELECT 's1', 'default', id, (SELECT uuid FROM users LIMIT 1), 'AKIANABBDUSEREXAMPLE' FROM groups LIMIT 1
			RETURNING id, name, domain_name, group_id, user_uuid, access_key)
		INSERT INTO kernels (session_id, session_name, domain_name, group_id, user_uuid, access_key, agent, status, status_changed)
		SELECT id, name, domain_name, group_id, user_uuid, access_key, 'i-node1', 'RUNNING', $1 FROM s
		RETURNING id::text`, now).Scan(&kid))

	now = now.Add(5 * time.Second)
	beat()
	require.Empty(t, syncs(), "a kernel that only just started may be missing from a heartbeat")
	beat(kid)
	require.Empty(t, syncs())

	now = now.Add(time.Minute)
	beat()
	require.Equal(t, []string{"heartbeat-missing-kernel"}, syncs())
	// Within the same bucket the sync is not asked for twice.
	beat()
	require.Len(t, syncs(), 1)

	// A kernel that ended a moment ago may still be listed by a heartbeat built before.
	now = now.Add(time.Minute)
	_, err := pool.Exec(ctx, `UPDATE kernels SET status = 'TERMINATED', status_changed = $1 WHERE id = $2`, now, kid)
	require.NoError(t, err)
	beat(kid)
	require.Len(t, syncs(), 1)
	_, err = pool.Exec(ctx, `UPDATE kernels SET status = 'RUNNING' WHERE id = $1`, kid)
	require.NoError(t, err)

	now = now.Add(time.Minute)
	beat(kid, "0d5f5ac2-1b7e-4d8e-9a44-3c1f0e6b9e11")
	require.Contains(t, syncs(), "heartbeat-unknown-kernel")

	now = now.Add(time.Minute)
	_, err = pool.Exec(ctx, `UPDATE agents SET status = 'LOST' WHERE id = 'i-node1'`)
	require.NoError(t, err)
	beat(kid)
	require.Contains(t, syncs(), "revived")
	require.Len(t, syncs(), 3)
}
