package manager_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/fixture"
)

// writeOp registers a write operation (refused while frozen) to observe the frozen guard.
func writeOp(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "t-write", Method: http.MethodPost, Path: "/t/write", Tag: "test", Summary: "write",
		Role: functions.User, Frozen: functions.WriteOp,
	}), func(context.Context, *struct{}) (*struct{}, error) { return nil, nil })
}

// insertKernel adds a session with one kernel of the given role and status, owned by the
// example user.
func insertKernel(t *testing.T, env *functionstest.Env, name, clusterRole, status string) {
	t.Helper()
	ctx := context.Background()
	var sid string
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `
		INSERT INTO sessions (name, domain_name, group_id, user_uuid, access_key, scaling_group_name)
		VALUES ($1, 'default', $2, $3, $4, 'default') RETURNING id`,
		name, fixture.DefaultProjectID, fixture.UserUUID, fixture.UserAccessKey).Scan(&sid))
	_, err := env.DB.Pool.Exec(ctx, `
		INSERT INTO kernels (session_id, session_name, cluster_role, domain_name, group_id, user_uuid, access_key, status)
		VALUES ($1, $2, $3, 'default', $4, $5, $6, $7)`,
		sid, name, clusterRole, fixture.DefaultProjectID, fixture.UserUUID, fixture.UserAccessKey, status)
	require.NoError(t, err)
}

type statusBody struct {
	Nodes []struct {
		ID               string  `json:"id"`
		NumProc          int     `json:"num_proc"`
		ServiceAddr      string  `json:"service_addr"`
		HeartbeatTimeout float64 `json:"heartbeat_timeout"`
		SSLEnabled       bool    `json:"ssl_enabled"`
		ActiveSessions   int64   `json:"active_sessions"`
		Status           string  `json:"status"`
		Version          string  `json:"version"`
		APIVersion       []any   `json:"api_version"`
	} `json:"nodes"`
	Status         string `json:"status"`
	ActiveSessions int64  `json:"active_sessions"`
}

func getStatus(t *testing.T, env *functionstest.Env, headers ...string) statusBody {
	t.Helper()
	res := env.Do(t, http.MethodGet, "/manager/status", nil, nil, headers...)
	res.RequireStatus(t, http.StatusOK)
	var b statusBody
	res.JSON(t, &b)
	return b
}

func TestGetStatus(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)

	b := getStatus(t, env)
	require.Equal(t, "running", b.Status)
	require.Zero(t, b.ActiveSessions)
	require.Len(t, b.Nodes, 1)
	n := b.Nodes[0]
	require.Equal(t, "i-test", n.ID)
	require.Equal(t, 1, n.NumProc)
	require.Equal(t, "127.0.0.1:0", n.ServiceAddr)
	require.InDelta(t, 40.0, n.HeartbeatTimeout, 0)
	require.False(t, n.SSLEnabled)
	require.Equal(t, "running", n.Status)
	require.Equal(t, "24.03.2", n.Version)
	require.Equal(t, []any{float64(8), "20240315"}, n.APIVersion)

	// The API version of the request is echoed.
	b = getStatus(t, env, "X-BackendAI-Version: v7.20230615")
	require.Equal(t, []any{float64(7), "20230615"}, b.Nodes[0].APIVersion)

	// Main kernels occupying agent resources count; pending, finished and sub kernels do not.
	insertKernel(t, env, "s-running", "main", "RUNNING")
	insertKernel(t, env, "s-preparing", "main", "PREPARING")
	insertKernel(t, env, "s-error", "main", "ERROR")
	insertKernel(t, env, "s-pending", "main", "PENDING")
	insertKernel(t, env, "s-done", "main", "TERMINATED")
	insertKernel(t, env, "s-cancelled", "main", "CANCELLED")
	insertKernel(t, env, "s-sub", "sub", "RUNNING")
	b = getStatus(t, env)
	require.EqualValues(t, 3, b.ActiveSessions)
	require.EqualValues(t, 3, b.Nodes[0].ActiveSessions)

	// Public: a body (the SDK sends one) and bad credentials are ignored.
	res := env.Do(t, http.MethodGet, "/manager/status", map[string]string{"status": "running"}, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	res = env.Do(t, http.MethodGet, "/manager/status", nil, nil, "Authorization: BackendAI signMethod=HMAC-SHA256, credential=nope:nope")
	res.RequireStatus(t, http.StatusOK)
}

