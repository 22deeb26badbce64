package admin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
)

// Domain and project total_resource_slots refuse any amount that is not a finite,
// non-negative decimal within bounds, naming the slot.
func TestTotalResourceSlotsAreBounded(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	for _, bad := range []string{"1e400", "1e308", "1e13", "NaN", "-0", "", strings.Repeat("9", 400)} {
		for _, path := range []string{"/admin/domains", "/admin/projects"} {
			p := env.Do(t, http.MethodPost, path, map[string]any{"name": "x", "total_resource_slots": map[string]string{"cpu": bad}}, sa).
				RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
			require.Contains(t, p.Data, "total_resource_slots.cpu", "%q at %s", bad, path)
		}
	}
	p := env.Do(t, http.MethodPost, "/admin/domains", map[string]any{"name": "x", "total_resource_slots": map[string]string{"mem": "9p"}}, sa).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Data, "total_resource_slots.mem")
}
