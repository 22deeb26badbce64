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

func TestExecuteQuery(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)

	res := env.Do(t, http.MethodPost, "/session/"+rs.Name, map[string]any{"mode": "query", "code": "print(1)", "runId": "run-1"}, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	require.JSONEq(t, `{"result": {"status": "finished", "runId": "run-1", "exitCode": 0, "options": {}, "files": [],
		"console": [["stdout", "1\n"]]}}`, string(res.Body))

	// The interpreter keeps its state between executions; the session id works as well.
	r := execute(t, env, rs, map[string]any{"mode": "query", "code": "x = 41", "runId": "run-2"})
	require.Equal(t, "finished", r.Status)
	require.Equal(t, [][2]string{}, r.Console)
	r = execute(t, env, rs, map[string]any{"mode": "query", "code": "print(x + 1)", "runId": "run-3"})
	require.Equal(t, [][2]string{{"stdout", "42\n"}}, r.Console)
	res = env.Do(t, http.MethodPost, "/session/"+rs.ID, map[string]any{"mode": "query", "code": "print(x)", "runId": nil}, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	var out struct {
		Result execResult `json:"result"`
	}
	res.JSON(t, &out)
	require.Equal(t, [][2]string{{"stdout", "41\n"}}, out.Result.Console)
	require.NotEmpty(t, out.Result.RunID, "a null runId gets a generated one")

	// Errors are the run's, not the request's.
	r = execute(t, env, rs, map[string]any{"mode": "query", "code": "1/0", "runId": "run-5", "options": nil})
	require.Equal(t, "finished", r.Status)
	require.NotNil(t, r.ExitCode)
	require.Equal(t, 1, *r.ExitCode)
	require.Len(t, r.Console, 1)
	require.Equal(t, "stderr", r.Console[0][0])
	require.Contains(t, r.Console[0][1], "ZeroDivisionError")

	// Every query counts in the session and its kernel.
	var sq, kq int64
	require.NoError(t, env.DB.Pool.QueryRow(t.Context(), `SELECT s.num_queries, k.num_queries FROM sessions s
		JOIN kernels k ON k.session_id = s.id WHERE s.id = $1`, rs.ID).Scan(&sq, &kq))
	require.EqualValues(t, 5, sq)
	require.EqualValues(t, 5, kq)
}

func TestExecuteLongRunContinues(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	r := execute(t, env, rs, map[string]any{"mode": "query", "runId": "long",
		"code": "import time\nprint('start')\ntime.sleep(3)\nprint('done')"})
	require.Equal(t, "continued", r.Status)
	require.Nil(t, r.ExitCode)
	require.Equal(t, [][2]string{{"stdout", "start\n"}}, r.Console)
	require.Equal(t, "long", r.RunID)

	var stdout string
	for r.Status == "continued" {
		r = execute(t, env, rs, map[string]any{"mode": "continue", "runId": "long", "code": nil})
		for _, c := range r.Console {
			stdout += c[1]
		}
	}
	require.Equal(t, "finished", r.Status)
	require.Equal(t, "done\n", stdout)
	require.NotNil(t, r.ExitCode)
	require.Equal(t, 0, *r.ExitCode)

	// Only the query counted, not its continuations.
	var sq int64
	require.NoError(t, env.DB.Pool.QueryRow(t.Context(), `SELECT num_queries FROM sessions WHERE id = $1`, rs.ID).Scan(&sq))
	require.EqualValues(t, 1, sq)
}

func TestExecuteShell(t *testing.T) {
	t.Parallel()
	env, rs := newShellKernelEnv(t)
	r, stdout := runToEnd(t, env, rs, "echo hello; echo oops >&2; exit 3")
	require.Equal(t, "finished", r.Status)
	require.Equal(t, "hello\n", stdout)
	require.NotNil(t, r.ExitCode)
	require.Equal(t, 3, *r.ExitCode)
}

func TestExecuteBatchAndInput(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)

	// A batch answers once per phase; the client continues to the next one.
	r := execute(t, env, rs, map[string]any{"mode": "batch", "code": "", "runId": "b",
		"options": map[string]any{"build": "echo building", "exec": "echo running; exit 2", "buildLog": false}})
	var statuses []string
	var stdout string
	for {
		for _, c := range r.Console {
			stdout += c[1]
		}
		if r.Status != "continued" {
			statuses = append(statuses, r.Status)
		}
		if r.Status == "finished" {
			break
		}
		require.Less(t, len(statuses), 3, "%v", statuses)
		r = execute(t, env, rs, map[string]any{"mode": "continue", "code": "", "runId": "b"})
	}
	require.Equal(t, []string{"build-finished", "finished"}, statuses)
	require.Equal(t, "building\nrunning\n", stdout)
	require.Equal(t, 2, *r.ExitCode)

	// A run that asks for input answers waiting-input; mode input feeds it.
	r = execute(t, env, rs, map[string]any{"mode": "query", "code": "import getpass\nprint(len(getpass.getpass('PIN: ')))", "runId": "i"})
	require.Equal(t, "waiting-input", r.Status)
	require.Equal(t, [][2]string{{"stdout", "PIN: "}}, r.Console)
	require.Equal(t, map[string]any{"is_password": true}, r.Options)
	r = execute(t, env, rs, map[string]any{"mode": "input", "code": "1234", "runId": "i"})
	require.Equal(t, "finished", r.Status)
	require.Equal(t, [][2]string{{"stdout", "4\n"}}, r.Console)

	// Input without a run waiting for it is refused by the agent: the caller's mistake.
	p := env.Do(t, http.MethodPost, "/session/"+rs.Name, map[string]any{"mode": "input", "code": "x", "runId": "i"}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Msg, "not waiting for input")
}

