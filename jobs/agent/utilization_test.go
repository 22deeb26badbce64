package agent_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/jobs"
)

func TestHeartbeatStoresUtilization(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	ctx := t.Context()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := newHandlers(t, pool, t0)
	require.NoError(t, h.HandleAgentHeartbeat(ctx, heartbeat(t, payload(t0, "4", "8589934592"))))

	// A RUNNING kernel on the agent, an ended one, and one on another agent.
	insert := func(status, agent string) uuid.UUID {
		t.Helper()
		sid, kid := uuid.New(), uuid.New()
		_, err := pool.Exec(ctx, `INSERT INTO sessions (id, name, domain_name, group_id, user_uuid, access_key, status)
			SELECT $1::uuid, 'u-' || left($1::uuid::text, 8), u.domain_name, g.id, u.uuid, k.access_key, $2
			FROM keypairs k JOIN users u ON u.uuid = k."user" JOIN groups g ON g.domain_name = u.domain_name AND g.name = 'default'
			WHERE k.access_key = 'AKIANABBDUSEREXAMPLE'`, sid, status)
		require.NoError(t, err)
		_, err = pool.Exec(ctx, `INSERT INTO kernels (id, session_id, session_name, domain_name, group_id, user_uuid, access_key, agent, status)
			SELECT $1, s.id, s.name, s.domain_name, s.group_id, s.user_uuid, s.access_key, $3, $4 FROM sessions s WHERE s.id = $2`,
			kid, sid, agent, status)
		require.NoError(t, err)
		return kid
	}
	running := insert("RUNNING", "i-node1")
	ended := insert("TERMINATED", "i-node1")
	_, err := pool.Exec(ctx, `INSERT INTO agents (id, status, scaling_group, addr, architecture) VALUES ('i-other', 'ALIVE', 'default', 'tcp://x:1', 'x86_64')`)
	require.NoError(t, err)
	foreign := insert("RUNNING", "i-other")

	cpu, mem := 12.5, 40.0
	p := payload(t0.Add(20*time.Second), "4", "8589934592")
	p.Utilization = map[string]jobs.KernelUtilization{
		running.String(): {CPUUtil: &cpu, Mem: &mem},
		ended.String():   {CPUUtil: &cpu},
		foreign.String(): {CPUUtil: &cpu},
		"not-a-uuid":     {CPUUtil: &cpu},
	}
	require.NoError(t, h.HandleAgentHeartbeat(ctx, heartbeat(t, p)))
	// A redelivery stores nothing twice.
	require.NoError(t, h.HandleAgentHeartbeat(ctx, heartbeat(t, p)))

	rows, err := pool.Query(ctx, `SELECT kernel_id, at, metrics FROM kernel_utilization`)
	require.NoError(t, err)
	defer rows.Close()
	var n int
	for rows.Next() {
		var (
			kid     uuid.UUID
			at      time.Time
			metrics []byte
		)
		require.NoError(t, rows.Scan(&kid, &at, &metrics))
		require.Equal(t, running, kid)
		require.True(t, at.Equal(p.Time))
		var m map[string]float64
		require.NoError(t, json.Unmarshal(metrics, &m))
		require.Equal(t, map[string]float64{"cpu_util": 12.5, "mem": 40}, m)
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 1, n, "only the agent's RUNNING kernels are sampled")
}
