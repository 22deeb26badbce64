package configapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
)

// put writes etcd keys and waits until the API's shared configuration view has them.
func put(t *testing.T, env *functionstest.Env, kv ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := 0; i < len(kv); i += 2 {
		require.NoError(t, env.Etcd.Put(ctx, kv[i], kv[i+1]))
	}
	require.NoError(t, env.Shared.Sync(ctx))
}

func TestResourceSlots(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)

	var slots map[string]string
	res := env.Do(t, http.MethodGet, "/config/resource-slots", nil, nil)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &slots)
	require.Equal(t, map[string]string{"cpu": "count", "mem": "bytes"}, slots)

	put(t, env, "config/resource_slots/cuda.shares", "count", "config/resource_slots/foo.device", "unique")
	res = env.Do(t, http.MethodGet, "/config/resource-slots", nil, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &slots)
	require.Equal(t, map[string]string{"cpu": "count", "mem": "bytes", "cuda.shares": "count", "foo.device": "unique"}, slots)
}

type slotMeta struct {
	SlotName          string `json:"slot_name"`
	Description       string `json:"description"`
	HumanReadableName string `json:"human_readable_name"`
	DisplayUnit       string `json:"display_unit"`
	NumberFormat      struct {
		Binary      bool `json:"binary"`
		RoundLength int  `json:"round_length"`
	} `json:"number_format"`
	DisplayIcon string `json:"display_icon"`
}

func slotDetails(t *testing.T, env *functionstest.Env, path string) map[string]slotMeta {
	t.Helper()
	res := env.Do(t, http.MethodGet, path, nil, nil)
	res.RequireStatus(t, http.StatusOK)
	var m map[string]slotMeta
	res.JSON(t, &m)
	return m
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestResourceSlotDetails(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	ctx := context.Background()

	m := slotDetails(t, env, "/config/resource-slots/details")
	require.ElementsMatch(t, []string{"cpu", "mem"}, keys(m))
	require.Equal(t, "cpu", m["cpu"].SlotName)
	require.Equal(t, "Core", m["cpu"].DisplayUnit)
	require.Equal(t, "ram", m["mem"].SlotName)
	require.True(t, m["mem"].NumberFormat.Binary)

	// Known accelerator slots appear once they are known resource slots; slots without
	// metadata do not.
	put(t, env, "config/resource_slots/cuda.shares", "count", "config/resource_slots/cuda.device", "count",
		"config/resource_slots/foo.device", "count")
	m = slotDetails(t, env, "/config/resource-slots/details")
	require.ElementsMatch(t, []string{"cpu", "mem", "cuda.shares", "cuda.device"}, keys(m))
	require.Equal(t, "fGPU", m["cuda.shares"].HumanReadableName)
	require.Equal(t, 2, m["cuda.shares"].NumberFormat.RoundLength)

	// With sgroup, only the accelerators its live, schedulable agents have.
	m = slotDetails(t, env, "/config/resource-slots/details?sgroup=default")
	require.ElementsMatch(t, []string{"cpu", "mem"}, keys(m))
	_, err := env.DB.Pool.Exec(ctx, `
		INSERT INTO agents (id, status, scaling_group, schedulable, addr) VALUES
			('a-live', 'ALIVE', 'default', true, 'tcp://127.0.0.1:6001'),
			('a-lost', 'LOST', 'default', true, 'tcp://127.0.0.1:6002'),
			('a-off', 'ALIVE', 'default', false, 'tcp://127.0.0.1:6003');
		INSERT INTO agent_slots (agent_id, slot, capacity) VALUES
			('a-live', 'cpu', 4), ('a-live', 'cuda.shares', 1),
			('a-lost', 'cuda.device', 1), ('a-off', 'cuda.device', 1)`)
	require.NoError(t, err)
	m = slotDetails(t, env, "/config/resource-slots/details?sgroup=default")
	require.ElementsMatch(t, []string{"cpu", "mem", "cuda.shares"}, keys(m))
	m = slotDetails(t, env, "/config/resource-slots/details?sgroup=nope")
	require.ElementsMatch(t, []string{"cpu", "mem"}, keys(m))
	res := env.Do(t, http.MethodGet, "/config/resource-slots/details", map[string]any{"sgroup": nil}, nil)
	res.RequireStatus(t, http.StatusOK)
	env.Do(t, http.MethodGet, "/config/resource-slots/details?group=x", nil, nil).RequireProblem(t, 400, "invalid-api-params")
}

func TestVFolderTypesAndRegistries(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)

	var types []string
	res := env.Do(t, http.MethodGet, "/config/vfolder-types", nil, nil)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &types)
	require.Equal(t, []string{"user"}, types)
	put(t, env, "volumes/_types/user", "", "volumes/_types/group", "")
	res = env.Do(t, http.MethodGet, "/config/vfolder-types", nil, nil)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &types)
	require.Equal(t, []string{"group", "user"}, types)

	env.Do(t, http.MethodGet, "/config/docker-registries", nil, &functionstest.User).RequireProblem(t, 401, "auth-failed")
	env.Do(t, http.MethodGet, "/config/docker-registries", nil, &functionstest.DomainAdmin).RequireProblem(t, 401, "auth-failed")
	var regs map[string]string
	res = env.Do(t, http.MethodGet, "/config/docker-registries", nil, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &regs)
	require.Empty(t, regs)
	put(t, env, "config/docker/registry/cr.backend.ai", "https://cr.backend.ai",
		"config/docker/registry/cr.backend.ai/type", "harbor2",
		"config/docker/registry/index.docker.io", "https://registry-1.docker.io")
	res = env.Do(t, http.MethodGet, "/config/docker-registries", nil, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &regs)
	require.Equal(t, map[string]string{"cr.backend.ai": "https://cr.backend.ai", "index.docker.io": "https://registry-1.docker.io"}, regs)
}