func TestExecuteValidation(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	path := "/session/" + rs.Name
	for _, tc := range []struct {
		name string
		body any
		msg  string
	}{
		{"no runId", map[string]any{"mode": "query", "code": "1"}, "runId is missing!"},
		{"no mode", map[string]any{"runId": "r", "code": "1"}, "mode is missing or empty!"},
		{"empty mode", map[string]any{"runId": "r", "mode": ""}, "mode is missing or empty!"},
		{"null mode", map[string]any{"runId": "r", "mode": nil}, "mode is missing or empty!"},
		{"unknown mode", map[string]any{"runId": "r", "mode": "explode"}, "mode has an invalid value."},
		{"continue without run", map[string]any{"runId": nil, "mode": "continue"}, "continuation requires explicit run ID"},
		{"input without run", map[string]any{"runId": nil, "mode": "input", "code": "x"}, "continuation requires explicit run ID"},
		{"code not a string", map[string]any{"runId": "r", "mode": "query", "code": 5}, ""},
		{"options not an object", map[string]any{"runId": "r", "mode": "query", "options": []int{1}}, ""},
		{"empty body", nil, "runId is missing!"},
	} {
		res := env.Do(t, http.MethodPost, path, tc.body, &functionstest.User)
		p := res.RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		if tc.msg != "" {
			require.Equal(t, tc.msg, p.Msg, tc.name)
		}
	}
	env.Do(t, http.MethodPost, path, "{not json", &functionstest.User).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")

	// Nothing ran.
	var sq int64
	require.NoError(t, env.DB.Pool.QueryRow(t.Context(), `SELECT num_queries FROM sessions WHERE id = $1`, rs.ID).Scan(&sq))
	require.Zero(t, sq)
}

