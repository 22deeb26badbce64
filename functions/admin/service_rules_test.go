package admin_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
)

// freeze sets the manager status and waits until the API sees it.
func freeze(t *testing.T, env *functionstest.Env, status string) {
	t.Helper()
	require.NoError(t, env.Etcd.Put(context.Background(), "manager/status", status))
	require.Eventually(t, func() bool { return env.Shared.ManagerStatus() == status }, 5*time.Second, 10*time.Millisecond)
}

// TestAdminWritesRefusedWhileFrozen: every write on domains, projects and their members,
// users and keypairs is refused with 503 server-frozen while the manager is frozen, and
// nothing changes; reads go on; after unfreezing the same writes work.
func TestAdminWritesRefusedWhileFrozen(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	var p struct {
		ID string `json:"id"`
	}
	res := env.Do(t, http.MethodPost, "/admin/projects", map[string]any{"name": "cold", "domain_name": "default"}, sa)
	res.RequireStatus(t, 201)
	res.JSON(t, &p)
	u := createUser(t, env, map[string]any{"email": "cold@example.com", "password": "cold-password"})
	var kp struct {
		AccessKey string `json:"access_key"`
	}
	res = env.Do(t, http.MethodPost, "/admin/keypairs", map[string]any{"user": u.Email}, sa)
	res.RequireStatus(t, 201)
	res.JSON(t, &kp)

	writes := []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/admin/domains", map[string]any{"name": "frosty"}},
		{http.MethodPatch, "/admin/domains/default", map[string]any{"description": "x"}},
		{http.MethodDelete, "/admin/domains/default", nil},
		{http.MethodPost, "/admin/projects", map[string]any{"name": "frosty", "domain_name": "default"}},
		{http.MethodPatch, "/admin/projects/" + p.ID, map[string]any{"description": "x"}},
		{http.MethodDelete, "/admin/projects/" + p.ID, nil},
		{http.MethodPost, "/admin/projects/" + p.ID + "/members", map[string]any{"emails": []string{u.Email}}},
		{http.MethodDelete, "/admin/projects/" + p.ID + "/members", map[string]any{"emails": []string{u.Email}}},
		{http.MethodPost, "/admin/users", map[string]any{"email": "frosty@example.com", "password": "frosty-password"}},
		{http.MethodPatch, "/admin/users/" + u.Email, map[string]any{"full_name": "x"}},
		{http.MethodDelete, "/admin/users/" + u.Email, nil},
		{http.MethodPost, "/admin/keypairs", map[string]any{"user": u.Email}},
		{http.MethodPatch, "/admin/keypairs/" + kp.AccessKey, map[string]any{"is_active": false}},
		{http.MethodPost, "/admin/keypairs/" + kp.AccessKey + "/main", nil},
		{http.MethodDelete, "/admin/keypairs/" + kp.AccessKey, nil},
	}
	freeze(t, env, "frozen")
	for _, w := range writes {
		env.Do(t, w.method, w.path, w.body, sa).RequireProblem(t, 503, "server-frozen")
	}
	// Domain admins are refused the same way within their domain.
	env.Do(t, http.MethodPatch, "/admin/projects/"+p.ID, map[string]any{"description": "x"}, da).RequireProblem(t, 503, "server-frozen")
	// The legacy statuses refuse writes as well.
	freeze(t, env, "preparing")
	env.Do(t, http.MethodPost, "/admin/domains", map[string]any{"name": "frosty"}, sa).RequireProblem(t, 503, "service-unavailable")

	// Nothing was written; reads go on.
	env.Do(t, http.MethodGet, "/admin/domains/frosty", nil, sa).RequireProblem(t, 404, "object-not-found")
	var d struct {
		IsActive    bool    `json:"is_active"`
		Description *string `json:"description"`
	}
	env.Do(t, http.MethodGet, "/admin/domains/default", nil, sa).JSON(t, &d)
	require.True(t, d.IsActive)
	require.Equal(t, "The default domain", *d.Description)
	var k struct {
		IsActive bool `json:"is_active"`
	}
	env.Do(t, http.MethodGet, "/admin/keypairs/"+kp.AccessKey, nil, sa).JSON(t, &k)
	require.True(t, k.IsActive)

	freeze(t, env, "running")
	env.Do(t, http.MethodPatch, "/admin/keypairs/"+kp.AccessKey, map[string]any{"is_active": false}, sa).RequireStatus(t, 200)
	env.Do(t, http.MethodPost, "/admin/domains", map[string]any{"name": "frosty"}, sa).RequireStatus(t, 201)
}

// TestAdminServiceRefusesWrongRole: the service's role rules per object, through REST: a
// domain admin is refused (403 insufficient-privilege) on projects and members of another
// domain, and on every user and keypair write (superadmins only: 401 auth-failed, as every
// superadmin operation), and nothing changes.
func TestAdminServiceRefusesWrongRole(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	project, other := createOtherDomain(t, env)
	pid := project.ID.String()
	for _, w := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/admin/projects", map[string]any{"name": "mine", "domain_name": otherDomain}},
		{http.MethodPatch, "/admin/projects/" + pid, map[string]any{"description": "x"}},
		{http.MethodDelete, "/admin/projects/" + pid + "?purge=true", nil},
		{http.MethodPost, "/admin/projects/" + pid + "/members", map[string]any{"emails": []string{other.Email}}},
		{http.MethodDelete, "/admin/projects/" + pid + "/members", map[string]any{"emails": []string{other.Email}}},
	} {
		env.Do(t, w.method, w.path, w.body, da).RequireProblem(t, 403, "insufficient-privilege")
	}
	for _, w := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/admin/users", map[string]any{"email": "x@other.example", "password": "x-password", "domain_name": otherDomain}},
		{http.MethodPost, "/admin/users", map[string]any{"email": "boss@example.com", "password": "x-password", "role": "admin"}},
		{http.MethodPatch, "/admin/users/" + other.Email, map[string]any{"full_name": "x"}},
		{http.MethodPatch, "/admin/users/admin@lablup.com", map[string]any{"full_name": "x"}},
		{http.MethodDelete, "/admin/users/" + other.Email, nil},
		{http.MethodPost, "/admin/keypairs", map[string]any{"user": other.Email}},
		{http.MethodPatch, "/admin/keypairs/" + other.Keypair.AccessKey, map[string]any{"is_active": false}},
		{http.MethodPatch, "/admin/keypairs/" + sa.AccessKey, map[string]any{"is_active": false}},
		{http.MethodPost, "/admin/keypairs/" + other.Keypair.AccessKey + "/main", nil},
		{http.MethodDelete, "/admin/keypairs/" + other.Keypair.AccessKey, nil},
	} {
		env.Do(t, w.method, w.path, w.body, da).RequireProblem(t, 401, "auth-failed")
	}
	var k struct {
		IsActive bool `json:"is_active"`
	}
	env.Do(t, http.MethodGet, "/admin/keypairs/"+other.Keypair.AccessKey, nil, sa).JSON(t, &k)
	require.True(t, k.IsActive)
	env.Do(t, http.MethodGet, "/admin/projects/"+pid, nil, sa).RequireStatus(t, 200)
}
