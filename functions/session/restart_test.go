package session_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/agentrpc"
)

// sessionStatus returns a session's status, its main kernel's and the session's history.
func sessionStatus(t *testing.T, env *functionstest.Env, sid string) (session, kernel string, history map[string]string) {
	t.Helper()
	var raw []byte
	require.NoError(t, env.DB.Pool.QueryRow(t.Context(), `SELECT s.status::text, k.status::text, s.status_history
		FROM sessions s JOIN kernels k ON k.session_id = s.id AND k.cluster_role = 'main' WHERE s.id = $1`, sid).
		Scan(&session, &kernel, &raw))
	require.NoError(t, json.Unmarshal(raw, &history))
	return session, kernel, history
}

func TestRestartKeepsFilesLosesState(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	runRestartWorker(t, env)
	r, _ := runToEnd(t, env, rs, "y = 1\nopen('kept.txt', 'w').write('still there')")
	require.Equal(t, 0, *r.ExitCode)

	containerID := func() string {
		var id string
		require.NoError(t, env.DB.Pool.QueryRow(t.Context(), `SELECT container_id FROM kernels WHERE id = $1`, rs.KernelID).Scan(&id))
		return id
	}
	before := containerID()

	res := env.Do(t, http.MethodPatch, "/session/"+rs.Name, nil, &functionstest.User)
	res.RequireStatus(t, http.StatusNoContent)
	require.Empty(t, res.Body)
	require.NotEqual(t, before, containerID(), "the kernel runs in a new process group")
	st, kst, hist := sessionStatus(t, env, rs.ID)
	require.Equal(t, "RUNNING", st)
	require.Equal(t, "RUNNING", kst)
	require.Contains(t, hist, "RESTARTING")

	_, stdout := runToEnd(t, env, rs, "print(open('kept.txt').read())")
	require.Equal(t, "still there\n", stdout)
	r, _ = runToEnd(t, env, rs, "print(y)")
	require.Equal(t, 1, *r.ExitCode, "the interpreter state is gone")

	// An admin restarts it on behalf of its owner; another user may not, nor find it.
	env.Do(t, http.MethodPatch, "/session/"+rs.Name+"?owner_access_key="+functionstest.User.AccessKey, nil, &functionstest.Superadmin).
		RequireStatus(t, http.StatusNoContent)
	env.Do(t, http.MethodPatch, "/session/"+rs.Name, map[string]any{"owner_access_key": functionstest.User.AccessKey}, &functionstest.User2).
		RequireProblem(t, http.StatusForbidden, "generic-forbidden")
	env.Do(t, http.MethodPatch, "/session/"+rs.Name, nil, &functionstest.User2).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
	env.Do(t, http.MethodPatch, "/session/nope", nil, &functionstest.User).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
	_, stdout = runToEnd(t, env, rs, "print('after')")
	require.Equal(t, "after\n", stdout)
}

func TestRestartKernelGone(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	runRestartWorker(t, env)
	require.NoError(t, rs.Agent.Runtime.DestroyKernel(t.Context(), rs.KernelID))
	env.Do(t, http.MethodPatch, "/session/"+rs.Name, nil, &functionstest.User).
		RequireProblem(t, http.StatusInternalServerError, "kernel-restart-failed")
	st, kst, _ := sessionStatus(t, env, rs.ID)
	require.Equal(t, "ERROR", st)
	require.Equal(t, "ERROR", kst)
}

// failingRestarts is an agent whose restarts fail (with a failure that does not say the
// kernel is gone); everything else the real agent answers.
type failingRestarts struct{ agentrpc.Handler }

func (failingRestarts) RestartKernel(context.Context, *agentrpc.RestartKernelRequest) (*agentrpc.KernelCreated, error) {
	return nil, agentrpc.Errorf(agentrpc.KindFailure, "the runtime refused")
}

func TestRestartFailureKeepsRunning(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	runRestartWorker(t, env)
	rs.useAgentAt(t, env, serveAgent(t, failingRestarts{rs.Agent.Agent}))

	p := env.Do(t, http.MethodPatch, "/session/"+rs.Name, nil, &functionstest.User).
		RequireProblem(t, http.StatusInternalServerError, "kernel-restart-failed")
	require.Contains(t, p.Msg, "the runtime refused")
	st, kst, hist := sessionStatus(t, env, rs.ID)
	require.Equal(t, "RUNNING", st)
	require.Equal(t, "RUNNING", kst)
	require.Contains(t, hist, "RESTARTING")
	_, stdout := runToEnd(t, env, rs, "print('unharmed')")
	require.Equal(t, "unharmed\n", stdout)
}

func TestRestartNotRunning(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	runRestartWorker(t, env)
	_, err := env.DB.Pool.Exec(t.Context(), `UPDATE sessions SET status = 'PENDING' WHERE id = $1`, rs.ID)
	require.NoError(t, err)
	_, err = env.DB.Pool.Exec(t.Context(), `UPDATE kernels SET status = 'PENDING' WHERE session_id = $1`, rs.ID)
	require.NoError(t, err)
	env.Do(t, http.MethodPatch, "/session/"+rs.Name, nil, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
}