func TestExecuteLookup(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	body := map[string]any{"mode": "query", "code": "print(1)", "runId": "r"}
	env.Do(t, http.MethodPost, "/session/no-such-session", body, &functionstest.User).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
	// Another user's session does not exist for the caller.
	env.Do(t, http.MethodPost, "/session/"+rs.Name, body, &functionstest.User2).
		RequireProblem(t, http.StatusNotFound, "object-not-found")

	// A session that does not run yet cannot execute.
	_, err := env.DB.Pool.Exec(t.Context(), `UPDATE sessions SET status = 'PENDING' WHERE id = $1`, rs.ID)
	require.NoError(t, err)
	_, err = env.DB.Pool.Exec(t.Context(), `UPDATE kernels SET status = 'PENDING' WHERE session_id = $1`, rs.ID)
	require.NoError(t, err)
	env.Do(t, http.MethodPost, "/session/"+rs.Name, body, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	// An ended one is not found.
	_, err = env.DB.Pool.Exec(t.Context(), `UPDATE sessions SET status = 'TERMINATED' WHERE id = $1`, rs.ID)
	require.NoError(t, err)
	env.Do(t, http.MethodPost, "/session/"+rs.Name, body, &functionstest.User).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
}

func TestExecuteKernelGoneOnAgent(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	require.NoError(t, rs.Agent.Runtime.DestroyKernel(t.Context(), rs.KernelID))
	env.Do(t, http.MethodPost, "/session/"+rs.Name, map[string]any{"mode": "query", "code": "1", "runId": "r"}, &functionstest.User).
		RequireProblem(t, http.StatusInternalServerError, "kernel-execution-failed")
}

func TestCompleteWithoutSupport(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	res := env.Do(t, http.MethodPost, "/session/"+rs.Name+"/complete",
		map[string]any{"code": "pri", "options": map[string]any{"row": 0, "col": 3}}, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	require.JSONEq(t, `{"result": {"status": "finished", "completions": []}}`, string(res.Body))

	res = env.Do(t, http.MethodPost, "/session/"+rs.Name, map[string]any{"mode": "complete", "code": "pri", "runId": nil}, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	var out map[string]json.RawMessage
	res.JSON(t, &out)
	require.JSONEq(t, `{"status": "finished", "completions": []}`, string(out["result"]))

	env.Do(t, http.MethodPost, "/session/nope/complete", map[string]any{"code": "x"}, &functionstest.User).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
}

// cannedExecute is an agent whose Execute answers with res and err; everything else the real
// agent answers.
type cannedExecute struct {
	agentrpc.Handler
	res *agentrpc.ExecuteResult
	err error
}

func (c cannedExecute) Execute(context.Context, *agentrpc.ExecuteRequest) (*agentrpc.ExecuteResult, error) {
	return c.res, c.err
}

func TestExecuteAgentAnswers(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	body := map[string]any{"mode": "query", "code": "print(1)", "runId": "r-1"}

	// No answer at all: the run is reported cut off.
	rs.useAgentAt(t, env, serveAgent(t, cannedExecute{Handler: rs.Agent.Agent}))
	res := env.Do(t, http.MethodPost, "/session/"+rs.Name, body, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	require.JSONEq(t, `{"result": {"status": "finished", "runId": "r-1", "exitCode": 130, "options": {}, "files": [], "console": []}}`,
		string(res.Body))

	// Nil lists and maps are written empty.
	rs.useAgentAt(t, env, serveAgent(t, cannedExecute{Handler: rs.Agent.Agent, res: &agentrpc.ExecuteResult{Status: "waiting-input"}}))
	res = env.Do(t, http.MethodPost, "/session/"+rs.Name, body, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	require.JSONEq(t, `{"result": {"status": "waiting-input", "runId": "r-1", "exitCode": null, "options": {}, "files": [], "console": []}}`,
		string(res.Body))

	for _, kind := range []agentrpc.ErrorKind{agentrpc.KindTimeout, agentrpc.KindFailure} {
		rs.useAgentAt(t, env, serveAgent(t, cannedExecute{Handler: rs.Agent.Agent, err: agentrpc.Errorf(kind, "it broke")}))
		p := env.Do(t, http.MethodPost, "/session/"+rs.Name, body, &functionstest.User).
			RequireProblem(t, http.StatusInternalServerError, "kernel-execution-failed")
		require.Contains(t, p.Msg, "it broke")
	}
}
