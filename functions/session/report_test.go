package session_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
)

func TestDependencyGraphStatusHistoryAndAbusingReport(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := createOK(t, env, map[string]any{"name": "dep-a", "image": "python", "enqueueOnly": true})
	b := createOK(t, env, map[string]any{"name": "dep-b", "image": "python", "enqueueOnly": true, "dependencies": []string{"dep-a"}})
	createOK(t, env, map[string]any{"name": "dep-c", "image": "python", "enqueueOnly": true, "dependencies": []string{"dep-b", "dep-a"}})

	type node struct {
		SessionID     string `json:"session_id"`
		SessionName   string `json:"session_name"`
		Status        string `json:"status"`
		StatusChanged string `json:"status_changed"`
		DependsOn     []node `json:"depends_on"`
	}
	var g node
	res := env.Do(t, http.MethodGet, "/session/dep-c/dependency-graph", nil, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &g)
	require.Equal(t, "dep-c", g.SessionName)
	require.Equal(t, "PENDING", g.Status)
	require.Regexp(t, `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00$`, g.StatusChanged)
	require.Len(t, g.DependsOn, 2)
	byName := map[string]node{}
	for _, d := range g.DependsOn {
		byName[d.SessionName] = d
	}
	require.Equal(t, b.SessionID, byName["dep-b"].SessionID)
	require.Len(t, byName["dep-b"].DependsOn, 1)
	require.Equal(t, a.SessionID, byName["dep-b"].DependsOn[0].SessionID)
	require.Empty(t, byName["dep-a"].DependsOn)
	env.Do(t, http.MethodGet, "/session/dep-c/dependency-graph", nil, &functionstest.User2).
		RequireProblem(t, http.StatusNotFound, "object-not-found")

	// The status history, with the lower-case keys Backend.AI's client reads.
	var hist struct {
		Result map[string]string `json:"result"`
	}
	res = env.Do(t, http.MethodGet, "/session/dep-a/status-history", nil, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &hist)
	require.Contains(t, hist.Result, "pending")
	require.NotContains(t, hist.Result, "PENDING")
	env.Do(t, http.MethodDelete, "/session/dep-a", nil, &functionstest.User).RequireStatus(t, http.StatusOK)
	res = env.Do(t, http.MethodGet, "/session/dep-a/status-history", nil, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &hist)
	require.Contains(t, hist.Result, "cancelled", "ended sessions keep their history")
	env.Do(t, http.MethodGet, "/session/dep-b/status-history?owner_access_key="+functionstest.User.AccessKey, nil, &functionstest.User2).
		RequireProblem(t, http.StatusForbidden, "generic-forbidden")

	// Nothing is recorded about abuse: the empty report.
	res = env.Do(t, http.MethodGet, "/session/dep-b/abusing-report", nil, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	require.JSONEq(t, `{}`, string(res.Body))
	env.Do(t, http.MethodGet, "/session/nope/abusing-report", nil, &functionstest.User).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
}

func TestTaskLogsNeedTheLogsFolder(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	for _, q := range []string{"taskId", "task_id", "sessionName"} {
		p := env.Do(t, http.MethodGet, "/session/_/logs?"+q+"=3f1c2b9e-1d7a-4a8e-9d5c-2f6b8e0a1c3d", nil, &functionstest.User).
			RequireProblem(t, http.StatusNotFound, "object-not-found")
		require.Equal(t, "No such vfolder.", p.Title)
		require.Equal(t, map[string]any{"vfolder_name": ".logs"}, p.Data)
	}
	res := env.Do(t, http.MethodHead, "/session/_/logs?taskId=3f1c2b9e-1d7a-4a8e-9d5c-2f6b8e0a1c3d", nil, &functionstest.User)
	res.RequireStatus(t, http.StatusNotFound)
	env.Do(t, http.MethodGet, "/session/_/logs?taskId=nope", nil, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	env.Do(t, http.MethodGet, "/session/_/logs", nil, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
}

func TestUploadNamesPercentDecodedAndDestroyStats(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	// Backend.AI's client sends "upd/a.txt" as "upd%2Fa.txt".
	upload(t, env, rs.Name, &functionstest.User, uploadFile{"upd%2Fa.txt", []byte("a")}).RequireStatus(t, http.StatusNoContent)
	files, _ := listFiles(t, env, rs.Name, map[string]any{"path": "upd"})
	require.Equal(t, []string{"a.txt"}, keys(files))
	for _, name := range []string{"..%2Fescape.txt", "%2E%2E/escape.txt", "%2Fetc%2Fpasswd", "a%00b"} {
		upload(t, env, rs.Name, &functionstest.User, uploadFile{name, []byte("x")}).
			RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	}
	// A malformed escape stays as it is.
	upload(t, env, rs.Name, &functionstest.User, uploadFile{"100%zz.txt", []byte("x")}).RequireStatus(t, http.StatusNoContent)
	files, _ = listFiles(t, env, rs.Name, nil)
	require.Contains(t, files, "100%zz.txt")

	// The destroy answers the main kernel's last statistics.
	_, err := env.DB.Pool.Exec(context.Background(), `
		INSERT INTO kernel_utilization (kernel_id, at, metrics) VALUES
			($1, now() - interval '10 seconds', '{"cpu_util": 10, "mem": 10}'),
			($1, now(), '{"cpu_util": 42.5, "mem": 50}')`, rs.KernelID)
	require.NoError(t, err)
	var out struct {
		Stats map[string]any `json:"stats"`
	}
	res := env.Do(t, http.MethodDelete, "/session/"+rs.Name, nil, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &out)
	require.Equal(t, "terminated", out.Stats["status"])
	require.InDelta(t, 2, out.Stats["version"], 0)
	require.Equal(t, map[string]any{"current": "42.5", "capacity": "100", "pct": "42.5", "unit_hint": "percent"}, out.Stats["cpu_util"])
	require.Equal(t, map[string]any{"current": "134217728", "capacity": "268435456", "pct": "50", "unit_hint": "bytes", "stats.max": "134217728"}, out.Stats["mem"])
}