type result struct {
	Result any `json:"result"`
}

func getConfig(t *testing.T, env *functionstest.Env, body any) any {
	t.Helper()
	res := env.Do(t, http.MethodPost, "/config/get", body, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusOK)
	var r result
	res.JSON(t, &r)
	return r.Result
}

func requireOK(t *testing.T, res *functionstest.Response) {
	t.Helper()
	res.RequireStatus(t, http.StatusOK)
	var r result
	res.JSON(t, &r)
	require.Equal(t, "ok", r.Result)
}

func TestRawConfig(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	ctx := context.Background()

	// Superadmins only.
	for _, p := range []string{"/config/get", "/config/set", "/config/delete"} {
		env.Do(t, http.MethodPost, p, map[string]any{"key": "a", "value": "b"}, &functionstest.User).RequireProblem(t, 401, "auth-failed")
		env.Do(t, http.MethodPost, p, map[string]any{"key": "a", "value": "b"}, &functionstest.DomainAdmin).RequireProblem(t, 401, "auth-failed")
		env.Do(t, http.MethodPost, p, map[string]any{"key": "a", "value": "b"}, nil).RequireProblem(t, 400, "invalid-auth-params")
	}

	// A missing key reads as null.
	require.Nil(t, getConfig(t, env, map[string]any{"key": "x/y"}))

	// Scalar round trip.
	requireOK(t, env.Do(t, http.MethodPost, "/config/set", map[string]any{"key": "x/y", "value": "v1"}, &functionstest.Superadmin))
	require.Equal(t, "v1", getConfig(t, env, map[string]any{"key": "x/y"}))
	v, ok, err := env.Etcd.Get(ctx, "x/y")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "v1", v)

	// Nested objects are flattened into keys; numbers and booleans are stored as JSON text.
	nested := map[string]any{
		"a": "1",
		"b": map[string]any{"c": "2", "d": map[string]any{"e": "3"}, "": "self"},
		"n": 42, "t": true,
	}
	requireOK(t, env.Do(t, http.MethodPost, "/config/set", map[string]any{"key": "x/tree", "value": nested}, &functionstest.Superadmin))
	require.Equal(t, map[string]any{
		"a": "1",
		"b": map[string]any{"c": "2", "d": map[string]any{"e": "3"}, "": "self"},
		"n": "42", "t": "true",
	}, getConfig(t, env, map[string]any{"key": "x/tree", "prefix": true}))
	require.Equal(t, "3", getConfig(t, env, map[string]any{"key": "x/tree/b/d/e"}))
	require.Equal(t, "self", getConfig(t, env, map[string]any{"key": "x/tree/b"}))
	// The whole x subtree, with a key that has a value and children.
	require.Equal(t, map[string]any{
		"y": "v1",
		"tree": map[string]any{
			"a": "1", "b": map[string]any{"c": "2", "d": map[string]any{"e": "3"}, "": "self"}, "n": "42", "t": "true",
		},
	}, getConfig(t, env, map[string]any{"key": "x", "prefix": true}))

	// Parameters from the query string of a bodyless request; prefix takes ToBool spellings.
	res := env.Do(t, http.MethodPost, "/config/get?key=x/tree/a", nil, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusOK)
	var r result
	res.JSON(t, &r)
	require.Equal(t, "1", r.Result)
	res = env.Do(t, http.MethodPost, "/config/get?key=x/tree/b/d&prefix=1", nil, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &r)
	require.Equal(t, map[string]any{"e": "3"}, r.Result)

	// Deleting a key leaves its children; deleting a prefix removes the subtree, and only whole
	// segments.
	requireOK(t, env.Do(t, http.MethodPost, "/config/set", map[string]any{"key": "x/treetop", "value": "keep"}, &functionstest.Superadmin))
	requireOK(t, env.Do(t, http.MethodPost, "/config/delete", map[string]any{"key": "x/tree/b"}, &functionstest.Superadmin))
	require.Nil(t, getConfig(t, env, map[string]any{"key": "x/tree/b"}))
	require.Equal(t, "2", getConfig(t, env, map[string]any{"key": "x/tree/b/c"}))
	requireOK(t, env.Do(t, http.MethodPost, "/config/delete", map[string]any{"key": "x/tree", "prefix": true}, &functionstest.Superadmin))
	require.Equal(t, map[string]any{}, getConfig(t, env, map[string]any{"key": "x/tree", "prefix": true}))
	require.Equal(t, map[string]any{"y": "v1", "treetop": "keep"}, getConfig(t, env, map[string]any{"key": "x", "prefix": true}))
	requireOK(t, env.Do(t, http.MethodPost, "/config/delete?key=x/nothing", nil, &functionstest.Superadmin))

	// Validation.
	env.Do(t, http.MethodPost, "/config/get", map[string]any{}, &functionstest.Superadmin).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/config/get", map[string]any{"key": ""}, &functionstest.Superadmin).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/config/get", map[string]any{"key": "a", "extra": 1}, &functionstest.Superadmin).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/config/set", map[string]any{"key": "a"}, &functionstest.Superadmin).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/config/set", map[string]any{"key": "a", "value": nil}, &functionstest.Superadmin).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/config/delete", map[string]any{"key": "", "prefix": true}, &functionstest.Superadmin).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/config/get", "{not json", &functionstest.Superadmin).RequireProblem(t, 400, "invalid-api-params")
}
