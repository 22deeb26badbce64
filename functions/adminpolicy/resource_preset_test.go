package adminpolicy_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/adminpolicy"
	"github.com/hangar-run/hangar/functions/functionstest"
)

const presetPath = "/admin/resource-presets"

func TestResourcePresetCRUD(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)

	// The fixture's presets, by name.
	var list adminpolicy.ResourcePresetList
	res := env.Do(t, http.MethodGet, presetPath+"?limit=2", nil, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &list)
	require.Positive(t, list.TotalCount)
	require.Len(t, list.Items, 2)
	require.Equal(t, "cpu01-small", list.Items[0].Name)
	require.Equal(t, map[string]string{"cpu": "1", "mem": "1073741824"}, list.Items[0].ResourceSlots)
	require.Nil(t, list.Items[0].SharedMemory)
	require.Equal(t, "cpu02-medium", list.Items[1].Name)
	require.NotNil(t, list.Items[1].SharedMemory)
	require.Equal(t, "1073741824", *list.Items[1].SharedMemory)

	var p adminpolicy.ResourcePreset
	res = env.Do(t, http.MethodPost, presetPath, map[string]any{
		"name": "custom", "resource_slots": map[string]string{"cpu": "2.5", "mem": "4g"}, "shared_memory": "64m",
	}, sa)
	res.RequireStatus(t, 201)
	res.JSON(t, &p)
	require.Equal(t, "custom", p.Name)
	require.Equal(t, map[string]string{"cpu": "2.5", "mem": "4294967296"}, p.ResourceSlots)
	require.NotNil(t, p.SharedMemory)
	require.Equal(t, "67108864", *p.SharedMemory)

	// Without shared memory.
	res = env.Do(t, http.MethodPost, presetPath, map[string]any{
		"name": "noshm", "resource_slots": map[string]string{"cpu": "1", "mem": "512MiB"},
	}, sa)
	res.RequireStatus(t, 201)
	p = adminpolicy.ResourcePreset{}
	res.JSON(t, &p)
	require.Nil(t, p.SharedMemory)
	require.Equal(t, "536870912", p.ResourceSlots["mem"])
	require.Contains(t, string(res.Body), `"shared_memory":null`)

	// PATCH: the slots are replaced, shared memory is kept unless given, and null clears it.
	res = env.Do(t, http.MethodPatch, presetPath+"/custom", map[string]any{
		"resource_slots": map[string]string{"cpu": "1", "mem": "1g"},
	}, sa)
	res.RequireStatus(t, 200)
	p = adminpolicy.ResourcePreset{}
	res.JSON(t, &p)
	require.Equal(t, map[string]string{"cpu": "1", "mem": "1073741824"}, p.ResourceSlots)
	require.Equal(t, "67108864", *p.SharedMemory)
	res = env.Do(t, http.MethodPatch, presetPath+"/custom", map[string]any{"shared_memory": "1_024"}, sa)
	res.RequireStatus(t, 200)
	p = adminpolicy.ResourcePreset{}
	res.JSON(t, &p)
	require.Equal(t, "1024", *p.SharedMemory)
	require.Equal(t, map[string]string{"cpu": "1", "mem": "1073741824"}, p.ResourceSlots)
	res = env.Do(t, http.MethodPatch, presetPath+"/custom", map[string]any{"shared_memory": nil}, sa)
	res.RequireStatus(t, 200)
	p = adminpolicy.ResourcePreset{}
	res.JSON(t, &p)
	require.Nil(t, p.SharedMemory)

	res = env.Do(t, http.MethodGet, presetPath+"/custom", nil, sa)
	res.RequireStatus(t, 200)
	var got adminpolicy.ResourcePreset
	res.JSON(t, &got)
	require.Equal(t, p, got)

	env.Do(t, http.MethodPost, presetPath, map[string]any{"name": "custom", "resource_slots": map[string]string{"cpu": "1", "mem": "1g"}}, sa).
		RequireProblem(t, 400, "invalid-api-params")

	env.Do(t, http.MethodDelete, presetPath+"/custom", nil, sa).RequireStatus(t, 204)
	env.Do(t, http.MethodGet, presetPath+"/custom", nil, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodDelete, presetPath+"/custom", nil, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodPatch, presetPath+"/custom", map[string]any{"shared_memory": "1g"}, sa).RequireProblem(t, 404, "object-not-found")
}

