package adminpolicy_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/adminpolicy"
	"github.com/hangar-run/hangar/functions/functionstest"
)

const sgPath = "/admin/scaling-groups"

func defaultSchedulerOpts() adminpolicy.SchedulerOpts {
	return adminpolicy.SchedulerOpts{
		AllowedSessionTypes:    []string{"interactive", "batch"},
		PendingTimeout:         0,
		Config:                 map[string]any{},
		AgentSelectionStrategy: "dispersed",
		Roundrobin:             false,
	}
}

func TestScalingGroupCRUD(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)

	// The fixture's group stores {} as its scheduler options: the defaults are filled in.
	var g adminpolicy.ScalingGroup
	res := env.Do(t, http.MethodGet, sgPath+"/default", nil, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &g)
	require.Equal(t, "default", g.Name)
	require.Equal(t, "fifo", g.Scheduler)
	require.Equal(t, "static", g.Driver)
	require.True(t, g.IsActive)
	require.Equal(t, defaultSchedulerOpts(), g.SchedulerOpts)

	// Create with defaults only.
	res = env.Do(t, http.MethodPost, sgPath, map[string]any{"name": "sg1"}, sa)
	res.RequireStatus(t, 201)
	g = adminpolicy.ScalingGroup{}
	res.JSON(t, &g)
	require.Equal(t, "sg1", g.Name)
	require.Nil(t, g.Description)
	require.True(t, g.IsActive)
	require.True(t, g.IsPublic)
	require.Nil(t, g.WsproxyAddr)
	require.Nil(t, g.WsproxyAPIToken)
	require.Equal(t, "static", g.Driver)
	require.Equal(t, map[string]any{}, g.DriverOpts)
	require.Equal(t, "fifo", g.Scheduler)
	require.False(t, g.UseHostNetwork)
	require.Equal(t, defaultSchedulerOpts(), g.SchedulerOpts)
	require.False(t, g.CreatedAt.IsZero())

	// Create with everything.
	res = env.Do(t, http.MethodPost, sgPath, map[string]any{
		"name": "gpu", "description": "GPU nodes", "is_active": false, "is_public": false,
		"wsproxy_addr": "http://127.0.0.1:5050", "wsproxy_api_token": "tok", "driver": "static",
		"driver_opts": map[string]any{"x": 1}, "scheduler": "drf", "use_host_network": true,
		"scheduler_opts": map[string]any{
			"allowed_session_types": []string{"inference", "batch"}, "pending_timeout": 30.5,
			"config": map[string]any{"num_retries_to_skip": 2}, "agent_selection_strategy": "concentrated",
			"roundrobin": true,
		},
	}, sa)
	res.RequireStatus(t, 201)
	g = adminpolicy.ScalingGroup{}
	res.JSON(t, &g)
	require.Equal(t, "GPU nodes", *g.Description)
	require.False(t, g.IsActive)
	require.False(t, g.IsPublic)
	require.Equal(t, "http://127.0.0.1:5050", *g.WsproxyAddr)
	require.Equal(t, "tok", *g.WsproxyAPIToken)
	require.Equal(t, map[string]any{"x": float64(1)}, g.DriverOpts)
	require.Equal(t, "drf", g.Scheduler)
	require.True(t, g.UseHostNetwork)
	require.Equal(t, adminpolicy.SchedulerOpts{
		AllowedSessionTypes: []string{"inference", "batch"}, PendingTimeout: 30.5,
		Config: map[string]any{"num_retries_to_skip": float64(2)}, AgentSelectionStrategy: "concentrated", Roundrobin: true,
	}, g.SchedulerOpts)

	// The stored options are complete, so other readers need no defaults.
	var stored string
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `SELECT scheduler_opts::text FROM scaling_groups WHERE name = 'sg1'`).Scan(&stored))
	require.JSONEq(t, `{"allowed_session_types":["interactive","batch"],"pending_timeout":0,"config":{},"agent_selection_strategy":"dispersed","roundrobin":false}`, stored)

	// PATCH changes only what is given; null clears nullable fields; scheduler_opts is replaced.
	res = env.Do(t, http.MethodPatch, sgPath+"/gpu", map[string]any{"is_active": true, "description": nil}, sa)
	res.RequireStatus(t, 200)
	g = adminpolicy.ScalingGroup{}
	res.JSON(t, &g)
	require.True(t, g.IsActive)
	require.Nil(t, g.Description)
	require.Equal(t, "tok", *g.WsproxyAPIToken)
	require.Equal(t, "drf", g.Scheduler)
	require.Equal(t, "concentrated", g.SchedulerOpts.AgentSelectionStrategy)

	res = env.Do(t, http.MethodPatch, sgPath+"/gpu", map[string]any{
		"scheduler": "lifo", "wsproxy_api_token": nil, "wsproxy_addr": "http://proxy:5050",
		"scheduler_opts": map[string]any{"pending_timeout": 10}, "driver_opts": map[string]any{},
	}, sa)
	res.RequireStatus(t, 200)
	g = adminpolicy.ScalingGroup{}
	res.JSON(t, &g)
	require.Equal(t, "lifo", g.Scheduler)
	require.Nil(t, g.WsproxyAPIToken)
	require.Equal(t, "http://proxy:5050", *g.WsproxyAddr)
	require.Equal(t, map[string]any{}, g.DriverOpts)
	want := defaultSchedulerOpts()
	want.PendingTimeout = 10
	require.Equal(t, want, g.SchedulerOpts)
	require.True(t, g.UseHostNetwork)

	var got adminpolicy.ScalingGroup
	res = env.Do(t, http.MethodGet, sgPath+"/gpu", nil, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &got)
	require.Equal(t, g, got)

	// List, paged.
	var list adminpolicy.ScalingGroupList
	res = env.Do(t, http.MethodGet, sgPath+"?limit=2", nil, sa)
	res.RequireStatus(t, 200)
	res.JSON(t, &list)
	require.EqualValues(t, 3, list.TotalCount)
	require.Len(t, list.Items, 2)
	require.Equal(t, "default", list.Items[0].Name)
	require.Equal(t, "gpu", list.Items[1].Name)

	env.Do(t, http.MethodPost, sgPath, map[string]any{"name": "gpu"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodGet, sgPath+"/nope", nil, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodPatch, sgPath+"/nope", map[string]any{"is_active": true}, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodDelete, sgPath+"/nope", nil, sa).RequireProblem(t, 404, "object-not-found")

	env.Do(t, http.MethodDelete, sgPath+"/gpu", nil, sa).RequireStatus(t, 204)
	env.Do(t, http.MethodGet, sgPath+"/gpu", nil, sa).RequireProblem(t, 404, "object-not-found")
}

