package adminpolicy_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/fixture"
)

// freeze sets the manager status and waits until the API sees it.
func freeze(t *testing.T, env *functionstest.Env, status string) {
	t.Helper()
	require.NoError(t, env.Etcd.Put(context.Background(), "manager/status", status))
	require.Eventually(t, func() bool { return env.Shared.ManagerStatus() == status }, 5*time.Second, 10*time.Millisecond)
}

type write struct {
	method, path string
	body         any
}

// policyWrites are one call of every write operation of the area, on objects seeded by
// seedPolicyObjects.
func policyWrites() []write {
	return []write{
		{http.MethodPost, kpPath, map[string]any{"name": "frosty"}},
		{http.MethodPatch, kpPath + "/warm", map[string]any{"max_concurrent_sessions": 9}},
		{http.MethodDelete, kpPath + "/warm", nil},
		{http.MethodPost, userPolicyPath, map[string]any{"name": "frosty"}},
		{http.MethodPatch, userPolicyPath + "/warm", map[string]any{"max_vfolder_count": 9}},
		{http.MethodDelete, userPolicyPath + "/warm", nil},
		{http.MethodPost, projectPolicyPath, map[string]any{"name": "frosty"}},
		{http.MethodPatch, projectPolicyPath + "/warm", map[string]any{"max_vfolder_count": 9}},
		{http.MethodDelete, projectPolicyPath + "/warm", nil},
		{http.MethodPost, presetPath, map[string]any{"name": "frosty", "resource_slots": map[string]string{"cpu": "1", "mem": "1g"}}},
		{http.MethodPatch, presetPath + "/warm", map[string]any{"shared_memory": "2g"}},
		{http.MethodDelete, presetPath + "/warm", nil},
		{http.MethodPost, sgPath, map[string]any{"name": "frosty"}},
		{http.MethodPatch, sgPath + "/warm", map[string]any{"description": "x"}},
		{http.MethodPost, sgPath + "/warm/domains", map[string]any{"domain": "default"}},
		{http.MethodDelete, sgPath + "/warm/domains/default", nil},
		{http.MethodPost, sgPath + "/warm/projects", map[string]any{"project_id": defaultProject}},
		{http.MethodDelete, sgPath + "/warm/projects/" + defaultProject, nil},
		{http.MethodPost, sgPath + "/warm/keypairs", map[string]any{"access_key": fixture.UserAccessKey}},
		{http.MethodDelete, sgPath + "/warm/keypairs/" + fixture.SuperadminAccessKey, nil},
		{http.MethodDelete, sgPath + "/warm", nil},
	}
}

// seedPolicyObjects creates the objects policyWrites change, one "warm" of each kind, and
// associates the superadmin's keypair with the warm scaling group.
func seedPolicyObjects(t *testing.T, env *functionstest.Env) {
	t.Helper()
	env.Do(t, http.MethodPost, kpPath, map[string]any{"name": "warm"}, sa).RequireStatus(t, 201)
	env.Do(t, http.MethodPost, userPolicyPath, map[string]any{"name": "warm"}, sa).RequireStatus(t, 201)
	env.Do(t, http.MethodPost, projectPolicyPath, map[string]any{"name": "warm"}, sa).RequireStatus(t, 201)
	env.Do(t, http.MethodPost, presetPath, map[string]any{"name": "warm", "resource_slots": map[string]string{"cpu": "1", "mem": "1g"}}, sa).
		RequireStatus(t, 201)
	env.Do(t, http.MethodPost, sgPath, map[string]any{"name": "warm"}, sa).RequireStatus(t, 201)
	env.Do(t, http.MethodPost, sgPath+"/warm/keypairs", map[string]any{"access_key": fixture.SuperadminAccessKey}, sa).RequireStatus(t, 201)
}

// TestPolicyWritesRefusedWhileFrozen: every write of policies, presets, scaling groups and
// their associations is refused with 503 server-frozen while the manager is frozen (the
// administration service makes the check), nothing changes, reads go on, and after
// unfreezing the same writes work.
func TestPolicyWritesRefusedWhileFrozen(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	seedPolicyObjects(t, env)

	freeze(t, env, "frozen")
	for _, w := range policyWrites() {
		env.Do(t, w.method, w.path, w.body, sa).RequireProblem(t, 503, "server-frozen")
	}
	freeze(t, env, "preparing")
	env.Do(t, http.MethodPost, sgPath, map[string]any{"name": "frosty"}, sa).RequireProblem(t, 503, "service-unavailable")

	// Nothing was written; reads go on.
	env.Do(t, http.MethodGet, sgPath+"/frosty", nil, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodGet, kpPath+"/frosty", nil, sa).RequireProblem(t, 404, "object-not-found")
	var kp struct {
		MaxConcurrentSessions int `json:"max_concurrent_sessions"`
	}
	res := env.Do(t, http.MethodGet, kpPath+"/warm", nil, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &kp)
	require.Zero(t, kp.MaxConcurrentSessions)
	var list struct {
		TotalCount int `json:"total_count"`
	}
	env.Do(t, http.MethodGet, sgPath+"/default/domains", nil, sa).JSON(t, &list)
	require.Equal(t, 1, list.TotalCount)

	freeze(t, env, "running")
	for _, w := range policyWrites() {
		res := env.Do(t, w.method, w.path, w.body, sa)
		require.Less(t, res.Status, 300, "%s %s: %s", w.method, w.path, res.Body)
	}
}

// TestPolicyWritesNeedSuperadmin: users and domain admins are refused every write of the
// area and nothing changes.
func TestPolicyWritesNeedSuperadmin(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	seedPolicyObjects(t, env)
	for _, w := range policyWrites() {
		requireDenied(t, env, w.method, w.path, w.body)
	}
	env.Do(t, http.MethodGet, sgPath+"/frosty", nil, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodGet, presetPath+"/warm", nil, sa).RequireStatus(t, 200)
	var list struct {
		TotalCount int `json:"total_count"`
	}
	env.Do(t, http.MethodGet, sgPath+"/warm/keypairs", nil, sa).JSON(t, &list)
	require.Equal(t, 1, list.TotalCount)
}
