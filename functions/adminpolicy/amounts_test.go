package adminpolicy_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
)

// garbageAmounts are refused in every resource slot map an administrator writes.
var garbageAmounts = []string{ //nolint:gochecknoglobals // test table
	"1e400", "1e308", "1e13", "NaN", "-0", "", " ", strings.Repeat("9", 400), "0x10",
}

// Presets and keypair resource policies refuse any amount that is not a finite, non-negative
// decimal within bounds, naming the field and slot; policies still take Infinity.
func TestSlotAmountsAreBounded(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	for _, bad := range garbageAmounts {
		for _, tc := range []struct {
			path, field string
			body        map[string]any
		}{
			{kpPath, "total_resource_slots.cpu", map[string]any{"name": "x", "total_resource_slots": map[string]string{"cpu": bad}}},
			{kpPath, "max_pending_session_resource_slots.cpu", map[string]any{"name": "x", "max_pending_session_resource_slots": map[string]string{"cpu": bad}}},
			{presetPath, "resource_slots.cpu", map[string]any{"name": "x", "resource_slots": map[string]string{"cpu": bad, "mem": "1g"}}},
		} {
			p := env.Do(t, http.MethodPost, tc.path, tc.body, sa).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
			require.Contains(t, p.Data, tc.field, "%q at %s", bad, tc.path)
		}
	}
	for _, bad := range []string{"9p", "1e", "1y", "1e400"} {
		p := env.Do(t, http.MethodPost, presetPath, map[string]any{"name": "x", "resource_slots": map[string]string{"cpu": "1", "mem": bad}}, sa).
			RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		require.Contains(t, p.Data, "resource_slots.mem", bad)
		p = env.Do(t, http.MethodPost, kpPath, map[string]any{"name": "x", "total_resource_slots": map[string]string{"mem": bad}}, sa).
			RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		require.Contains(t, p.Data, "total_resource_slots.mem", bad)
	}
	// Updates are checked the same way.
	env.Do(t, http.MethodPost, kpPath, map[string]any{"name": "ok", "total_resource_slots": map[string]string{"cpu": "Infinity", "mem": "8p"}}, sa).
		RequireStatus(t, http.StatusCreated)
	p := env.Do(t, http.MethodPatch, kpPath+"/ok", map[string]any{"total_resource_slots": map[string]string{"cpu": "1e400"}}, sa).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Data, "total_resource_slots.cpu")
}
