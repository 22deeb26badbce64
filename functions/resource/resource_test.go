package resource_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/fixture"
)

func exec(t *testing.T, env *functionstest.Env, sql string, args ...any) {
	t.Helper()
	_, err := env.DB.Pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err)
}

// knowSlots registers extra resource slot types and waits until the API sees them.
func knowSlots(t *testing.T, env *functionstest.Env, kv ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := 0; i < len(kv); i += 2 {
		require.NoError(t, env.Etcd.Put(ctx, kv[i], kv[i+1]))
	}
	require.NoError(t, env.Shared.Sync(ctx))
}

type kernel struct {
	user, accessKey, sgroup, status, role, slots string
	agent                                        *string
}

// insertKernel adds a session in the default project with one main kernel.
func insertKernel(t *testing.T, env *functionstest.Env, k kernel) {
	t.Helper()
	if k.role == "" {
		k.role = "COMPUTE"
	}
	ctx := context.Background()
	var sid string
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `
		INSERT INTO sessions (name, domain_name, group_id, user_uuid, access_key, scaling_group_name)
		VALUES ('s-' || gen_random_uuid(), 'default', $1, $2, $3, $4) RETURNING id`,
		fixture.DefaultProjectID, k.user, k.accessKey, k.sgroup).Scan(&sid))
	exec(t, env, `
		INSERT INTO kernels (session_id, session_name, domain_name, group_id, user_uuid, access_key,
		                     scaling_group, agent, status, role, occupied_slots)
		SELECT id, name, domain_name, group_id, user_uuid, access_key, $2, $3, $4, $5, $6::jsonb
		FROM sessions WHERE id = $1`,
		sid, k.sgroup, k.agent, k.status, k.role, k.slots)
}

func ptr(s string) *string { return &s }

type presetOut struct {
	Name          string            `json:"name"`
	SharedMemory  *string           `json:"shared_memory"`
	ResourceSlots map[string]string `json:"resource_slots"`
	Allocatable   *bool             `json:"allocatable"`
}

func TestListPresets(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)

	env.Do(t, http.MethodGet, "/resource/presets", nil, nil).RequireProblem(t, 400, "invalid-auth-params")

	var out struct {
		Presets []presetOut `json:"presets"`
	}
	res := env.Do(t, http.MethodGet, "/resource/presets", nil, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &out)
	require.Len(t, out.Presets, 6)
	byName := map[string]presetOut{}
	for _, p := range out.Presets {
		byName[p.Name] = p
		require.Nil(t, p.Allocatable)
	}
	require.Equal(t, "cpu01-small", out.Presets[0].Name)
	require.Nil(t, byName["cpu01-small"].SharedMemory)
	require.Equal(t, map[string]string{"cpu": "1", "mem": "1073741824"}, byName["cpu01-small"].ResourceSlots)
	require.Equal(t, ptr("1073741824"), byName["cpu02-medium"].SharedMemory)
	// Unknown slots are left out.
	require.Equal(t, map[string]string{"cpu": "1", "mem": "4294967296"}, byName["cuda01-small"].ResourceSlots)

	// Known slots are filled in with "0".
	knowSlots(t, env, "config/resource_slots/cuda.shares", "count")
	res = env.Do(t, http.MethodGet, "/resource/presets", nil, &functionstest.User2)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &out)
	for _, p := range out.Presets {
		byName[p.Name] = p
	}
	require.Equal(t, map[string]string{"cpu": "1", "mem": "1073741824", "cuda.shares": "0"}, byName["cpu01-small"].ResourceSlots)
	require.Equal(t, map[string]string{"cpu": "4", "mem": "17179869184", "cuda.shares": "2"}, byName["cuda02-medium"].ResourceSlots)
}

type sgroupOut struct {
	Using     map[string]string `json:"using"`
	Remaining map[string]string `json:"remaining"`
}

type checkOut struct {
	KeypairLimits         map[string]string    `json:"keypair_limits"`
	KeypairUsing          map[string]string    `json:"keypair_using"`
	KeypairRemaining      map[string]string    `json:"keypair_remaining"`
	GroupLimits           map[string]string    `json:"group_limits"`
	GroupUsing            map[string]string    `json:"group_using"`
	GroupRemaining        map[string]string    `json:"group_remaining"`
	ScalingGroupRemaining map[string]string    `json:"scaling_group_remaining"`
	ScalingGroups         map[string]sgroupOut `json:"scaling_groups"`
	Presets               []presetOut          `json:"presets"`
}

