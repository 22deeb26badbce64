package session_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
)

// lastAccess returns a session's last_access_at (nil when never accessed).
func lastAccess(t *testing.T, env *functionstest.Env, sid string) *time.Time {
	t.Helper()
	var at *time.Time
	require.NoError(t, env.DB.Pool.QueryRow(t.Context(), `SELECT last_access_at FROM sessions WHERE id = $1`, sid).Scan(&at))
	return at
}

func TestExecuteRecordsSessionAccess(t *testing.T) {
	t.Parallel()
	env, rs := newShellKernelEnv(t)
	start := time.Now().UTC().Truncate(time.Second)
	env.Clock.Set(start)
	require.Nil(t, lastAccess(t, env, rs.ID))

	execute(t, env, rs, map[string]any{"mode": "query", "runId": nil, "code": "true"})
	at := lastAccess(t, env, rs.ID)
	require.NotNil(t, at)
	require.True(t, at.Equal(start), "stamped at the server's clock: %v", at)

	// Within a second, calls do not write again.
	env.Clock.Set(start.Add(500 * time.Millisecond))
	execute(t, env, rs, map[string]any{"mode": "query", "runId": nil, "code": "true"})
	require.True(t, lastAccess(t, env, rs.ID).Equal(start))

	// Later calls move it on; file operations count too.
	env.Clock.Set(start.Add(5 * time.Second))
	execute(t, env, rs, map[string]any{"mode": "query", "runId": nil, "code": "true"})
	require.True(t, lastAccess(t, env, rs.ID).Equal(start.Add(5*time.Second)))
	env.Clock.Set(start.Add(9 * time.Second))
	env.Do(t, "GET", "/session/"+rs.Name+"/files?path=.", nil, &functionstest.User).RequireStatus(t, 200)
	require.True(t, lastAccess(t, env, rs.ID).Equal(start.Add(9*time.Second)))

	// Reading the session's info is no access.
	env.Clock.Set(start.Add(20 * time.Second))
	env.Do(t, "GET", "/session/"+rs.Name, nil, &functionstest.User).RequireStatus(t, 200)
	require.True(t, lastAccess(t, env, rs.ID).Equal(start.Add(9*time.Second)))
}

func TestInfoReportsIdleChecks(t *testing.T) {
	t.Parallel()
	env, rs := newShellKernelEnv(t)
	ctx := t.Context()
	for k, v := range map[string]string{
		"config/idle/enabled":                                                   "timeout,utilization",
		"config/idle/checkers/timeout/threshold":                                "10m",
		"config/idle/checkers/utilization/time-window":                          "10m",
		"config/idle/checkers/utilization/initial-grace-period":                 "5m",
		"config/idle/checkers/utilization/resource-thresholds/cpu_util/average": "10",
	} {
		require.NoError(t, env.Etcd.Put(ctx, k, v))
	}
	require.NoError(t, env.Shared.Sync(ctx))
	_, err := env.DB.Pool.Exec(ctx, `UPDATE keypair_resource_policies SET idle_timeout = -1, max_session_lifetime = 3600`)
	require.NoError(t, err)
	created := time.Now().UTC().Truncate(time.Second)
	_, err = env.DB.Pool.Exec(ctx, `UPDATE sessions SET created_at = $2, status_changed = $2, last_access_at = NULL WHERE id = $1`,
		rs.ID, created)
	require.NoError(t, err)
	env.Clock.Set(created.Add(2 * time.Minute))

	res := env.Do(t, "GET", "/session/"+rs.Name, nil, &functionstest.User)
	res.RequireStatus(t, 200)
	var out struct {
		IdleChecks map[string]json.RawMessage `json:"idleChecks"`
	}
	require.NoError(t, json.Unmarshal(res.Body, &out))
	require.JSONEq(t, `{"remaining": 3480, "remaining_time_type": "expire_after", "extra": null}`, string(out.IdleChecks["session_lifetime"]))
	require.JSONEq(t, `{"remaining": 480, "remaining_time_type": "expire_after", "extra": null}`, string(out.IdleChecks["network_timeout"]))
	require.JSONEq(t, `{"remaining": 780, "remaining_time_type": "grace_period",
		"extra": {"thresholds_check_operator": "and", "resources": {"cpu_util": [null, 10]}}}`, string(out.IdleChecks["utilization"]))
}
