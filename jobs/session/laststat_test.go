package session_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/jobs"
	"github.com/hangar-run/hangar/jobs/jobstest"
)

// A destroyed session's kernel keeps, in kernels.last_stat, the statistics of the latest
// utilization sample its agent reported (the samples themselves are pruned later).
func TestTerminateRecordsLastStat(t *testing.T) {
	e := newEnv(t, jobstest.Options{RPCTimeout: 5 * time.Second})
	a, _ := runAgent(t, "i-stat")
	e.InsertAgent(t, "i-stat", a.ListenAddr(), 4, 8*gib)
	sid, kid := e.InsertPendingSession(t, "s1", "2", "1073741824")
	e.Schedule(t)
	e.Start(t, sid)
	require.Equal(t, "RUNNING", e.Session(t, sid).Status)
	_, err := e.Pool.Exec(t.Context(), `
		INSERT INTO kernel_utilization (kernel_id, at, metrics) VALUES
			($1, now() - interval '10 seconds', '{"cpu_util": 90}'),
			($1, now(), '{"cpu_util": 12.5, "mem": 25}')`, kid)
	require.NoError(t, err)

	require.NoError(t, e.H.HandleSessionTerminate(t.Context(), task(jobs.NewSessionTerminateTask(jobs.SessionTerminatePayload{SessionID: sid, Reason: "user-requested"}))))
	require.Equal(t, "TERMINATED", e.Kernel(t, kid).Status)
	var raw []byte
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT last_stat FROM kernels WHERE id = $1`, kid).Scan(&raw))
	var stat map[string]map[string]string
	require.NoError(t, json.Unmarshal(raw, &stat), "%s", raw)
	require.Equal(t, map[string]string{"current": "25", "capacity": "200", "pct": "12.5", "unit_hint": "percent"}, stat["cpu_util"])
	require.Equal(t, "268435456", stat["mem"]["current"])
}