func TestFreeze(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t, writeOp)

	// Only superadmins may change the status.
	env.Do(t, http.MethodPut, "/manager/status", map[string]any{"status": "frozen"}, nil).RequireProblem(t, 400, "invalid-auth-params")
	env.Do(t, http.MethodPut, "/manager/status", map[string]any{"status": "frozen"}, &functionstest.User).RequireProblem(t, 401, "auth-failed")
	env.Do(t, http.MethodPut, "/manager/status", map[string]any{"status": "frozen"}, &functionstest.DomainAdmin).RequireProblem(t, 401, "auth-failed")
	env.Do(t, http.MethodPut, "/manager/status", map[string]any{"status": "melted"}, &functionstest.Superadmin).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPut, "/manager/status", map[string]any{}, &functionstest.Superadmin).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/t/write", nil, &functionstest.User).RequireStatus(t, http.StatusNoContent)

	// Freezing applies before the response: the very next write is refused.
	env.Do(t, http.MethodPut, "/manager/status", map[string]any{"status": "frozen", "force_kill": false}, &functionstest.Superadmin).
		RequireStatus(t, http.StatusNoContent)
	env.Do(t, http.MethodPost, "/t/write", nil, &functionstest.User).RequireProblem(t, 503, "server-frozen")
	require.Equal(t, "frozen", getStatus(t, env).Status)
	v, ok, err := env.Etcd.Get(context.Background(), "manager/status")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "frozen", v)

	// Unfreezing works while frozen.
	env.Do(t, http.MethodPut, "/manager/status", map[string]any{"status": "running"}, &functionstest.Superadmin).
		RequireStatus(t, http.StatusNoContent)
	env.Do(t, http.MethodPost, "/t/write", nil, &functionstest.User).RequireStatus(t, http.StatusNoContent)
	require.Equal(t, "running", getStatus(t, env).Status)

	// Parameters from the query string when there is no body; force_kill takes ToBool spellings.
	env.Do(t, http.MethodPut, "/manager/status?status=frozen&force_kill=1", nil, &functionstest.Superadmin).
		RequireStatus(t, http.StatusNoContent)
	require.Equal(t, "frozen", getStatus(t, env).Status)
	env.Do(t, http.MethodPost, "/t/write", nil, &functionstest.User).RequireProblem(t, 503, "server-frozen")

	// A legacy status refuses writes as unavailable.
	env.Do(t, http.MethodPut, "/manager/status?status=preparing", nil, &functionstest.Superadmin).RequireStatus(t, http.StatusNoContent)
	env.Do(t, http.MethodPost, "/t/write", nil, &functionstest.User).RequireProblem(t, 503, "service-unavailable")
	env.Do(t, http.MethodPut, "/manager/status?status=running&force_kill=false", nil, &functionstest.Superadmin).
		RequireStatus(t, http.StatusNoContent)
	env.Do(t, http.MethodPost, "/t/write", nil, &functionstest.User).RequireStatus(t, http.StatusNoContent)
}

type announcement struct {
	Enabled bool   `json:"enabled"`
	Message string `json:"message"`
}

func getAnnouncement(t *testing.T, env *functionstest.Env) announcement {
	t.Helper()
	res := env.Do(t, http.MethodGet, "/manager/announcement", nil, nil)
	res.RequireStatus(t, http.StatusOK)
	var a announcement
	res.JSON(t, &a)
	return a
}

func TestAnnouncement(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	ctx := context.Background()

	require.Equal(t, announcement{}, getAnnouncement(t, env))

	body := map[string]any{"enabled": true, "message": "Maintenance at 18:00"}
	env.Do(t, http.MethodPost, "/manager/announcement", body, nil).RequireProblem(t, 400, "invalid-auth-params")
	env.Do(t, http.MethodPost, "/manager/announcement", body, &functionstest.User).RequireProblem(t, 401, "auth-failed")
	env.Do(t, http.MethodPost, "/manager/announcement", map[string]any{"enabled": true}, &functionstest.Superadmin).
		RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/manager/announcement", map[string]any{"enabled": true, "message": ""}, &functionstest.Superadmin).
		RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/manager/announcement", map[string]any{"enabled": true, "msg": "x"}, &functionstest.Superadmin).
		RequireProblem(t, 400, "invalid-api-params")

	// Enabling is visible at once and stored as JSON.
	env.Do(t, http.MethodPost, "/manager/announcement", body, &functionstest.Superadmin).RequireStatus(t, http.StatusNoContent)
	require.Equal(t, announcement{Enabled: true, Message: "Maintenance at 18:00"}, getAnnouncement(t, env))
	raw, ok, err := env.Etcd.Get(ctx, "manager/announcement")
	require.NoError(t, err)
	require.True(t, ok)
	var stored announcement
	require.NoError(t, json.Unmarshal([]byte(raw), &stored))
	require.Equal(t, announcement{Enabled: true, Message: "Maintenance at 18:00"}, stored)

	// Disabling (the default) removes it.
	env.Do(t, http.MethodPost, "/manager/announcement", nil, &functionstest.Superadmin).RequireStatus(t, http.StatusNoContent)
	require.Equal(t, announcement{}, getAnnouncement(t, env))
	_, ok, err = env.Etcd.Get(ctx, "manager/announcement")
	require.NoError(t, err)
	require.False(t, ok)

	// Query-string parameters with ToBool spellings.
	env.Do(t, http.MethodPost, "/manager/announcement?enabled=yes&message=hello", nil, &functionstest.Superadmin).
		RequireStatus(t, http.StatusNoContent)
	require.Equal(t, announcement{Enabled: true, Message: "hello"}, getAnnouncement(t, env))

	// A message stored as plain text (Backend.AI's format) is an enabled announcement.
	require.NoError(t, env.Etcd.Put(ctx, "manager/announcement", "plain text"))
	syncCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, env.Shared.Sync(syncCtx))
	require.Equal(t, announcement{Enabled: true, Message: "plain text"}, getAnnouncement(t, env))
}
