package admin_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/admin"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/hostperm"
)

func TestDomainCRUD(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)

	// The fixture's domain.
	var d admin.Domain
	res := env.Do(t, http.MethodGet, "/admin/domains/default", nil, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &d)
	require.Equal(t, "default", d.Name)
	require.True(t, d.IsActive)
	require.Equal(t, []string{"cr.backend.ai", "index.docker.io"}, d.AllowedDockerRegistries)
	require.Equal(t, map[string]string{}, d.TotalResourceSlots)

	// Create with normalized slots.
	res = env.Do(t, http.MethodPost, "/admin/domains", map[string]any{
		"name": "research", "description": "Research", "total_resource_slots": map[string]string{"cpu": "8", "mem": "16g"},
		"allowed_vfolder_hosts":     map[string]any{"local:volume1": []string{"create-vfolder", "create-vfolder", "mount-in-session"}},
		"allowed_docker_registries": []string{"cr.backend.ai"},
	}, sa)
	res.RequireStatus(t, 201)
	d = admin.Domain{}
	res.JSON(t, &d)
	require.Equal(t, "research", d.Name)
	require.Equal(t, "Research", *d.Description)
	require.True(t, d.IsActive)
	require.Equal(t, map[string]string{"cpu": "8", "mem": "17179869184"}, d.TotalResourceSlots)
	require.Equal(t, map[string][]hostperm.Permission{"local:volume1": {"create-vfolder", "mount-in-session"}}, d.AllowedVfolderHosts)
	require.Equal(t, []string{"cr.backend.ai"}, d.AllowedDockerRegistries)
	require.Nil(t, d.IntegrationID)

	// Duplicates and bad input.
	env.Do(t, http.MethodPost, "/admin/domains", map[string]any{"name": "research"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/admin/domains", map[string]any{"name": "bad name!"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/admin/domains", map[string]any{}, sa).RequireProblem(t, 400, "invalid-api-params")
	p := env.Do(t, http.MethodPost, "/admin/domains", map[string]any{"name": "x", "total_resource_slots": map[string]string{"cpu": "lots"}}, sa).
		RequireProblem(t, 400, "invalid-api-params")
	require.Contains(t, p.Data, "total_resource_slots.cpu")
	env.Do(t, http.MethodPost, "/admin/domains", map[string]any{"name": "x", "total_resource_slots": map[string]string{"warp.drive": "1"}}, sa).
		RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/admin/domains", map[string]any{"name": "x", "allowed_vfolder_hosts": map[string]any{"h": []string{"fly"}}}, sa).
		RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/admin/domains", map[string]any{"name": "x", "unknown": 1}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodGet, "/admin/domains/x", nil, sa).RequireProblem(t, 404, "object-not-found")

	// List, paging and filter.
	env.Do(t, http.MethodPost, "/admin/domains", map[string]any{"name": "dormant", "is_active": false}, sa).RequireStatus(t, 201)
	var list admin.DomainList
	res = env.Do(t, http.MethodGet, "/admin/domains", nil, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &list)
	require.EqualValues(t, 3, list.TotalCount)
	require.Equal(t, []string{"default", "dormant", "research"}, domainNames(list))
	list = admin.DomainList{}
	env.Do(t, http.MethodGet, "/admin/domains?limit=1&offset=1", nil, sa).JSON(t, &list)
	require.EqualValues(t, 3, list.TotalCount)
	require.Equal(t, []string{"dormant"}, domainNames(list))
	list = admin.DomainList{}
	env.Do(t, http.MethodGet, "/admin/domains?is_active=false", nil, sa).JSON(t, &list)
	require.EqualValues(t, 1, list.TotalCount)
	require.Equal(t, []string{"dormant"}, domainNames(list))
	list = admin.DomainList{}
	env.Do(t, http.MethodGet, "/admin/domains?is_active=true", nil, sa).JSON(t, &list)
	require.Equal(t, []string{"default", "research"}, domainNames(list))
	env.Do(t, http.MethodGet, "/admin/domains?limit=0", nil, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodGet, "/admin/domains?limit=101", nil, sa).RequireProblem(t, 400, "invalid-api-params")

	// Partial update: only the fields given change.
	res = env.Do(t, http.MethodPatch, "/admin/domains/research", map[string]any{"integration_id": "ext-1", "total_resource_slots": map[string]string{"cpu": "Infinity"}}, sa)
	res.RequireStatus(t, 200)
	d = admin.Domain{}
	res.JSON(t, &d)
	require.Equal(t, "ext-1", *d.IntegrationID)
	require.Equal(t, "Research", *d.Description)
	require.Equal(t, map[string]string{"cpu": "Infinity"}, d.TotalResourceSlots)
	require.Equal(t, []string{"cr.backend.ai"}, d.AllowedDockerRegistries)
	env.Do(t, http.MethodPatch, "/admin/domains/nope", map[string]any{"description": "x"}, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodPatch, "/admin/domains/research", map[string]any{"total_resource_slots": map[string]string{"mem": "-1"}}, sa).
		RequireProblem(t, 400, "invalid-api-params")

	// Rename: projects and users follow; a taken name is 400.
	res = env.Do(t, http.MethodPost, "/admin/projects", map[string]any{"name": "lab", "domain_name": "research"}, sa)
	res.RequireStatus(t, 201)
	var proj admin.Project
	res.JSON(t, &proj)
	env.Do(t, http.MethodPatch, "/admin/domains/research", map[string]any{"new_name": "default"}, sa).RequireProblem(t, 400, "invalid-api-params")
	res = env.Do(t, http.MethodPatch, "/admin/domains/research", map[string]any{"new_name": "science"}, sa)
	res.RequireStatus(t, 200)
	d = admin.Domain{}
	res.JSON(t, &d)
	require.Equal(t, "science", d.Name)
	env.Do(t, http.MethodGet, "/admin/domains/research", nil, sa).RequireProblem(t, 404, "object-not-found")
	var moved admin.Project
	env.Do(t, http.MethodGet, "/admin/projects/"+proj.ID.String(), nil, sa).JSON(t, &moved)
	require.Equal(t, "science", moved.DomainName)
	res = env.Do(t, http.MethodGet, "/admin/projects?domain_name=science", nil, sa)
	var projects admin.ProjectList
	res.JSON(t, &projects)
	require.Len(t, projects.Items, 1)
	require.Equal(t, "lab", projects.Items[0].Name)

	// Soft delete deactivates.
	env.Do(t, http.MethodDelete, "/admin/domains/science", nil, sa).RequireStatus(t, 204)
	d = admin.Domain{}
	env.Do(t, http.MethodGet, "/admin/domains/science", nil, sa).JSON(t, &d)
	require.False(t, d.IsActive)
	env.Do(t, http.MethodDelete, "/admin/domains/nope", nil, sa).RequireProblem(t, 404, "object-not-found")

	// Purge refuses while projects or users remain.
	p = env.Do(t, http.MethodDelete, "/admin/domains/science?purge=true", nil, sa).RequireProblem(t, 400, "invalid-api-params")
	require.Contains(t, p.Msg, "There are groups bound to the domain. Remove groups first.")
	p = env.Do(t, http.MethodDelete, "/admin/domains/default?purge=true", nil, sa).RequireProblem(t, 400, "invalid-api-params")
	require.Contains(t, p.Msg, "There are users bound to the domain. Remove users first.")
	env.Do(t, http.MethodDelete, "/admin/projects/"+projects.Items[0].ID.String()+"?purge=true", nil, sa).RequireStatus(t, 204)
	env.Do(t, http.MethodDelete, "/admin/domains/science?purge=true", nil, sa).RequireStatus(t, 204)
	env.Do(t, http.MethodGet, "/admin/domains/science", nil, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodDelete, "/admin/domains/science?purge=true", nil, sa).RequireProblem(t, 404, "object-not-found")
}

func TestDomainsSuperadminOnly(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/admin/domains", nil},
		{http.MethodPost, "/admin/domains", map[string]any{"name": "x"}},
		{http.MethodGet, "/admin/domains/default", nil},
		{http.MethodPatch, "/admin/domains/default", map[string]any{"description": "x"}},
		{http.MethodDelete, "/admin/domains/default", nil},
	} {
		requireUnauthorized(t, env, c.method, c.path, c.body)
		env.Do(t, c.method, c.path, c.body, da).RequireProblem(t, 401, "auth-failed")
	}
	var d admin.Domain
	env.Do(t, http.MethodGet, "/admin/domains/default", nil, sa).JSON(t, &d)
	require.True(t, d.IsActive)
	require.Equal(t, "The default domain", *d.Description)
}

func domainNames(l admin.DomainList) []string {
	out := make([]string, 0, len(l.Items))
	for _, d := range l.Items {
		out = append(out, d.Name)
	}
	return out
}