func TestScalingGroupValidation(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	for name, body := range map[string]map[string]any{
		"bad scheduler":        {"name": "x", "scheduler": "random"},
		"bad strategy":         {"name": "x", "scheduler_opts": map[string]any{"agent_selection_strategy": "roundrobin"}},
		"bad session type":     {"name": "x", "scheduler_opts": map[string]any{"allowed_session_types": []string{"system"}}},
		"repeated type":        {"name": "x", "scheduler_opts": map[string]any{"allowed_session_types": []string{"batch", "batch"}}},
		"negative timeout":     {"name": "x", "scheduler_opts": map[string]any{"pending_timeout": -1}},
		"unknown opt":          {"name": "x", "scheduler_opts": map[string]any{"num_retries_to_skip": 1}},
		"opts not an object":   {"name": "x", "scheduler_opts": "fifo"},
		"roundrobin as string": {"name": "x", "scheduler_opts": map[string]any{"roundrobin": "yes"}},
		"long name":            {"name": strings.Repeat("a", 65)},
		"empty name":           {"name": ""},
		"empty driver":         {"name": "x", "driver": ""},
		"unknown field":        {"name": "x", "agents": 3},
		"long token":           {"name": "x", "wsproxy_api_token": strings.Repeat("t", 129)},
	} {
		res := env.Do(t, http.MethodPost, sgPath, body, sa)
		require.Equal(t, 400, res.Status, "%s: %s", name, res.Body)
		res.RequireProblem(t, 400, "invalid-api-params")
	}
	for name, body := range map[string]map[string]any{
		"bad scheduler": {"scheduler": "random"},
		"bad strategy":  {"scheduler_opts": map[string]any{"agent_selection_strategy": "fastest"}},
		"rename":        {"name": "other"},
	} {
		res := env.Do(t, http.MethodPatch, sgPath+"/default", body, sa)
		require.Equal(t, 400, res.Status, "%s: %s", name, res.Body)
	}
	// The legacy strategy and the mof scheduler are valid.
	env.Do(t, http.MethodPost, sgPath, map[string]any{"name": "x", "scheduler": "mof",
		"scheduler_opts": map[string]any{"agent_selection_strategy": "legacy"}}, sa).RequireStatus(t, 201)
}

