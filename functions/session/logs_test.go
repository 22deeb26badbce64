package session_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
)

type logsAnswer struct {
	Result struct {
		Logs *string `json:"logs"`
	} `json:"result"`
}

func TestLogsLiveAndStored(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	_, stdout := runToEnd(t, env, rs, "print('hello from the kernel')")
	require.Equal(t, "hello from the kernel\n", stdout)

	res := env.Do(t, http.MethodGet, "/session/"+rs.Name+"/logs", nil, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	var out logsAnswer
	res.JSON(t, &out)
	require.NotNil(t, out.Result.Logs)
	require.Contains(t, *out.Result.Logs, "hello from the kernel\n")

	// An admin reads it on behalf of the owner; a user may not.
	res = env.Do(t, http.MethodGet, "/session/"+rs.Name+"/logs?owner_access_key="+functionstest.User.AccessKey, nil, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusOK)
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/logs?owner_access_key="+functionstest.User.AccessKey, nil, &functionstest.User2).
		RequireProblem(t, http.StatusForbidden, "generic-forbidden")
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/logs", nil, &functionstest.User2).
		RequireProblem(t, http.StatusNotFound, "object-not-found")

	// Once the session ended, the stored copy is returned (the agent is not asked).
	require.NoError(t, rs.Agent.Runtime.DestroyKernel(t.Context(), rs.KernelID))
	_, err := env.DB.Pool.Exec(t.Context(), `UPDATE kernels SET status = 'TERMINATED', container_log = $2 WHERE session_id = $1`,
		rs.ID, []byte("stored log\n"))
	require.NoError(t, err)
	_, err = env.DB.Pool.Exec(t.Context(), `UPDATE sessions SET status = 'TERMINATED' WHERE id = $1`, rs.ID)
	require.NoError(t, err)
	res = env.Do(t, http.MethodGet, "/session/"+rs.Name+"/logs", nil, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	require.JSONEq(t, `{"result": {"logs": "stored log\n"}}`, string(res.Body))

	// Without a stored copy, the agent that no longer has the kernel fails the call.
	_, err = env.DB.Pool.Exec(t.Context(), `UPDATE kernels SET container_log = NULL WHERE session_id = $1`, rs.ID)
	require.NoError(t, err)
	env.Do(t, http.MethodGet, "/session/"+rs.Name+"/logs", nil, &functionstest.User).
		RequireProblem(t, http.StatusInternalServerError, "kernel-execution-failed")

	env.Do(t, http.MethodGet, "/session/nope/logs", nil, &functionstest.User).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
}
