package adminpolicy_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/adminpolicy"
	"github.com/hangar-run/hangar/functions/functionstest"
)

const (
	userPolicyPath    = "/admin/user-resource-policies"
	projectPolicyPath = "/admin/project-resource-policies"
)

func TestUserResourcePolicyCRUD(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)

	var list adminpolicy.UserResourcePolicyList
	res := env.Do(t, http.MethodGet, userPolicyPath, nil, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &list)
	require.EqualValues(t, 1, list.TotalCount)
	require.Equal(t, "default", list.Items[0].Name)
	require.EqualValues(t, -1, list.Items[0].MaxQuotaScopeSize)
	require.EqualValues(t, 10, list.Items[0].MaxSessionCountPerModelSession)

	var p adminpolicy.UserResourcePolicy
	res = env.Do(t, http.MethodPost, userPolicyPath, map[string]any{"name": "plain"}, sa)
	res.RequireStatus(t, 201)
	res.JSON(t, &p)
	require.Equal(t, adminpolicy.UserResourcePolicy{
		Name: "plain", CreatedAt: p.CreatedAt, MaxVfolderCount: 0, MaxQuotaScopeSize: -1,
		MaxSessionCountPerModelSession: 10, MaxCustomizedImageCount: 3,
	}, p)

	res = env.Do(t, http.MethodPost, userPolicyPath, map[string]any{
		"name": "big", "max_vfolder_count": 20, "max_quota_scope_size": 1 << 40,
		"max_session_count_per_model_session": 0, "max_customized_image_count": 0,
	}, sa)
	res.RequireStatus(t, 201)
	p = adminpolicy.UserResourcePolicy{}
	res.JSON(t, &p)
	require.EqualValues(t, 20, p.MaxVfolderCount)
	require.EqualValues(t, int64(1)<<40, p.MaxQuotaScopeSize)
	require.EqualValues(t, 0, p.MaxSessionCountPerModelSession)
	require.EqualValues(t, 0, p.MaxCustomizedImageCount)

	res = env.Do(t, http.MethodPatch, userPolicyPath+"/big", map[string]any{"max_customized_image_count": 9}, sa)
	res.RequireStatus(t, 200)
	p = adminpolicy.UserResourcePolicy{}
	res.JSON(t, &p)
	require.EqualValues(t, 9, p.MaxCustomizedImageCount)
	require.EqualValues(t, 20, p.MaxVfolderCount)
	require.EqualValues(t, int64(1)<<40, p.MaxQuotaScopeSize)

	res = env.Do(t, http.MethodGet, userPolicyPath+"/big", nil, sa)
	res.RequireStatus(t, 200)
	var got adminpolicy.UserResourcePolicy
	res.JSON(t, &got)
	require.Equal(t, p, got)

	for name, body := range map[string]map[string]any{
		"quota below -1":    {"name": "x", "max_quota_scope_size": -2},
		"negative vfolders": {"name": "x", "max_vfolder_count": -1},
		"negative sessions": {"name": "x", "max_session_count_per_model_session": -1},
		"negative images":   {"name": "x", "max_customized_image_count": -1},
		"unknown field":     {"name": "x", "max_sessions": 1},
		"long name":         {"name": strings.Repeat("a", 257)},
	} {
		res := env.Do(t, http.MethodPost, userPolicyPath, body, sa)
		require.Equal(t, 400, res.Status, "%s: %s", name, res.Body)
	}
	env.Do(t, http.MethodPatch, userPolicyPath+"/big", map[string]any{"max_vfolder_count": -1}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, userPolicyPath, map[string]any{"name": "big"}, sa).RequireProblem(t, 400, "invalid-api-params")

	env.Do(t, http.MethodGet, userPolicyPath+"/nope", nil, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodPatch, userPolicyPath+"/nope", map[string]any{"max_vfolder_count": 1}, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodDelete, userPolicyPath+"/nope", nil, sa).RequireProblem(t, 404, "object-not-found")

	pr := env.Do(t, http.MethodDelete, userPolicyPath+"/default", nil, sa).RequireProblem(t, 400, "invalid-api-params")
	require.Contains(t, pr.Msg, "still in use")
	env.Do(t, http.MethodDelete, userPolicyPath+"/big", nil, sa).RequireStatus(t, 204)
	env.Do(t, http.MethodGet, userPolicyPath+"/big", nil, sa).RequireProblem(t, 404, "object-not-found")

	requireDenied(t, env, http.MethodGet, userPolicyPath, nil)
	requireDenied(t, env, http.MethodPost, userPolicyPath, map[string]any{"name": "x"})
	requireDenied(t, env, http.MethodPatch, userPolicyPath+"/plain", map[string]any{"max_vfolder_count": 1})
	requireDenied(t, env, http.MethodDelete, userPolicyPath+"/plain", nil)
	env.Do(t, http.MethodGet, userPolicyPath+"/plain", nil, sa).RequireStatus(t, 200)
}

func TestProjectResourcePolicyCRUD(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)

	var list adminpolicy.ProjectResourcePolicyList
	res := env.Do(t, http.MethodGet, projectPolicyPath, nil, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &list)
	require.EqualValues(t, 1, list.TotalCount)
	require.Equal(t, "default", list.Items[0].Name)

	var p adminpolicy.ProjectResourcePolicy
	res = env.Do(t, http.MethodPost, projectPolicyPath, map[string]any{"name": "lab"}, sa)
	res.RequireStatus(t, 201)
	res.JSON(t, &p)
	require.EqualValues(t, 0, p.MaxVfolderCount)
	require.EqualValues(t, -1, p.MaxQuotaScopeSize)

	res = env.Do(t, http.MethodPatch, projectPolicyPath+"/lab", map[string]any{"max_vfolder_count": 4}, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &p)
	require.EqualValues(t, 4, p.MaxVfolderCount)
	require.EqualValues(t, -1, p.MaxQuotaScopeSize)
	res = env.Do(t, http.MethodPatch, projectPolicyPath+"/lab", map[string]any{"max_quota_scope_size": 1000}, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &p)
	require.EqualValues(t, 4, p.MaxVfolderCount)
	require.EqualValues(t, 1000, p.MaxQuotaScopeSize)

	env.Do(t, http.MethodPost, projectPolicyPath, map[string]any{"name": "x", "max_quota_scope_size": -5}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, projectPolicyPath, map[string]any{"name": "x", "max_vfolder_count": -1}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, projectPolicyPath, map[string]any{"name": "x", "max_session_count_per_model_session": 1}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodGet, projectPolicyPath+"/nope", nil, sa).RequireProblem(t, 404, "object-not-found")

	// A policy a project uses cannot be deleted; once the project moves away it can.
	pr := env.Do(t, http.MethodDelete, projectPolicyPath+"/default", nil, sa).RequireProblem(t, 400, "invalid-api-params")
	require.Contains(t, pr.Msg, "still in use")
	_, err := env.DB.Pool.Exec(context.Background(), `UPDATE groups SET resource_policy = 'lab'`)
	require.NoError(t, err)
	env.Do(t, http.MethodDelete, projectPolicyPath+"/default", nil, sa).RequireStatus(t, 204)
	env.Do(t, http.MethodDelete, projectPolicyPath+"/default", nil, sa).RequireProblem(t, 404, "object-not-found")

	requireDenied(t, env, http.MethodGet, projectPolicyPath+"/lab", nil)
	requireDenied(t, env, http.MethodDelete, projectPolicyPath+"/lab", nil)
}