func TestResourcePresetValidation(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	addSlotType(t, env, "cuda.shares", "count")

	slotsOf := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for name, body := range map[string]map[string]any{
		"no slots":          {"name": "x"},
		"empty slots":       {"name": "x", "resource_slots": map[string]string{}},
		"missing mem":       {"name": "x", "resource_slots": slotsOf("cpu", "1")},
		"missing cpu":       {"name": "x", "resource_slots": slotsOf("mem", "1g")},
		"unknown slot":      {"name": "x", "resource_slots": slotsOf("cpu", "1", "mem", "1g", "tpu.device", "1")},
		"bad mem":           {"name": "x", "resource_slots": slotsOf("cpu", "1", "mem", "1 gigabyte")},
		"fractional bytes":  {"name": "x", "resource_slots": slotsOf("cpu", "1", "mem", "1000.5")},
		"negative cpu":      {"name": "x", "resource_slots": slotsOf("cpu", "-1", "mem", "1g")},
		"unlimited mem":     {"name": "x", "resource_slots": slotsOf("cpu", "1", "mem", "Infinity")},
		"bad shm":           {"name": "x", "resource_slots": slotsOf("cpu", "1", "mem", "1g"), "shared_memory": "lots"},
		"unlimited shm":     {"name": "x", "resource_slots": slotsOf("cpu", "1", "mem", "1g"), "shared_memory": "inf"},
		"negative shm":      {"name": "x", "resource_slots": slotsOf("cpu", "1", "mem", "1g"), "shared_memory": "-1m"},
		"too large shm":     {"name": "x", "resource_slots": slotsOf("cpu", "1", "mem", "1g"), "shared_memory": "8e"},
		"numeric shm":       {"name": "x", "resource_slots": slotsOf("cpu", "1", "mem", "1g"), "shared_memory": 1024},
		"unknown field":     {"name": "x", "resource_slots": slotsOf("cpu", "1", "mem", "1g"), "gpu": 1},
		"missing name":      {"resource_slots": slotsOf("cpu", "1", "mem", "1g")},
		"bad count decimal": {"name": "x", "resource_slots": slotsOf("cpu", "1", "mem", "1g", "cuda.shares", "half")},
	} {
		res := env.Do(t, http.MethodPost, presetPath, body, sa)
		require.Equal(t, 400, res.Status, "%s: %s", name, res.Body)
		res.RequireProblem(t, 400, "invalid-api-params")
	}
	p := env.Do(t, http.MethodPost, presetPath, map[string]any{"name": "x", "resource_slots": slotsOf("cpu", "1", "mem", "1g", "tpu.device", "1")}, sa).
		RequireProblem(t, 400, "invalid-api-params")
	require.Contains(t, p.Msg, "tpu.device")

	// Known plugin slots are accepted and counts keep three decimals.
	var got adminpolicy.ResourcePreset
	res := env.Do(t, http.MethodPost, presetPath, map[string]any{
		"name": "gpu", "resource_slots": slotsOf("cpu", "1", "mem", "1g", "cuda.shares", "0.12345"), "shared_memory": "7fffffffffffffff",
	}, sa)
	res.RequireProblem(t, 400, "invalid-api-params")
	res = env.Do(t, http.MethodPost, presetPath, map[string]any{
		"name": "gpu", "resource_slots": slotsOf("cpu", "1", "mem", "1g", "cuda.shares", "0.12345"), "shared_memory": "9223372036854775807",
	}, sa)
	res.RequireStatus(t, 201)
	res.JSON(t, &got)
	require.Equal(t, "0.123", got.ResourceSlots["cuda.shares"])
	require.Equal(t, "9223372036854775807", *got.SharedMemory)

	// PATCH validates the same way.
	env.Do(t, http.MethodPatch, presetPath+"/gpu", map[string]any{"resource_slots": slotsOf("cpu", "1")}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPatch, presetPath+"/gpu", map[string]any{"shared_memory": "x"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPatch, presetPath+"/gpu", map[string]any{"name": "y"}, sa).RequireProblem(t, 400, "invalid-api-params")

	requireDenied(t, env, http.MethodGet, presetPath, nil)
	requireDenied(t, env, http.MethodPost, presetPath, map[string]any{"name": "y", "resource_slots": slotsOf("cpu", "1", "mem", "1g")})
	requireDenied(t, env, http.MethodDelete, presetPath+"/gpu", nil)
	env.Do(t, http.MethodGet, presetPath+"/gpu", nil, sa).RequireStatus(t, 200)
}
