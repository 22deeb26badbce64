package admin_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
)

func TestDomainAndProjectNamesAreSlugs(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	sa := &functionstest.Superadmin
	for _, name := range []string{"..", "...", ".x", "x.", "-x", "_x", "../../a/b\\c", "' OR '1'='1", "a\tb", "a b"} {
		p := env.Do(t, http.MethodPost, "/admin/domains", map[string]any{"name": name}, sa).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		require.Contains(t, p.Data, "name", "%q", name)
		p = env.Do(t, http.MethodPatch, "/admin/domains/default", map[string]any{"new_name": name}, sa).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		require.Contains(t, p.Data, "new_name", "%q", name)
		p = env.Do(t, http.MethodPost, "/admin/projects", map[string]any{"name": name}, sa).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		require.Contains(t, p.Data, "name", "%q", name)
	}
	env.Do(t, http.MethodPost, "/admin/domains", map[string]any{"name": "lab.b_2-x"}, sa).RequireStatus(t, http.StatusCreated)
	// NUL in free text is refused naming the field instead of failing in the database.
	p := env.Do(t, http.MethodPost, "/admin/projects", `{"name": "p1", "description": "a\u0000"}`, sa).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Data, "description")
	p = env.Do(t, http.MethodPost, "/admin/users", `{"email": "n@example.com", "password": "x\u0000y", "username": "n"}`, sa).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Data, "password")
	env.Do(t, http.MethodGet, "/admin/users/%ff", nil, sa).RequireProblem(t, http.StatusNotFound, "url-not-found")
	env.Do(t, http.MethodGet, "/admin/domains/%00", nil, sa).RequireProblem(t, http.StatusNotFound, "url-not-found")
}