func TestScalingGroupDeleteRefusedWithAgents(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	ctx := context.Background()
	env.Do(t, http.MethodPost, sgPath, map[string]any{"name": "busy"}, sa).RequireStatus(t, 201)
	env.Do(t, http.MethodPost, sgPath+"/busy/domains", map[string]any{"domain": "default"}, sa).RequireStatus(t, 201)
	_, err := env.DB.Pool.Exec(ctx, `INSERT INTO agents (id, scaling_group, addr, status) VALUES ('i-lost', 'busy', 'tcp://127.0.0.1:6001', 'LOST')`)
	require.NoError(t, err)

	p := env.Do(t, http.MethodDelete, sgPath+"/busy", nil, sa).RequireProblem(t, 400, "invalid-api-params")
	require.Contains(t, p.Msg, "agent")
	env.Do(t, http.MethodGet, sgPath+"/busy", nil, sa).RequireStatus(t, 200)

	// Once the agent is gone the group goes, with its associations.
	_, err = env.DB.Pool.Exec(ctx, `DELETE FROM agents WHERE id = 'i-lost'`)
	require.NoError(t, err)
	env.Do(t, http.MethodDelete, sgPath+"/busy", nil, sa).RequireStatus(t, 204)
	var n int
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM sgroups_for_domains WHERE scaling_group = 'busy'`).Scan(&n))
	require.Zero(t, n)
}

func TestScalingGroupAccessAndFrozen(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	requireDenied(t, env, http.MethodGet, sgPath, nil)
	requireDenied(t, env, http.MethodGet, sgPath+"/default", nil)
	requireDenied(t, env, http.MethodPost, sgPath, map[string]any{"name": "x"})
	requireDenied(t, env, http.MethodPatch, sgPath+"/default", map[string]any{"is_active": false})
	requireDenied(t, env, http.MethodDelete, sgPath+"/default", nil)
	requireDenied(t, env, http.MethodGet, sgPath+"/default/domains", nil)
	requireDenied(t, env, http.MethodPost, sgPath+"/default/keypairs", map[string]any{"access_key": functionstest.User.AccessKey})
	requireDenied(t, env, http.MethodDelete, sgPath+"/default/domains/default", nil)

	// Writes wait while the manager is frozen; reads go on.
	ctx := context.Background()
	require.NoError(t, env.Etcd.Put(ctx, "manager/status", "frozen"))
	require.Eventually(t, func() bool { return env.Shared.ManagerStatus() == "frozen" }, 5*time.Second, 10*time.Millisecond)
	env.Do(t, http.MethodPost, sgPath, map[string]any{"name": "x"}, sa).RequireProblem(t, 503, "server-frozen")
	env.Do(t, http.MethodPost, kpPath, map[string]any{"name": "x"}, sa).RequireProblem(t, 503, "server-frozen")
	env.Do(t, http.MethodGet, sgPath, nil, sa).RequireStatus(t, 200)
	env.Do(t, http.MethodGet, sgPath+"/default", nil, sa).RequireStatus(t, 200)
}
