package adminpolicy_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/adminpolicy"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/hostperm"
)

const kpPath = "/admin/keypair-resource-policies"

func TestKeypairResourcePolicyCRUD(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)

	// The fixture's policy.
	var list adminpolicy.KeypairResourcePolicyList
	res := env.Do(t, http.MethodGet, kpPath, nil, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &list)
	require.EqualValues(t, 1, list.TotalCount)
	require.Len(t, list.Items, 1)
	def := list.Items[0]
	require.Equal(t, "default", def.Name)
	require.Equal(t, "UNLIMITED", def.DefaultForUnspecified)
	require.Equal(t, map[string]string{}, def.TotalResourceSlots)
	require.EqualValues(t, 5, def.MaxConcurrentSessions)
	require.EqualValues(t, 3600, def.IdleTimeout)
	require.Nil(t, def.MaxPendingSessionCount)
	require.Nil(t, def.MaxPendingSessionResourceSlots)
	require.Len(t, def.AllowedVfolderHosts["local:volume1"], 8)

	// Create with defaults only.
	var p adminpolicy.KeypairResourcePolicy
	res = env.Do(t, http.MethodPost, kpPath, map[string]any{"name": "minimal"}, sa)
	res.RequireStatus(t, 201)
	p = adminpolicy.KeypairResourcePolicy{}
	res.JSON(t, &p)
	require.Equal(t, "minimal", p.Name)
	require.Equal(t, "LIMITED", p.DefaultForUnspecified)
	require.Equal(t, map[string]string{}, p.TotalResourceSlots)
	require.EqualValues(t, 0, p.MaxSessionLifetime)
	require.EqualValues(t, 0, p.MaxConcurrentSessions)
	require.Nil(t, p.MaxPendingSessionCount)
	require.Nil(t, p.MaxPendingSessionResourceSlots)
	require.EqualValues(t, 1, p.MaxConcurrentSftpSessions)
	require.EqualValues(t, 1, p.MaxContainersPerSession)
	require.EqualValues(t, 0, p.IdleTimeout)
	require.Equal(t, map[string][]hostperm.Permission{}, p.AllowedVfolderHosts)
	require.False(t, p.CreatedAt.IsZero())
	// Explicit zeros are kept, not replaced by the defaults.
	res = env.Do(t, http.MethodPost, kpPath, map[string]any{"name": "zeros", "max_concurrent_sftp_sessions": 0}, sa)
	res.RequireStatus(t, 201)
	p = adminpolicy.KeypairResourcePolicy{}
	res.JSON(t, &p)
	require.EqualValues(t, 0, p.MaxConcurrentSftpSessions)

	// Create with everything; slots are normalized, permissions deduplicated.
	full := map[string]any{
		"name":                               "full",
		"default_for_unspecified":            "UNLIMITED",
		"total_resource_slots":               map[string]string{"cpu": "4.0", "mem": "8g"},
		"max_session_lifetime":               3600,
		"max_concurrent_sessions":            3,
		"max_pending_session_count":          2,
		"max_pending_session_resource_slots": map[string]string{"cpu": "inf", "mem": "512m"},
		"max_concurrent_sftp_sessions":       2,
		"max_containers_per_session":         4,
		"idle_timeout":                       -1,
		"allowed_vfolder_hosts":              map[string][]string{"local:volume1": {"mount-in-session", "upload-file", "mount-in-session"}},
	}
	res = env.Do(t, http.MethodPost, kpPath, full, sa)
	res.RequireStatus(t, 201)
	p = adminpolicy.KeypairResourcePolicy{}
	res.JSON(t, &p)
	require.Equal(t, "UNLIMITED", p.DefaultForUnspecified)
	require.Equal(t, map[string]string{"cpu": "4", "mem": "8589934592"}, p.TotalResourceSlots)
	require.EqualValues(t, 3600, p.MaxSessionLifetime)
	require.EqualValues(t, 3, p.MaxConcurrentSessions)
	require.NotNil(t, p.MaxPendingSessionCount)
	require.EqualValues(t, 2, *p.MaxPendingSessionCount)
	require.Equal(t, map[string]string{"cpu": "Infinity", "mem": "536870912"}, p.MaxPendingSessionResourceSlots)
	require.EqualValues(t, 2, p.MaxConcurrentSftpSessions)
	require.EqualValues(t, 4, p.MaxContainersPerSession)
	require.EqualValues(t, -1, p.IdleTimeout)
	require.Equal(t, map[string][]hostperm.Permission{"local:volume1": {"mount-in-session", "upload-file"}}, p.AllowedVfolderHosts)

	// Get returns what was stored.
	var got adminpolicy.KeypairResourcePolicy
	res = env.Do(t, http.MethodGet, kpPath+"/full", nil, sa)
	res.RequireStatus(t, 200)
	got = adminpolicy.KeypairResourcePolicy{}
	res.JSON(t, &got)
	require.Equal(t, p.Name, got.Name)
	require.Equal(t, p.TotalResourceSlots, got.TotalResourceSlots)
	require.Equal(t, p.AllowedVfolderHosts, got.AllowedVfolderHosts)

	// A duplicate name is refused.
	env.Do(t, http.MethodPost, kpPath, map[string]any{"name": "full"}, sa).RequireProblem(t, 400, "invalid-api-params")

	// PATCH changes only what is given.
	res = env.Do(t, http.MethodPatch, kpPath+"/full", map[string]any{"max_concurrent_sessions": 7}, sa)
	res.RequireStatus(t, 200)
	got = adminpolicy.KeypairResourcePolicy{}
	res.JSON(t, &got)
	require.EqualValues(t, 7, got.MaxConcurrentSessions)
	require.EqualValues(t, 2, *got.MaxPendingSessionCount)
	require.Equal(t, p.MaxPendingSessionResourceSlots, got.MaxPendingSessionResourceSlots)
	require.Equal(t, p.TotalResourceSlots, got.TotalResourceSlots)
	require.Equal(t, "UNLIMITED", got.DefaultForUnspecified)
	require.EqualValues(t, -1, got.IdleTimeout)

	// Explicit nulls clear the nullable limits; maps are replaced.
	res = env.Do(t, http.MethodPatch, kpPath+"/full", map[string]any{
		"max_pending_session_count":          nil,
		"max_pending_session_resource_slots": nil,
		"total_resource_slots":               map[string]string{"mem": "1.5g"},
		"default_for_unspecified":            "LIMITED",
		"allowed_vfolder_hosts":              map[string][]string{},
	}, sa)
	res.RequireStatus(t, 200)
	got = adminpolicy.KeypairResourcePolicy{}
	res.JSON(t, &got)
	require.Nil(t, got.MaxPendingSessionCount)
	require.Nil(t, got.MaxPendingSessionResourceSlots)
	require.Equal(t, map[string]string{"mem": "1610612736"}, got.TotalResourceSlots)
	require.Equal(t, "LIMITED", got.DefaultForUnspecified)
	require.Empty(t, got.AllowedVfolderHosts)
	require.EqualValues(t, 7, got.MaxConcurrentSessions)

	// And set them again.
	res = env.Do(t, http.MethodPatch, kpPath+"/full", map[string]any{
		"max_pending_session_count":          0,
		"max_pending_session_resource_slots": map[string]string{"cpu": "1"},
	}, sa)
	res.RequireStatus(t, 200)
	got = adminpolicy.KeypairResourcePolicy{}
	res.JSON(t, &got)
	require.EqualValues(t, 0, *got.MaxPendingSessionCount)
	require.Equal(t, map[string]string{"cpu": "1"}, got.MaxPendingSessionResourceSlots)

	// Delete, then it is gone.
	env.Do(t, http.MethodDelete, kpPath+"/full", nil, sa).RequireStatus(t, 204)
	env.Do(t, http.MethodGet, kpPath+"/full", nil, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodDelete, kpPath+"/full", nil, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodPatch, kpPath+"/full", map[string]any{"idle_timeout": 1}, sa).RequireProblem(t, 404, "object-not-found")

	// A policy keypairs use cannot be deleted.
	p2 := env.Do(t, http.MethodDelete, kpPath+"/default", nil, sa).RequireProblem(t, 400, "invalid-api-params")
	require.Contains(t, p2.Msg, "still in use")
	env.Do(t, http.MethodGet, kpPath+"/default", nil, sa).RequireStatus(t, 200)
}

