package logs_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/fixture"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type logOut struct {
	LogID         string         `json:"log_id"`
	CreatedAt     float64        `json:"created_at"`
	Severity      string         `json:"severity"`
	Source        string         `json:"source"`
	User          *string        `json:"user"`
	IsRead        bool           `json:"is_read"`
	IsCleared     *bool          `json:"is_cleared"`
	Message       string         `json:"message"`
	ContextEnv    map[string]any `json:"context_env"`
	RequestStatus *int           `json:"request_status"`
}

type listOut struct {
	Logs  []logOut `json:"logs"`
	Count int      `json:"count"`
}

func list(t *testing.T, env *functionstest.Env, query string, creds *auth.Credentials) listOut {
	t.Helper()
	var out listOut
	res := env.Do(t, http.MethodGet, "/logs/error"+query, nil, creds)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &out)
	return out
}

func file(t *testing.T, env *functionstest.Env, msg string, creds *auth.Credentials) {
	t.Helper()
	res := env.Do(t, http.MethodPost, "/logs/error", map[string]any{
		"severity": "error", "source": "client", "message": msg, "context_lang": "python",
		"context_env": `{"version": "24.03.2"}`, "request_status": 500,
	}, creds)
	res.RequireStatus(t, http.StatusOK)
	var ok struct {
		Success bool `json:"success"`
	}
	res.JSON(t, &ok)
	require.True(t, ok.Success)
}

func TestErrorLogsScopesPagesAndClears(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	for _, m := range []string{"u1", "u2", "u3"} {
		file(t, env, m, &functionstest.User)
		env.Clock.Set(env.Clock.Now().Add(time.Second))
	}
	file(t, env, "other", &functionstest.User2)
	// A log of no user (the user was removed, say): only the superadmin sees it.
	_, err := env.DB.Pool.Exec(context.Background(), `
		INSERT INTO error_logs (severity, source, message, context_lang, context_env)
		VALUES ('critical', 'agent', 'orphan', 'go', '{}')`)
	require.NoError(t, err)

	mine := list(t, env, "?page_size=2", &functionstest.User)
	require.Equal(t, 3, mine.Count)
	require.Len(t, mine.Logs, 2)
	require.Equal(t, "u3", mine.Logs[0].Message, "newest first")
	require.Equal(t, "u2", mine.Logs[1].Message)
	require.Nil(t, mine.Logs[0].IsCleared, "users do not see is_cleared")
	require.Equal(t, fixture.UserUUID, *mine.Logs[0].User)
	require.Equal(t, map[string]any{"version": "24.03.2"}, mine.Logs[0].ContextEnv)
	require.Equal(t, 500, *mine.Logs[0].RequestStatus)
	require.Positive(t, mine.Logs[0].CreatedAt)
	require.False(t, mine.Logs[0].IsRead)
	page2 := list(t, env, "?page_size=2&page_no=2&mark_read=true", &functionstest.User)
	require.Len(t, page2.Logs, 1)
	require.Equal(t, "u1", page2.Logs[0].Message)
	require.True(t, list(t, env, "?page_size=1&page_no=3", &functionstest.User).Logs[0].IsRead)

	admin := list(t, env, "", &functionstest.DomainAdmin)
	require.Equal(t, 4, admin.Count, "the domain's users' logs, not the orphan")
	require.NotNil(t, admin.Logs[0].IsCleared)
	require.Equal(t, 5, list(t, env, "", &functionstest.Superadmin).Count)

	// Clearing: the owner may, another user may not (404 as for an unknown log).
	target := mine.Logs[0].LogID
	env.Do(t, http.MethodPost, "/logs/error/"+target+"/clear", nil, &functionstest.User2).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
	env.Do(t, http.MethodPost, "/logs/error/"+target+"/clear", nil, &functionstest.User).
		RequireStatus(t, http.StatusOK)
	after := list(t, env, "", &functionstest.User)
	require.Equal(t, 2, after.Count, "a cleared log leaves the user's list")
	for _, l := range list(t, env, "", &functionstest.Superadmin).Logs {
		require.Equal(t, l.LogID == target, *l.IsCleared, l.Message)
	}
}

func TestErrorLogsBadInput(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	base := map[string]any{"severity": "error", "source": "s", "message": "m", "context_lang": "py", "context_env": "{}"}
	with := func(k string, v any) map[string]any {
		b := map[string]any{}
		for kk, vv := range base {
			b[kk] = vv
		}
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	for _, tc := range []struct {
		body map[string]any
		key  string
	}{
		{with("severity", "info"), "severity"},
		{with("message", nil), "message"},
		{with("context_env", "{not json"), "context_env"},
		{with("request_status", "x"), "request_status"},
	} {
		p := env.Do(t, http.MethodPost, "/logs/error", tc.body, &functionstest.User).
			RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		require.Contains(t, fmt.Sprint(p.Data), tc.key)
	}
	for _, q := range []string{"?page_size=0", "?page_size=101", "?page_no=0", "?page_no=-3", "?page_size=abc"} {
		env.Do(t, http.MethodGet, "/logs/error"+q, nil, &functionstest.User).
			RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	}
	env.Do(t, http.MethodPost, "/logs/error/not-a-uuid/clear", nil, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	env.Do(t, http.MethodPost, "/logs/error/3f1c2b9e-1d7a-4a8e-9d5c-2f6b8e0a1c3d/clear", nil, &functionstest.Superadmin).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
	env.Do(t, http.MethodGet, "/logs/error", nil, nil).RequireProblem(t, http.StatusBadRequest, "invalid-auth-params")
}
