package resource_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/fixture"
)

func TestRecalculateUsage(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	exec(t, env, `
		INSERT INTO agents (id, status, scaling_group, addr) VALUES
			('r1', 'ALIVE', 'default', 'tcp://r1'), ('r2', 'ALIVE', 'default', 'tcp://r2')`)
	// r1 records too much cpu and too little mem; r2 is right.
	exec(t, env, `
		INSERT INTO agent_slots (agent_id, slot, slot_type, capacity, occupied) VALUES
			('r1', 'cpu', 'count', 8, 5), ('r1', 'mem', 'bytes', 17179869184, 0),
			('r2', 'cpu', 'count', 8, 1), ('r2', 'mem', 'bytes', 17179869184, 1073741824)`)
	for _, k := range []kernel{
		{agent: ptr("r1"), slots: `{"cpu": "1", "mem": "1073741824"}`, status: "RUNNING"},
		{agent: ptr("r1"), slots: `{"cpu": "2", "mem": "2147483648"}`, status: "RUNNING"},
		{agent: ptr("r2"), slots: `{"cpu": "1", "mem": "1073741824", "cuda.shares": "0.5"}`, status: "RUNNING"},
		// Ended: holds no reservation.
		{agent: ptr("r1"), slots: `{"cpu": "4", "mem": "1073741824"}`, status: "TERMINATED"},
	} {
		k.user, k.accessKey, k.sgroup = fixture.UserUUID, fixture.UserAccessKey, "default"
		insertKernel(t, env, k)
	}
	exec(t, env, `UPDATE kernels SET slots_reserved = (status = 'RUNNING') WHERE agent IN ('r1', 'r2')`)

	env.Do(t, http.MethodPost, "/resource/recalculate-usage", nil, &functionstest.DomainAdmin).
		RequireProblem(t, http.StatusUnauthorized, "auth-failed")
	var out struct {
		Corrections []struct {
			AgentID  string `json:"agent_id"`
			Slot     string `json:"slot"`
			Recorded string `json:"recorded"`
			Expected string `json:"expected"`
		} `json:"corrections"`
		Orphans []struct {
			AgentID string `json:"agent_id"`
			Slot    string `json:"slot"`
			Amount  string `json:"amount"`
		} `json:"orphans"`
	}
	res := env.Do(t, http.MethodPost, "/resource/recalculate-usage", nil, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &out)
	require.Len(t, out.Corrections, 2)
	require.Equal(t, "r1", out.Corrections[0].AgentID)
	require.Equal(t, "cpu", out.Corrections[0].Slot)
	require.Equal(t, "5", out.Corrections[0].Recorded)
	require.Equal(t, "3", out.Corrections[0].Expected)
	require.Equal(t, "mem", out.Corrections[1].Slot)
	require.Equal(t, "3221225472", out.Corrections[1].Expected)
	require.Len(t, out.Orphans, 1)
	require.Equal(t, "r2", out.Orphans[0].AgentID)
	require.Equal(t, "cuda.shares", out.Orphans[0].Slot)

	var cpu, mem string
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `
		SELECT (SELECT occupied::text FROM agent_slots WHERE agent_id = 'r1' AND slot = 'cpu'),
		       (SELECT occupied::text FROM agent_slots WHERE agent_id = 'r1' AND slot = 'mem')`).Scan(&cpu, &mem))
	require.Equal(t, "3", cpu)
	require.Equal(t, "3221225472", mem)

	// A second run finds nothing left to correct.
	res = env.Do(t, http.MethodPost, "/resource/recalculate-usage", nil, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &out)
	require.Empty(t, out.Corrections)
}