func TestKeypairResourcePolicyValidation(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	addSlotType(t, env, "cuda.shares", "count")

	for name, body := range map[string]map[string]any{
		"bad enum":            {"name": "x", "default_for_unspecified": "SOMETIMES"},
		"unknown slot":        {"name": "x", "total_resource_slots": map[string]string{"tpu.device": "1"}},
		"bad bytes":           {"name": "x", "total_resource_slots": map[string]string{"mem": "lots"}},
		"fractional bytes":    {"name": "x", "total_resource_slots": map[string]string{"mem": "1.5"}},
		"negative count":      {"name": "x", "total_resource_slots": map[string]string{"cpu": "-1"}},
		"number slot":         {"name": "x", "total_resource_slots": map[string]any{"cpu": 1}},
		"bad pending slot":    {"name": "x", "max_pending_session_resource_slots": map[string]string{"gpu": "1"}},
		"negative lifetime":   {"name": "x", "max_session_lifetime": -1},
		"negative sessions":   {"name": "x", "max_concurrent_sessions": -1},
		"negative pending":    {"name": "x", "max_pending_session_count": -1},
		"negative sftp":       {"name": "x", "max_concurrent_sftp_sessions": -1},
		"zero containers":     {"name": "x", "max_containers_per_session": 0},
		"bad permission":      {"name": "x", "allowed_vfolder_hosts": map[string][]string{"local:volume1": {"fly"}}},
		"unknown field":       {"name": "x", "max_gpus": 1},
		"empty name":          {"name": ""},
		"missing name":        {"idle_timeout": 1},
		"int32 overflow":      {"name": "x", "max_concurrent_sessions": 1 << 40},
		"string for a number": {"name": "x", "idle_timeout": "1h"},
	} {
		res := env.Do(t, http.MethodPost, kpPath, body, sa)
		require.Equal(t, 400, res.Status, "%s: %s", name, res.Body)
		res.RequireProblem(t, 400, "invalid-api-params")
	}
	// The offending slot is named.
	p := env.Do(t, http.MethodPost, kpPath, map[string]any{"name": "x", "total_resource_slots": map[string]string{"tpu.device": "1"}}, sa).
		RequireProblem(t, 400, "invalid-api-params")
	require.Contains(t, p.Msg, "tpu.device")
	require.Contains(t, p.Data, "total_resource_slots.tpu.device")

	// Slots registered in the shared configuration are known.
	var got adminpolicy.KeypairResourcePolicy
	res := env.Do(t, http.MethodPost, kpPath, map[string]any{"name": "gpu", "total_resource_slots": map[string]string{"cuda.shares": "0.25", "cpu": "1_000"}}, sa)
	res.RequireStatus(t, 201)
	got = adminpolicy.KeypairResourcePolicy{}
	res.JSON(t, &got)
	require.Equal(t, map[string]string{"cuda.shares": "0.25", "cpu": "1000"}, got.TotalResourceSlots)

	// PATCH validates as well, and changes nothing on error.
	for name, body := range map[string]map[string]any{
		"bad enum":     {"default_for_unspecified": "NEVER"},
		"unknown slot": {"total_resource_slots": map[string]string{"tpu.device": "1"}},
		"negative":     {"max_concurrent_sessions": -5},
		"zero":         {"max_containers_per_session": 0},
		"permission":   {"allowed_vfolder_hosts": map[string][]string{"h": {"rm-rf"}}},
		"name":         {"name": "renamed"},
	} {
		res := env.Do(t, http.MethodPatch, kpPath+"/gpu", body, sa)
		require.Equal(t, 400, res.Status, "%s: %s", name, res.Body)
	}
	res = env.Do(t, http.MethodGet, kpPath+"/gpu", nil, sa)
	got = adminpolicy.KeypairResourcePolicy{}
	res.JSON(t, &got)
	require.Equal(t, map[string]string{"cuda.shares": "0.25", "cpu": "1000"}, got.TotalResourceSlots)
}