func (c checkOut) allocatable() map[string]bool {
	out := map[string]bool{}
	for _, p := range c.Presets {
		out[p.Name] = *p.Allocatable
	}
	return out
}

func checkPresets(t *testing.T, env *functionstest.Env, path string, body any) checkOut {
	t.Helper()
	res := env.Do(t, http.MethodPost, path, body, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	var out checkOut
	res.JSON(t, &out)
	return out
}

const (
	gib4  = "4294967296"
	gib6  = "6442450944"
	gib8  = "8589934592"
	gib16 = "17179869184"
)

// setupCluster builds the resource picture TestCheckPresets checks (see the comments there).
func setupCluster(t *testing.T, env *functionstest.Env) {
	t.Helper()
	knowSlots(t, env, "config/resource_slots/cuda.shares", "count")
	// Keypair policy: cpu 10, mem 16 GiB, others unlimited (the example policy is UNLIMITED).
	exec(t, env, `UPDATE keypair_resource_policies SET total_resource_slots = '{"cpu": "10", "mem": "17179869184"}'`)
	// Domain: cpu 6.
	exec(t, env, `UPDATE domains SET total_resource_slots = '{"cpu": "6"}' WHERE name = 'default'`)
	// Scaling groups: gpu (private, via the user's keypair), other (not associated), off
	// (associated with the domain but inactive).
	exec(t, env, `
		INSERT INTO scaling_groups (name, is_public) VALUES ('gpu', false), ('other', true);
		INSERT INTO scaling_groups (name, is_active) VALUES ('off', false);
		INSERT INTO sgroups_for_keypairs (scaling_group, access_key) VALUES ('gpu', 'AKIANABBDUSEREXAMPLE');
		INSERT INTO sgroups_for_domains (scaling_group, domain) VALUES ('off', 'default');
		INSERT INTO agents (id, status, scaling_group, schedulable, addr) VALUES
			('a1', 'ALIVE', 'default', true, 'tcp://a1'),
			('a2', 'ALIVE', 'default', true, 'tcp://a2'),
			('a3', 'LOST', 'default', true, 'tcp://a3'),
			('a4', 'ALIVE', 'default', false, 'tcp://a4'),
			('g1', 'ALIVE', 'gpu', true, 'tcp://g1'),
			('o1', 'ALIVE', 'other', true, 'tcp://o1'),
			('f1', 'ALIVE', 'off', true, 'tcp://f1');
		INSERT INTO agent_slots (agent_id, slot, slot_type, capacity, occupied) VALUES
			('a1', 'cpu', 'count', 4, 3), ('a1', 'mem', 'bytes', 8589934592, 2147483648), ('a1', 'cuda.shares', 'count', 1, 0),
			('a2', 'cpu', 'count', 8, 2), ('a2', 'mem', 'bytes', 17179869184, 0),
			('a3', 'cpu', 'count', 64, 0), ('a3', 'mem', 'bytes', 274877906944, 0), ('a3', 'cuda.shares', 'count', 8, 0),
			('a4', 'cpu', 'count', 64, 0), ('a4', 'mem', 'bytes', 274877906944, 0), ('a4', 'cuda.shares', 'count', 8, 0),
			('g1', 'cpu', 'count', 2, 0.5), ('g1', 'mem', 'bytes', 4294967296, 0), ('g1', 'cuda.shares', 'count', 4, 1),
			('o1', 'cpu', 'count', 64, 0), ('o1', 'mem', 'bytes', 274877906944, 0), ('o1', 'cuda.shares', 'count', 8, 0),
			('f1', 'cpu', 'count', 64, 0), ('f1', 'mem', 'bytes', 274877906944, 0), ('f1', 'cuda.shares', 'count', 8, 0);
		INSERT INTO resource_presets (name, resource_slots) VALUES
			('tiny-gpu', '{"cpu": "0.5", "cuda.shares": "2"}'),
			('wide', '{"cpu": "2", "cuda.shares": "1"}')`)
	user, ak := fixture.UserUUID, fixture.UserAccessKey
	for _, k := range []kernel{
		{user, ak, "default", "RUNNING", "", `{"cpu": "1", "mem": "2147483648"}`, ptr("a1")},
		{user, ak, "gpu", "RUNNING", "", `{"cpu": "0.5", "cuda.shares": "1", "foo": "3"}`, ptr("g1")},
		{user, ak, "default", "TERMINATING", "", `{"cpu": "1"}`, ptr("a1")},
		{user, ak, "default", "RUNNING", "SYSTEM", `{"cpu": "1"}`, ptr("a1")},
		{user, ak, "default", "PENDING", "", `{"cpu": "100"}`, nil},
		{user, ak, "default", "TERMINATED", "", `{"cpu": "100"}`, nil},
		{fixture.User2UUID, fixture.User2AccessKey, "default", "RUNNING", "", `{"cpu": "2"}`, ptr("a2")},
	} {
		insertKernel(t, env, k)
	}
}

func TestCheckPresets(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	setupCluster(t, env)

	// The SDK sends no body: project "default", every allowed scaling group.
	out := checkPresets(t, env, "/resource/check-presets", nil)

	require.Equal(t, map[string]string{"cpu": "10", "mem": gib16, "cuda.shares": "Infinity"}, out.KeypairLimits)
	// RUNNING kernels of the keypair; TERMINATING, SYSTEM, PENDING, TERMINATED and unknown
	// slots are left out.
	require.Equal(t, map[string]string{"cpu": "1.5", "mem": "2147483648", "cuda.shares": "1"}, out.KeypairUsing)
	// cpu: keypair 8.5, domain 6 − 3.5 (both users) = 2.5; mem: keypair 14 GiB.
	require.Equal(t, map[string]string{"cpu": "2.5", "mem": "15032385536", "cuda.shares": "Infinity"}, out.KeypairRemaining)

	nan := map[string]string{"cpu": "NaN", "mem": "NaN", "cuda.shares": "NaN"}
	require.Equal(t, nan, out.GroupLimits)
	require.Equal(t, nan, out.GroupUsing)
	require.Equal(t, nan, out.GroupRemaining)

	// default (domain) and gpu (keypair); other is not associated and off is inactive.
	require.Len(t, out.ScalingGroups, 2)
	// Using: the user's kernels occupying agents (TERMINATING and SYSTEM included).
	require.Equal(t, sgroupOut{
		Using: map[string]string{"cpu": "3", "mem": "2147483648", "cuda.shares": "0"},
		// a1 + a2 = cpu 7, mem 22 GiB, cuda.shares 1, capped by keypair_remaining.
		Remaining: map[string]string{"cpu": "2.5", "mem": "15032385536", "cuda.shares": "1"},
	}, out.ScalingGroups["default"])
	require.Equal(t, sgroupOut{
		Using:     map[string]string{"cpu": "0.5", "mem": "0", "cuda.shares": "1"},
		Remaining: map[string]string{"cpu": "1.5", "mem": gib4, "cuda.shares": "3"},
	}, out.ScalingGroups["gpu"])
	require.Equal(t, map[string]string{"cpu": "2.5", "mem": "15032385536", "cuda.shares": "4"}, out.ScalingGroupRemaining)

	// A preset fits when one agent has room and the keypair may still allocate it: wide fits
	// the sum of the agents but no single one; cpu02-medium fits a2 but not the keypair.
	require.Equal(t, map[string]bool{
		"cpu01-small": true, "cpu02-medium": false, "cpu03-large": false,
		"cuda01-small": true, "cuda02-medium": false, "cuda03-large": false,
		"tiny-gpu": true, "wide": false,
	}, out.allocatable())
	require.Equal(t, "cpu01-small", out.Presets[0].Name)
	byName := map[string]presetOut{}
	for _, p := range out.Presets {
		byName[p.Name] = p
	}
	require.Nil(t, byName["cpu01-small"].SharedMemory)
	require.Equal(t, ptr("1073741824"), byName["cpu02-medium"].SharedMemory)
	require.Equal(t, map[string]string{"cpu": "1", "mem": gib4, "cuda.shares": "0.5"}, byName["cuda01-small"].ResourceSlots)

	// One scaling group, from the query string of a bodyless request.
	out = checkPresets(t, env, "/resource/check-presets?scaling_group=gpu", nil)
	require.Len(t, out.ScalingGroups, 1)
	require.Contains(t, out.ScalingGroups, "gpu")
	require.Equal(t, map[string]string{"cpu": "1.5", "mem": gib4, "cuda.shares": "3"}, out.ScalingGroupRemaining)
	require.Equal(t, map[string]bool{
		"cpu01-small": true, "cpu02-medium": false, "cpu03-large": false,
		"cuda01-small": true, "cuda02-medium": false, "cuda03-large": false,
		"tiny-gpu": true, "wide": false,
	}, out.allocatable())
	out = checkPresets(t, env, "/resource/check-presets", map[string]any{"scaling_group": "default", "group": "default"})
	require.Len(t, out.ScalingGroups, 1)
	require.Equal(t, map[string]bool{
		"cpu01-small": true, "cpu02-medium": false, "cpu03-large": false,
		"cuda01-small": true, "cuda02-medium": false, "cuda03-large": false,
		"tiny-gpu": false, "wide": false,
	}, out.allocatable())
	out = checkPresets(t, env, "/resource/check-presets", map[string]any{"scaling_group": nil})
	require.Len(t, out.ScalingGroups, 2)

	// Lifting the domain limit lets cpu02-medium fit on a2.
	exec(t, env, `UPDATE domains SET total_resource_slots = '{}' WHERE name = 'default'`)
	out = checkPresets(t, env, "/resource/check-presets", nil)
	require.Equal(t, map[string]string{"cpu": "8.5", "mem": "15032385536", "cuda.shares": "Infinity"}, out.KeypairRemaining)
	require.True(t, out.allocatable()["cpu02-medium"])
	require.False(t, out.allocatable()["cpu03-large"]) // 16 GiB > 14 GiB left to the keypair

	// The project figures, once visible.
	knowSlots(t, env, "config/api/resources/group_resource_visibility", "true")
	out = checkPresets(t, env, "/resource/check-presets", nil)
	inf := map[string]string{"cpu": "Infinity", "mem": "Infinity", "cuda.shares": "Infinity"}
	require.Equal(t, inf, out.GroupLimits)
	require.Equal(t, map[string]string{"cpu": "3.5", "mem": "2147483648", "cuda.shares": "1"}, out.GroupUsing)
	require.Equal(t, inf, out.GroupRemaining)
}

func TestCheckPresetsErrors(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	exec(t, env, `
		INSERT INTO scaling_groups (name) VALUES ('other');
		INSERT INTO groups (name, domain_name, resource_policy) VALUES ('closed', 'default', 'default')`)

	env.Do(t, http.MethodPost, "/resource/check-presets", nil, nil).RequireProblem(t, 400, "invalid-auth-params")
	p := env.Do(t, http.MethodPost, "/resource/check-presets", map[string]any{"scaling_group": "other"}, &functionstest.User).
		RequireProblem(t, 400, "invalid-api-params")
	require.Equal(t, "Unknown scaling group", p.Msg)
	env.Do(t, http.MethodPost, "/resource/check-presets?scaling_group=nope", nil, &functionstest.User).RequireProblem(t, 400, "invalid-api-params")
	// Unknown project, or one the caller is not a member of.
	p = env.Do(t, http.MethodPost, "/resource/check-presets", map[string]any{"group": "nope"}, &functionstest.User).
		RequireProblem(t, 404, "object-not-found")
	require.Equal(t, "No such project (user group).", p.Title)
	env.Do(t, http.MethodPost, "/resource/check-presets?group=closed", nil, &functionstest.User).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodPost, "/resource/check-presets", map[string]any{"bogus": 1}, &functionstest.User).RequireProblem(t, 400, "invalid-api-params")

	// Another project works; reads keep working while frozen.
	env.Do(t, http.MethodPost, "/resource/check-presets?group=model-store", nil, &functionstest.User).RequireStatus(t, http.StatusOK)
	env.Do(t, http.MethodPut, "/manager/status", map[string]any{"status": "frozen"}, &functionstest.Superadmin).RequireStatus(t, http.StatusNoContent)
	out := checkPresets(t, env, "/resource/check-presets", nil)
	// Nothing runs and the policy is unlimited; no agents, so nothing is allocatable.
	require.Equal(t, map[string]string{"cpu": "Infinity", "mem": "Infinity"}, out.KeypairLimits)
	require.Equal(t, map[string]string{"cpu": "0", "mem": "0"}, out.KeypairUsing)
	require.Equal(t, map[string]string{"cpu": "0", "mem": "0"}, out.ScalingGroupRemaining)
	for _, ok := range out.allocatable() {
		require.False(t, ok)
	}
}
