package adminpolicy_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/adminpolicy"
	"github.com/hangar-run/hangar/functions/functionstest"
)

const defaultProject = "2de2b969-1d04-48a6-af16-0bc8adb3c831"

func TestScalingGroupDomains(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	env.Do(t, http.MethodPost, sgPath, map[string]any{"name": "sg1"}, sa).RequireStatus(t, 201)

	// The fixture associates the default domain with the default group.
	var list adminpolicy.ScalingGroupDomainList
	res := env.Do(t, http.MethodGet, sgPath+"/default/domains", nil, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &list)
	require.Equal(t, adminpolicy.ScalingGroupDomainList{
		Items: []adminpolicy.ScalingGroupDomain{{ScalingGroup: "default", Domain: "default"}}, TotalCount: 1,
	}, list)

	// Adding is idempotent.
	for range 2 {
		var a adminpolicy.ScalingGroupDomain
		res = env.Do(t, http.MethodPost, sgPath+"/sg1/domains", map[string]any{"domain": "default"}, sa)
		res.RequireStatus(t, 201)
		res.JSON(t, &a)
		require.Equal(t, adminpolicy.ScalingGroupDomain{ScalingGroup: "sg1", Domain: "default"}, a)
	}
	list = adminpolicy.ScalingGroupDomainList{}
	res = env.Do(t, http.MethodGet, sgPath+"/sg1/domains", nil, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &list)
	require.EqualValues(t, 1, list.TotalCount)
	require.Len(t, list.Items, 1)

	env.Do(t, http.MethodPost, sgPath+"/sg1/domains", map[string]any{"domain": "nope"}, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodPost, sgPath+"/sg1/domains", map[string]any{}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, sgPath+"/nope/domains", map[string]any{"domain": "default"}, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodGet, sgPath+"/nope/domains", nil, sa).RequireProblem(t, 404, "object-not-found")

	env.Do(t, http.MethodDelete, sgPath+"/sg1/domains/default", nil, sa).RequireStatus(t, 204)
	env.Do(t, http.MethodDelete, sgPath+"/sg1/domains/default", nil, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodDelete, sgPath+"/nope/domains/default", nil, sa).RequireProblem(t, 404, "object-not-found")
	list = adminpolicy.ScalingGroupDomainList{}
	res = env.Do(t, http.MethodGet, sgPath+"/sg1/domains", nil, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &list)
	require.Zero(t, list.TotalCount)
	require.Empty(t, list.Items)
	// The default group keeps its own association.
	res = env.Do(t, http.MethodGet, sgPath+"/default/domains", nil, sa)
	res.JSON(t, &list)
	require.EqualValues(t, 1, list.TotalCount)
}

func TestScalingGroupProjects(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	env.Do(t, http.MethodPost, sgPath, map[string]any{"name": "sg1"}, sa).RequireStatus(t, 201)

	for range 2 {
		var a adminpolicy.ScalingGroupProject
		res := env.Do(t, http.MethodPost, sgPath+"/sg1/projects", map[string]any{"project_id": defaultProject}, sa)
		res.RequireStatus(t, 201)
		res.JSON(t, &a)
		require.Equal(t, "sg1", a.ScalingGroup)
		require.Equal(t, defaultProject, a.ProjectID.String())
		require.Equal(t, "default", a.ProjectName)
		require.Equal(t, "default", a.DomainName)
	}
	var list adminpolicy.ScalingGroupProjectList
	res := env.Do(t, http.MethodGet, sgPath+"/sg1/projects", nil, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &list)
	require.EqualValues(t, 1, list.TotalCount)
	require.Len(t, list.Items, 1)
	require.Equal(t, defaultProject, list.Items[0].ProjectID.String())
	require.Equal(t, "default", list.Items[0].ProjectName)

	env.Do(t, http.MethodPost, sgPath+"/sg1/projects", map[string]any{"project_id": "not-a-uuid"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, sgPath+"/sg1/projects", map[string]any{"project_id": "00000000-0000-0000-0000-000000000001"}, sa).
		RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodPost, sgPath+"/nope/projects", map[string]any{"project_id": defaultProject}, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodGet, sgPath+"/nope/projects", nil, sa).RequireProblem(t, 404, "object-not-found")

	env.Do(t, http.MethodDelete, sgPath+"/sg1/projects/not-a-uuid", nil, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodDelete, sgPath+"/sg1/projects/"+defaultProject, nil, sa).RequireStatus(t, 204)
	env.Do(t, http.MethodDelete, sgPath+"/sg1/projects/"+defaultProject, nil, sa).RequireProblem(t, 404, "object-not-found")
	list = adminpolicy.ScalingGroupProjectList{}
	res = env.Do(t, http.MethodGet, sgPath+"/sg1/projects", nil, sa)
	res.JSON(t, &list)
	require.Zero(t, list.TotalCount)
	require.Empty(t, list.Items)
}

func TestScalingGroupKeypairs(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	env.Do(t, http.MethodPost, sgPath, map[string]any{"name": "sg1"}, sa).RequireStatus(t, 201)

	for _, c := range []string{functionstest.User.AccessKey, functionstest.User2.AccessKey, functionstest.User.AccessKey} {
		res := env.Do(t, http.MethodPost, sgPath+"/sg1/keypairs", map[string]any{"access_key": c}, sa)
		res.RequireStatus(t, 201)
		var a adminpolicy.ScalingGroupKeypair
		res.JSON(t, &a)
		require.Equal(t, c, a.AccessKey)
		require.NotEmpty(t, a.UserID)
	}
	var list adminpolicy.ScalingGroupKeypairList
	res := env.Do(t, http.MethodGet, sgPath+"/sg1/keypairs?limit=1", nil, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &list)
	require.EqualValues(t, 2, list.TotalCount)
	require.Len(t, list.Items, 1)
	list = adminpolicy.ScalingGroupKeypairList{}
	res = env.Do(t, http.MethodGet, sgPath+"/sg1/keypairs", nil, sa)
	res.JSON(t, &list)
	require.Len(t, list.Items, 2)
	var userEmail string
	for _, it := range list.Items {
		if it.AccessKey == functionstest.User.AccessKey {
			userEmail = it.UserID
		}
	}
	require.Equal(t, "user@lablup.com", userEmail)

	env.Do(t, http.MethodPost, sgPath+"/sg1/keypairs", map[string]any{"access_key": "AKIANOSUCHKEY0000000"}, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodPost, sgPath+"/sg1/keypairs", map[string]any{"access_key": "AKIAWAYTOOLONGFORAKEY"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, sgPath+"/nope/keypairs", map[string]any{"access_key": functionstest.User.AccessKey}, sa).RequireProblem(t, 404, "object-not-found")

	env.Do(t, http.MethodDelete, sgPath+"/sg1/keypairs/"+functionstest.User.AccessKey, nil, sa).RequireStatus(t, 204)
	env.Do(t, http.MethodDelete, sgPath+"/sg1/keypairs/"+functionstest.User.AccessKey, nil, sa).RequireProblem(t, 404, "object-not-found")
	list = adminpolicy.ScalingGroupKeypairList{}
	res = env.Do(t, http.MethodGet, sgPath+"/sg1/keypairs", nil, sa)
	res.JSON(t, &list)
	require.Len(t, list.Items, 1)
	require.Equal(t, functionstest.User2.AccessKey, list.Items[0].AccessKey)
}