func TestKeypairResourcePolicyAccess(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	requireDenied(t, env, http.MethodGet, kpPath, nil)
	requireDenied(t, env, http.MethodGet, kpPath+"/default", nil)
	requireDenied(t, env, http.MethodPost, kpPath, map[string]any{"name": "x"})
	requireDenied(t, env, http.MethodPatch, kpPath+"/default", map[string]any{"idle_timeout": 1})
	requireDenied(t, env, http.MethodDelete, kpPath+"/default", nil)
	env.Do(t, http.MethodGet, kpPath+"/x", nil, sa).RequireProblem(t, 404, "object-not-found")
}

func TestKeypairResourcePolicyPaging(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	for _, n := range []string{"p-a", "p-b", "p-c", "p-d"} {
		env.Do(t, http.MethodPost, kpPath, map[string]any{"name": n}, sa).RequireStatus(t, 201)
	}
	var list adminpolicy.KeypairResourcePolicyList
	res := env.Do(t, http.MethodGet, kpPath+"?limit=2&offset=1", nil, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &list)
	require.EqualValues(t, 5, list.TotalCount)
	require.Len(t, list.Items, 2)
	require.Equal(t, "p-a", list.Items[0].Name) // "default" sorts first
	require.Equal(t, "p-b", list.Items[1].Name)

	res = env.Do(t, http.MethodGet, kpPath+"?offset=10", nil, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &list)
	require.EqualValues(t, 5, list.TotalCount)
	require.Empty(t, list.Items)
	require.Contains(t, string(res.Body), `"items":[]`)

	for _, q := range []string{"limit=0", "limit=101", "offset=-1", "limit=x"} {
		env.Do(t, http.MethodGet, kpPath+"?"+q, nil, sa).RequireProblem(t, 400, "invalid-api-params")
	}
}
