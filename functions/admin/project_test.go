package admin_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/admin"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/fixture"
	"github.com/hangar-run/hangar/internal/hostperm"
)

func TestProjectCRUD(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)

	// The fixture's projects.
	var list admin.ProjectList
	res := env.Do(t, http.MethodGet, "/admin/projects", nil, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &list)
	require.EqualValues(t, 2, list.TotalCount)
	require.Equal(t, []string{"default", "model-store"}, projectNames(list))
	require.Equal(t, "model-store", list.Items[1].Type)

	// Create with defaults.
	res = env.Do(t, http.MethodPost, "/admin/projects", map[string]any{"name": "team-a"}, sa)
	res.RequireStatus(t, 201)
	var p admin.Project
	res.JSON(t, &p)
	require.Equal(t, "team-a", p.Name)
	require.Equal(t, "default", p.DomainName)
	require.Equal(t, "default", p.ResourcePolicy)
	require.Equal(t, "general", p.Type)
	require.True(t, p.IsActive)
	require.Equal(t, map[string]string{}, p.TotalResourceSlots)
	require.Equal(t, map[string][]hostperm.Permission{}, p.AllowedVfolderHosts)

	// Create with everything.
	res = env.Do(t, http.MethodPost, "/admin/projects", map[string]any{
		"name": "models", "domain_name": "default", "description": "Models", "is_active": false,
		"total_resource_slots": map[string]string{"cpu": "4.5", "mem": "2g"}, "integration_id": "ext",
		"allowed_vfolder_hosts": map[string]any{"local:volume1": []string{"upload-file"}},
		"resource_policy":       "default", "type": "model-store",
	}, sa)
	res.RequireStatus(t, 201)
	var full admin.Project
	res.JSON(t, &full)
	require.Equal(t, "Models", *full.Description)
	require.False(t, full.IsActive)
	require.Equal(t, map[string]string{"cpu": "4.5", "mem": "2147483648"}, full.TotalResourceSlots)
	require.Equal(t, "model-store", full.Type)
	require.Equal(t, "ext", *full.IntegrationID)

	// Duplicates, unknown references and bad input.
	env.Do(t, http.MethodPost, "/admin/projects", map[string]any{"name": "team-a"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/admin/projects", map[string]any{"name": "x", "domain_name": "nope"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/admin/projects", map[string]any{"name": "x", "resource_policy": "nope"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/admin/projects", map[string]any{"name": "x", "type": "secret"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/admin/projects", map[string]any{"name": "a/b"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/admin/projects", map[string]any{"name": "x", "total_resource_slots": map[string]string{"cpu": "1e"}}, sa).
		RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodGet, "/admin/projects/not-a-uuid", nil, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodGet, "/admin/projects/00000000-0000-0000-0000-000000000001", nil, sa).RequireProblem(t, 404, "object-not-found")

	// Get, list and filters.
	var got admin.Project
	env.Do(t, http.MethodGet, "/admin/projects/"+p.ID.String(), nil, sa).JSON(t, &got)
	require.Equal(t, p, got)
	list = admin.ProjectList{}
	env.Do(t, http.MethodGet, "/admin/projects?is_active=false", nil, sa).JSON(t, &list)
	require.Equal(t, []string{"models"}, projectNames(list))
	list = admin.ProjectList{}
	env.Do(t, http.MethodGet, "/admin/projects?domain_name=default&limit=2&offset=1", nil, sa).JSON(t, &list)
	require.EqualValues(t, 4, list.TotalCount)
	require.Equal(t, []string{"model-store", "models"}, projectNames(list))
	list = admin.ProjectList{}
	env.Do(t, http.MethodGet, "/admin/projects?domain_name=nope", nil, sa).JSON(t, &list)
	require.EqualValues(t, 0, list.TotalCount)
	require.Empty(t, list.Items)

	// Partial update.
	res = env.Do(t, http.MethodPatch, "/admin/projects/"+p.ID.String(), map[string]any{"name": "team-b", "description": "B"}, sa)
	res.RequireStatus(t, 200)
	got = admin.Project{}
	res.JSON(t, &got)
	require.Equal(t, "team-b", got.Name)
	require.Equal(t, "B", *got.Description)
	require.True(t, got.IsActive)
	require.Equal(t, "default", got.ResourcePolicy)
	env.Do(t, http.MethodPatch, "/admin/projects/"+p.ID.String(), map[string]any{"name": "models"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPatch, "/admin/projects/"+p.ID.String(), map[string]any{"resource_policy": "nope"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPatch, "/admin/projects/"+p.ID.String(), map[string]any{"domain_name": "other"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPatch, "/admin/projects/00000000-0000-0000-0000-000000000001", map[string]any{"name": "z"}, sa).RequireProblem(t, 404, "object-not-found")

	// Soft delete, then purge.
	env.Do(t, http.MethodDelete, "/admin/projects/"+p.ID.String(), nil, sa).RequireStatus(t, 204)
	got = admin.Project{}
	env.Do(t, http.MethodGet, "/admin/projects/"+p.ID.String(), nil, sa).JSON(t, &got)
	require.False(t, got.IsActive)
	env.Do(t, http.MethodDelete, "/admin/projects/"+p.ID.String()+"?purge=true", nil, sa).RequireStatus(t, 204)
	env.Do(t, http.MethodGet, "/admin/projects/"+p.ID.String(), nil, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodDelete, "/admin/projects/"+p.ID.String(), nil, sa).RequireProblem(t, 404, "object-not-found")
}

func TestProjectMembers(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	_, stranger := createOtherDomain(t, env)
	res := env.Do(t, http.MethodPost, "/admin/projects", map[string]any{"name": "team"}, sa)
	res.RequireStatus(t, 201)
	var p admin.Project
	res.JSON(t, &p)
	members := "/admin/projects/" + p.ID.String() + "/members"

	var list admin.UserList
	env.Do(t, http.MethodGet, members, nil, sa).JSON(t, &list)
	require.EqualValues(t, 0, list.TotalCount)
	require.Empty(t, list.Items)

	// Add by id and by e-mail; adding again changes nothing.
	env.Do(t, http.MethodPost, members, map[string]any{"user_ids": []string{fixture.UserUUID}, "emails": []string{"user2@lablup.com"}}, sa).RequireStatus(t, 204)
	env.Do(t, http.MethodPost, members, map[string]any{"emails": []string{"user@lablup.com"}}, sa).RequireStatus(t, 204)
	list = admin.UserList{}
	env.Do(t, http.MethodGet, members, nil, sa).JSON(t, &list)
	require.EqualValues(t, 2, list.TotalCount)
	require.Equal(t, []string{"user2@lablup.com", "user@lablup.com"}, userEmails(list))
	require.Contains(t, list.Items[1].Groups, admin.UserGroup{ID: p.ID, Name: "team"})
	list = admin.UserList{}
	env.Do(t, http.MethodGet, members+"?limit=1&offset=1", nil, sa).JSON(t, &list)
	require.EqualValues(t, 2, list.TotalCount)
	require.Equal(t, []string{"user@lablup.com"}, userEmails(list))

	// The users' group lists and the user list filter follow.
	var u admin.User
	env.Do(t, http.MethodGet, "/admin/users/user2@lablup.com", nil, sa).JSON(t, &u)
	require.Contains(t, u.Groups, admin.UserGroup{ID: p.ID, Name: "team"})
	list = admin.UserList{}
	env.Do(t, http.MethodGet, "/admin/users?group_id="+p.ID.String(), nil, sa).JSON(t, &list)
	require.Equal(t, []string{"user2@lablup.com", "user@lablup.com"}, userEmails(list))

	// Unknown users are 404 and change nothing; users of another domain are 400; nobody is 400.
	p404 := env.Do(t, http.MethodPost, members, map[string]any{"emails": []string{"monitor@lablup.com", "ghost@lablup.com"}}, sa).
		RequireProblem(t, 404, "object-not-found")
	require.Contains(t, p404.Msg, "ghost@lablup.com")
	env.Do(t, http.MethodPost, members, map[string]any{"user_ids": []string{stranger.UUID.String()}}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, members, map[string]any{"user_ids": []string{"nope"}}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, members, map[string]any{}, sa).RequireProblem(t, 400, "invalid-api-params")
	list = admin.UserList{}
	env.Do(t, http.MethodGet, members, nil, sa).JSON(t, &list)
	require.EqualValues(t, 2, list.TotalCount)

	// Remove with a JSON body on DELETE; non-members are ignored.
	env.Do(t, http.MethodDelete, members, map[string]any{"emails": []string{"user@lablup.com", "monitor@lablup.com"}}, sa).RequireStatus(t, 204)
	list = admin.UserList{}
	env.Do(t, http.MethodGet, members, nil, sa).JSON(t, &list)
	require.Equal(t, []string{"user2@lablup.com"}, userEmails(list))
	env.Do(t, http.MethodDelete, members, map[string]any{"emails": []string{"ghost@lablup.com"}}, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodDelete, members, nil, sa).RequireProblem(t, 400, "invalid-api-params")

	// Unknown project.
	env.Do(t, http.MethodGet, "/admin/projects/00000000-0000-0000-0000-000000000001/members", nil, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodPost, "/admin/projects/00000000-0000-0000-0000-000000000001/members", map[string]any{"emails": []string{"user@lablup.com"}}, sa).
		RequireProblem(t, 404, "object-not-found")
}

func TestProjectPrivileges(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	foreign, _ := createOtherDomain(t, env)
	foreignPath := "/admin/projects/" + foreign.ID.String()

	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/admin/projects", nil},
		{http.MethodPost, "/admin/projects", map[string]any{"name": "x"}},
		{http.MethodGet, "/admin/projects/" + fixture.DefaultProjectID, nil},
		{http.MethodPatch, "/admin/projects/" + fixture.DefaultProjectID, map[string]any{"description": "x"}},
		{http.MethodDelete, "/admin/projects/" + fixture.DefaultProjectID, nil},
		{http.MethodGet, "/admin/projects/" + fixture.DefaultProjectID + "/members", nil},
		{http.MethodPost, "/admin/projects/" + fixture.DefaultProjectID + "/members", map[string]any{"emails": []string{"user@lablup.com"}}},
		{http.MethodDelete, "/admin/projects/" + fixture.DefaultProjectID + "/members", map[string]any{"emails": []string{"user@lablup.com"}}},
	} {
		requireUnauthorized(t, env, c.method, c.path, c.body)
	}

	// A domain admin manages projects of their own domain...
	res := env.Do(t, http.MethodPost, "/admin/projects", map[string]any{"name": "da-team"}, da)
	res.RequireStatus(t, 201)
	var p admin.Project
	res.JSON(t, &p)
	require.Equal(t, "default", p.DomainName)
	env.Do(t, http.MethodPatch, "/admin/projects/"+p.ID.String(), map[string]any{"description": "mine"}, da).RequireStatus(t, 200)
	env.Do(t, http.MethodPost, "/admin/projects/"+p.ID.String()+"/members", map[string]any{"emails": []string{"user@lablup.com"}}, da).RequireStatus(t, 204)
	env.Do(t, http.MethodGet, "/admin/projects/"+p.ID.String()+"/members", nil, da).RequireStatus(t, 200)
	var list admin.ProjectList
	env.Do(t, http.MethodGet, "/admin/projects", nil, da).JSON(t, &list)
	require.EqualValues(t, 3, list.TotalCount)
	for _, it := range list.Items {
		require.Equal(t, "default", it.DomainName)
	}
	env.Do(t, http.MethodGet, "/admin/projects?domain_name=default", nil, da).RequireStatus(t, 200)
	env.Do(t, http.MethodDelete, "/admin/projects/"+p.ID.String()+"?purge=true", nil, da).RequireStatus(t, 204)

	// ...and nothing outside it.
	env.Do(t, http.MethodPost, "/admin/projects", map[string]any{"name": "x", "domain_name": otherDomain}, da).RequireProblem(t, 403, "insufficient-privilege")
	env.Do(t, http.MethodGet, "/admin/projects?domain_name="+otherDomain, nil, da).RequireProblem(t, 403, "insufficient-privilege")
	env.Do(t, http.MethodGet, foreignPath, nil, da).RequireProblem(t, 403, "insufficient-privilege")
	env.Do(t, http.MethodPatch, foreignPath, map[string]any{"description": "x"}, da).RequireProblem(t, 403, "insufficient-privilege")
	env.Do(t, http.MethodDelete, foreignPath, nil, da).RequireProblem(t, 403, "insufficient-privilege")
	env.Do(t, http.MethodGet, foreignPath+"/members", nil, da).RequireProblem(t, 403, "insufficient-privilege")
	env.Do(t, http.MethodPost, foreignPath+"/members", map[string]any{"emails": []string{"someone@other.example"}}, da).RequireProblem(t, 403, "insufficient-privilege")
	env.Do(t, http.MethodDelete, foreignPath+"/members", map[string]any{"emails": []string{"someone@other.example"}}, da).RequireProblem(t, 403, "insufficient-privilege")
	var still admin.Project
	env.Do(t, http.MethodGet, foreignPath, nil, sa).JSON(t, &still)
	require.True(t, still.IsActive)
	require.Nil(t, still.Description)
}

func projectNames(l admin.ProjectList) []string {
	out := make([]string, 0, len(l.Items))
	for _, p := range l.Items {
		out = append(out, p.Name)
	}
	return out
}

func userEmails(l admin.UserList) []string {
	out := make([]string, 0, len(l.Items))
	for _, u := range l.Items {
		out = append(out, u.Email)
	}
	return out
}
