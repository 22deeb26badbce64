package adminpolicy_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
)

// badNames are names no object may take: path syntax, quotes, control characters, spaces.
var badNames = []string{ //nolint:gochecknoglobals // read-only
	"../../a/b\\c", "' OR '1'='1", "a\tb", "a\nb", "a\x01b", "a\x7fb", "two words", "..", ".hidden", "-x", "x-",
	"a/b", "a\\b", "é", "<script>", strings.Repeat("x", 257),
}

func TestNamesAreSlugs(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	slots := map[string]string{"cpu": "1", "mem": "1g"}
	creates := []struct {
		path string
		body func(name string) map[string]any
	}{
		{"/admin/scaling-groups", func(n string) map[string]any { return map[string]any{"name": n} }},
		{"/admin/resource-presets", func(n string) map[string]any { return map[string]any{"name": n, "resource_slots": slots} }},
		{"/admin/keypair-resource-policies", func(n string) map[string]any { return map[string]any{"name": n} }},
		{"/admin/user-resource-policies", func(n string) map[string]any { return map[string]any{"name": n} }},
		{"/admin/project-resource-policies", func(n string) map[string]any { return map[string]any{"name": n} }},
	}
	for _, c := range creates {
		for _, name := range badNames {
			p := env.Do(t, http.MethodPost, c.path, c.body(name), sa).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
			require.Contains(t, p.Data, "name", "%s %q", c.path, name)
		}
		env.Do(t, http.MethodPost, c.path, c.body("Good_name-1.0"), sa).RequireStatus(t, http.StatusCreated)
	}
	// Scaling group names are at most 64 characters; policy and preset names 256.
	env.Do(t, http.MethodPost, "/admin/scaling-groups", map[string]any{"name": strings.Repeat("g", 65)}, sa).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	env.Do(t, http.MethodPost, "/admin/resource-presets", map[string]any{"name": strings.Repeat("p", 256), "resource_slots": slots}, sa).
		RequireStatus(t, http.StatusCreated)
	// Nothing of the above was stored.
	var n int
	require.NoError(t, env.DB.Pool.QueryRow(t.Context(), `SELECT
		(SELECT count(*) FROM scaling_groups WHERE name !~ '^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$') +
		(SELECT count(*) FROM resource_presets WHERE name !~ '^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$') +
		(SELECT count(*) FROM keypair_resource_policies WHERE name !~ '^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$')`).Scan(&n))
	require.Zero(t, n)
	// NUL anywhere in a body is refused naming the field, e.g. in scaling group options.
	p := env.Do(t, http.MethodPost, "/admin/scaling-groups", `{"name": "sg-nul", "driver_opts": {"k": "a\u0000"}}`, sa).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Data, "driver_opts.k")
	p = env.Do(t, http.MethodPatch, "/admin/scaling-groups/default", `{"description": "\u0000"}`, sa).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Data, "description")
}
