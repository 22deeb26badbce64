package configapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
)

func TestConfigKeysAreChecked(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	sa := &functionstest.Superadmin
	put(t, env, "config/keep", "1")
	bad := []string{"a\u0000b", "a\nb", "a\u0001", "x\u007f", "a/../b", "../x", "/", "//", "a\u202eb", strings.Repeat("k", 513)}
	for _, key := range bad {
		for _, op := range []string{"/config/set", "/config/delete"} {
			body := map[string]any{"key": key, "value": "v"}
			if op == "/config/delete" {
				body = map[string]any{"key": key, "prefix": true}
			}
			p := env.Do(t, http.MethodPost, op, body, sa).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
			require.Contains(t, p.Data, "key", "%s %q", op, key)
		}
	}
	env.Do(t, http.MethodPost, "/config/get", map[string]any{"key": "a\nb"}, sa).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	// The namespace is untouched, and can still be read as a whole.
	res := env.Do(t, http.MethodPost, "/config/get", map[string]any{"key": "config/keep"}, sa)
	res.RequireStatus(t, http.StatusOK)
	require.JSONEq(t, `{"result": "1"}`, string(res.Body))
	env.Do(t, http.MethodPost, "/config/get", map[string]any{"key": "/", "prefix": true}, sa).RequireStatus(t, http.StatusOK)
	env.Do(t, http.MethodPost, "/config/set", map[string]any{"key": "config/x y/é", "value": "ok"}, sa).RequireStatus(t, http.StatusOK)
}
