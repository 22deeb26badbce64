package session_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
)

func TestInterrupt(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	r := execute(t, env, rs, map[string]any{"mode": "query", "runId": "spin", "code": "print('spinning')\nwhile True: pass"})
	require.Equal(t, "continued", r.Status)

	res := env.Do(t, http.MethodPost, "/session/"+rs.Name+"/interrupt", nil, &functionstest.User)
	res.RequireStatus(t, http.StatusNoContent)
	require.Empty(t, res.Body)

	var stderr string
	for r.Status == "continued" {
		r = execute(t, env, rs, map[string]any{"mode": "continue", "runId": "spin"})
		for _, c := range r.Console {
			if c[0] == "stderr" {
				stderr += c[1]
			}
		}
	}
	require.Equal(t, "finished", r.Status)
	require.NotNil(t, r.ExitCode)
	require.NotEqual(t, 0, *r.ExitCode)
	require.Contains(t, stderr, "KeyboardInterrupt")

	// The kernel lives on.
	_, stdout := runToEnd(t, env, rs, "print('still here')")
	require.Equal(t, "still here\n", stdout)

	env.Do(t, http.MethodPost, "/session/nope/interrupt", nil, &functionstest.User).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
	env.Do(t, http.MethodPost, "/session/"+rs.Name+"/interrupt", nil, &functionstest.User2).
		RequireProblem(t, http.StatusNotFound, "object-not-found")

	require.NoError(t, rs.Agent.Runtime.DestroyKernel(t.Context(), rs.KernelID))
	env.Do(t, http.MethodPost, "/session/"+rs.Name+"/interrupt", nil, &functionstest.User).
		RequireProblem(t, http.StatusInternalServerError, "kernel-execution-failed")
}
