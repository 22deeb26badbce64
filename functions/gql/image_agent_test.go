package gql_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/api"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/fixture"
)

// Documents of the 24.03.2 CLI for images, agents and scaling groups: the captured ones
// exactly as sent, and `admin agent info` built from the client's agent field set.
const (
	imageListDoc   = `query($is_operation: Boolean) { images(is_operation: $is_operation) { name registry architecture tag digest size_bytes aliases }}`
	imageListVars  = `{"is_operation": false}`
	customizedDoc  = `query { customized_images { id name registry architecture tag size_bytes labels { key value } } }`
	agentListDoc   = `query($limit:Int!, $offset:Int!, $status: String, $scaling_group: String, $filter: String, $order: String) { agent_list( limit:$limit, offset:$offset, status:$status, scaling_group:$scaling_group, filter:$filter, order:$order) { items { id status architecture scaling_group region first_contact cpu_cur_pct mem_cur_bytes available_slots occupied_slots } total_count } }`
	agentListVars  = `{"status": "ALIVE", "scaling_group": null, "filter": null, "order": null, "limit": 20, "offset": 0}`
	agentInfoDoc   = `query($agent_id: String!) { agent(agent_id: $agent_id) { id status status_changed region architecture scaling_group schedulable available_slots occupied_slots addr first_contact lost_at live_stat version compute_plugins hardware_metadata compute_containers { id cluster_role cluster_idx cluster_hostname session_id image registry status status_info status_data status_changed agent container_id resource_opts occupied_slots preopen_ports live_stat last_stat } local_config cpu_cur_pct mem_cur_bytes } }`
	sgListDoc      = `query($is_active: Boolean) { scaling_groups(is_active: $is_active) { name description is_active is_public created_at driver scheduler use_host_network wsproxy_addr wsproxy_api_token } }`
	sgInfoDoc      = `query($name: String) { scaling_group(name: $name) {name description is_active is_public created_at driver driver_opts scheduler scheduler_opts use_host_network wsproxy_addr wsproxy_api_token} }`
	summaryListDoc = `query($limit:Int!, $offset:Int!, $scaling_group: String, $status: String) { agent_summary_list(limit:$limit, offset:$offset, scaling_group:$scaling_group, status:$status) { items { id status scaling_group schedulable available_slots occupied_slots architecture } total_count } }`
	superadminOnly = "Forbidden operation. (superadmin privilege required)"
)

func sqlExec(t *testing.T, env *functionstest.Env, sql string, args ...any) {
	t.Helper()
	_, err := env.DB.Pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err, sql)
}

// seedAgent inserts an agent of scaling group sg with cpu and mem slots (capacity, occupied).
func seedAgent(t *testing.T, env *functionstest.Env, id, sg, status string, cpu, mem [2]string) {
	t.Helper()
	sqlExec(t, env, `INSERT INTO agents (id, status, scaling_group, addr, version, architecture, first_contact)
		VALUES ($1, $2, $3, 'tcp://10.0.0.5:6001', '24.03.2', 'x86_64', '2024-03-15T12:00:00Z')`, id, status, sg)
	sqlExec(t, env, `INSERT INTO agent_slots (agent_id, slot, slot_type, capacity, occupied) VALUES
		($1, 'cpu', 'count', $2, $3), ($1, 'mem', 'bytes', $4, $5)`, id, cpu[0], cpu[1], mem[0], mem[1])
}

func requireAgentAreaDenied(t *testing.T, r result, field, msg string) {
	t.Helper()
	require.Len(t, r.Errors, 1, r.Raw)
	require.Equal(t, msg, r.Errors[0]["message"])
	require.Equal(t, []any{field}, r.Errors[0]["path"])
	require.JSONEq(t, `null`, string(r.Data[field]))
}

// jsonString decodes a JSONString field: a string holding JSON.
func slotsJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "a JSONString is a string: %#v", v)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &m))
	return m
}

func TestImageDocumentsEveryRole(t *testing.T) {
	env := functionstest.New(t)
	// A registry the domain does not allow, an operational image and a customized image of the user.
	sqlExec(t, env, `INSERT INTO images (name, image, tag, registry, architecture, config_digest, size_bytes, labels) VALUES
		('other.io/x/y:1', 'x/y', '1', 'other.io', 'x86_64', 'sha256:aa', 1, '{}'),
		('cr.backend.ai/ops/z:1', 'ops/z', '1', 'cr.backend.ai', 'x86_64', 'sha256:bb', 1, '{"ai.backend.features": "batch operation"}'),
		('cr.backend.ai/custom/mine:1', 'custom/mine', '1', 'cr.backend.ai', 'x86_64', 'sha256:cc', 1,
		 jsonb_build_object('ai.backend.customized-image.owner', 'user:' || $1::text, 'ai.backend.customized-image.name', 'mine'))`,
		fixture.UserUUID)

	type image struct {
		Name, Registry, Architecture, Tag, Digest string
		SizeBytes                                 int64    `json:"size_bytes"`
		Aliases                                   []string `json:"aliases"`
	}
	names := func(imgs []image) []string {
		var out []string
		for _, i := range imgs {
			out = append(out, i.Registry+"/"+i.Name+":"+i.Tag+"@"+i.Architecture)
		}
		return out
	}
	// The example images, all of cr.backend.ai, an allowed registry of the domain.
	var base []string
	rows, err := env.DB.Pool.Query(context.Background(), `SELECT registry || '/' || image || ':' || tag || '@' || architecture
		FROM images WHERE registry = 'cr.backend.ai' AND NOT labels ? 'ai.backend.customized-image.owner'
		  AND coalesce(labels ->> 'ai.backend.features', '') NOT LIKE '%operation%'`)
	require.NoError(t, err)
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		base = append(base, n)
	}
	require.NoError(t, rows.Err())
	require.Contains(t, base, "cr.backend.ai/stable/python:3.11-ubuntu22.04@x86_64")
	for _, c := range []struct {
		creds *auth.Credentials
		want  []string
	}{
		{sa, append([]string{"other.io/x/y:1@x86_64"}, base...)},
		{da, base},
		{user, append([]string{"cr.backend.ai/custom/mine:1@x86_64"}, base...)},
	} {
		imgs := field[[]image](t, post(t, env, c.creds, imageListDoc, imageListVars), "images")
		require.ElementsMatch(t, c.want, names(imgs), c.creds.AccessKey)
		for _, im := range imgs {
			if im.Name == "stable/python" && im.Architecture == "x86_64" {
				require.Contains(t, im.Aliases, "python")
			}
		}
	}
	// Only an explicit null includes operational images.
	imgs := field[[]image](t, post(t, env, sa, imageListDoc, `{"is_operation": null}`), "images")
	require.Contains(t, names(imgs), "cr.backend.ai/ops/z:1@x86_64")
	imgs = field[[]image](t, post(t, env, sa, `query { images { name } }`, `{}`), "images")
	require.NotContains(t, names(imgs), "cr.backend.ai/ops/z:1@x86_64")

	// image(): by alias or canonical name; out of the allowed registries is not found.
	one := field[map[string]any](t, post(t, env, user, `query { image(reference: "python") { name tag registry architecture digest hash humanized_name labels { key value } resource_limits { key min max } supported_accelerators installed installed_agents } }`, `{}`), "image")
	require.Equal(t, "stable/python", one["name"])
	require.Equal(t, "stable/python", one["humanized_name"])
	require.Equal(t, "x86_64", one["architecture"])
	require.Equal(t, one["digest"], one["hash"])
	require.Contains(t, one["labels"], map[string]any{"key": "ai.backend.runtime-type", "value": "python"})
	require.Equal(t, []any{
		map[string]any{"key": "cpu", "min": "1", "max": nil},
		map[string]any{"key": "mem", "min": "256m", "max": nil},
	}, one["resource_limits"])
	require.Equal(t, []any{}, one["supported_accelerators"])
	require.Equal(t, false, one["installed"])
	one = field[map[string]any](t, post(t, env, sa, `query { image(reference: "cr.backend.ai/stable/python:3.11-ubuntu22.04", architecture: "aarch64") { architecture } }`, `{}`), "image")
	require.Equal(t, "aarch64", one["architecture"])
	requireAgentAreaDenied(t, post(t, env, user, `query { image(reference: "other.io/x/y:1") { name } }`, `{}`), "image", "No such environment image.")
	requireAgentAreaDenied(t, post(t, env, user, `query { image { name } }`, `{}`), "image",
		"Missing or invalid API parameters. (reference/architecture and id can't be omitted at the same time!)")

	// customized_images: the owner's only, with Relay global ids.
	type node struct {
		ID     string              `json:"id"`
		Name   string              `json:"name"`
		Labels []map[string]string `json:"labels"`
	}
	nodes := field[[]node](t, post(t, env, user, customizedDoc, `{}`), "customized_images")
	require.Len(t, nodes, 1)
	require.Equal(t, "custom/mine", nodes[0].Name)
	raw, err := base64.StdEncoding.DecodeString(nodes[0].ID)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(raw), "ImageNode:"), string(raw))
	require.Empty(t, field[[]node](t, post(t, env, sa, customizedDoc, `{}`), "customized_images"))
}

func TestScalingGroupDocumentsSuperadminOnly(t *testing.T) {
	env := functionstest.New(t)
	sqlExec(t, env, `INSERT INTO scaling_groups (name, is_active, scheduler_opts) VALUES ('gpu', false, '{"pending_timeout": 30}')`)
	sqlExec(t, env, `INSERT INTO sgroups_for_keypairs (scaling_group, access_key) VALUES ('gpu', $1)`, user.AccessKey)

	list := field[[]map[string]any](t, post(t, env, sa, sgListDoc, `{"is_active": null}`), "scaling_groups")
	require.Len(t, list, 2)
	require.Equal(t, "default", list[0]["name"])
	require.Equal(t, true, list[0]["is_active"])
	require.Equal(t, "static", list[0]["driver"])
	require.Regexp(t, `\+00:00$`, list[0]["created_at"])
	require.Len(t, field[[]map[string]any](t, post(t, env, sa, sgListDoc, `{"is_active": false}`), "scaling_groups"), 1)

	info := field[map[string]any](t, post(t, env, sa, sgInfoDoc, `{"name": "gpu"}`), "scaling_group")
	opts := slotsJSON(t, info["scheduler_opts"])
	require.EqualValues(t, 30, opts["pending_timeout"])
	require.Equal(t, []any{"interactive", "batch"}, opts["allowed_session_types"])
	require.Equal(t, "dispersed", opts["agent_selection_strategy"])
	require.Equal(t, map[string]any{}, slotsJSON(t, info["driver_opts"]))
	require.JSONEq(t, `null`, string(post(t, env, sa, sgInfoDoc, `{"name": "nosuch"}`).Data["scaling_group"]))

	for _, c := range []struct{ q, field string }{
		{`query { scaling_groups_for_domain(domain: "default") { name } }`, "scaling_groups_for_domain"},
		{`query { scaling_groups_for_keypair(access_key: "` + user.AccessKey + `") { name } }`, "scaling_groups_for_keypair"},
	} {
		got := field[[]map[string]any](t, post(t, env, sa, c.q, `{}`), c.field)
		require.Len(t, got, 1, c.field)
	}
	var gid string
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `SELECT id::text FROM groups WHERE name = 'default'`).Scan(&gid))
	require.Empty(t, field[[]map[string]any](t, post(t, env, sa, `query { scaling_groups_for_user_group(user_group: "`+gid+`") { name } }`, `{}`), "scaling_groups_for_user_group"))
	r := post(t, env, sa, `query { scaling_groups_for_user_group(user_group: "bad") { name } }`, `{}`)
	require.Contains(t, r.Errors[0]["message"], "badly formed hexadecimal UUID string")

	for _, creds := range []*auth.Credentials{da, user} {
		requireAgentAreaDenied(t, post(t, env, creds, sgListDoc, `{"is_active": null}`), "scaling_groups", superadminOnly)
		requireAgentAreaDenied(t, post(t, env, creds, sgInfoDoc, `{"name": "default"}`), "scaling_group", superadminOnly)
	}
}

func TestContainerRegistriesFromSharedConfig(t *testing.T) {
	env := functionstest.New(t)
	ctx := context.Background()
	key := config.ContainerRegistriesKey + "/cr.example.com"
	require.NoError(t, env.Etcd.Put(ctx, key, "https://cr.example.com"))
	require.NoError(t, env.Etcd.Put(ctx, key+"/type", "harbor2"))
	require.NoError(t, env.Etcd.Put(ctx, key+"/project", "stable,community"))
	require.NoError(t, env.Etcd.Put(ctx, key+"/username", "robot"))
	require.NoError(t, env.Etcd.Put(ctx, key+"/password", "s3cret"))
	require.NoError(t, env.Etcd.Put(ctx, key+"/ssl_verify", "false"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := env.Shared.Get(key + "/ssl_verify"); ok {
			break
		}
		require.True(t, time.Now().Before(deadline), "the shared config never saw the registry")
		time.Sleep(20 * time.Millisecond)
	}
	const doc = `query { container_registries { id hostname config { url type project username password ssl_verify } } }`
	regs := field[[]map[string]any](t, post(t, env, sa, doc, `{}`), "container_registries")
	require.Len(t, regs, 1)
	require.Equal(t, base64.StdEncoding.EncodeToString([]byte("ContainerRegistry:cr.example.com")), regs[0]["id"])
	require.Equal(t, map[string]any{
		"url": "https://cr.example.com", "type": "harbor2", "project": []any{"stable", "community"},
		"username": "robot", "password": "s3cret", "ssl_verify": false,
	}, regs[0]["config"])
	one := field[map[string]any](t, post(t, env, sa, `query { container_registry(hostname: "cr.example.com") { hostname } }`, `{}`), "container_registry")
	require.Equal(t, "cr.example.com", one["hostname"])
	requireAgentAreaDenied(t, post(t, env, da, doc, `{}`), "container_registries", superadminOnly)
	requireAgentAreaDenied(t, post(t, env, user, doc, `{}`), "container_registries", superadminOnly)
}

// seedAgentsWithWork makes two ALIVE agents in "default" and one LOST in "other", and puts the
// user's running session on i-a1 with a utilization sample.
func seedAgentsWithWork(t *testing.T, env *functionstest.Env) {
	t.Helper()
	sqlExec(t, env, `INSERT INTO scaling_groups (name) VALUES ('other')`)
	seedAgent(t, env, "i-a1", "default", "ALIVE", [2]string{"4", "1"}, [2]string{"8589934592", "1073741824"})
	seedAgent(t, env, "i-a2", "default", "ALIVE", [2]string{"8", "0"}, [2]string{"17179869184", "0"})
	seedAgent(t, env, "i-b1", "other", "LOST", [2]string{"2", "0"}, [2]string{"4294967296", "0"})
	sqlExec(t, env, `UPDATE agents SET schedulable = false WHERE id = 'i-a2'`)
	sid := seedSession(t, env, user.AccessKey, "busy", `{"cpu": "1", "mem": "1073741824"}`)
	sqlExec(t, env, `UPDATE kernels SET agent = 'i-a1', agent_addr = 'tcp://10.0.0.5:6001' WHERE session_id = $1`, sid)
	sqlExec(t, env, `INSERT INTO kernel_utilization (kernel_id, at, metrics)
		SELECT id, '2024-03-15T12:00:00Z', '{"cpu_util": 50, "mem": 25}' FROM kernels WHERE session_id = $1`, sid)
}

func TestAgentDocuments(t *testing.T) {
	env := functionstest.New(t)
	seedAgentsWithWork(t, env)

	type page struct {
		Items      []map[string]any `json:"items"`
		TotalCount int              `json:"total_count"`
	}
	p := field[page](t, post(t, env, sa, agentListDoc, agentListVars), "agent_list")
	require.Equal(t, 2, p.TotalCount)
	require.Equal(t, "i-a1", p.Items[0]["id"])
	a1 := p.Items[0]
	require.Equal(t, "ALIVE", a1["status"])
	require.Equal(t, "x86_64", a1["architecture"])
	require.Equal(t, "default", a1["scaling_group"])
	require.Equal(t, "local", a1["region"])
	require.Equal(t, "2024-03-15T12:00:00+00:00", a1["first_contact"])
	require.Equal(t, map[string]any{"cpu": "4", "mem": "8589934592"}, slotsJSON(t, a1["available_slots"]))
	require.Equal(t, map[string]any{"cpu": "1", "mem": "1073741824"}, slotsJSON(t, a1["occupied_slots"]))
	require.InDelta(t, 12.5, a1["cpu_cur_pct"], 1e-9) // 50 % of one of four cores
	require.InDelta(t, 268435456, a1["mem_cur_bytes"], 1e-9)
	require.EqualValues(t, 0, p.Items[1]["cpu_cur_pct"])

	// Every status, one scaling group, another page.
	all := strings.Replace(agentListVars, `"status": "ALIVE"`, `"status": "ALIVE,LOST"`, 1)
	require.Equal(t, 3, field[page](t, post(t, env, sa, agentListDoc, all), "agent_list").TotalCount)
	p = field[page](t, post(t, env, sa, agentListDoc, strings.Replace(all, `"scaling_group": null`, `"scaling_group": "other"`, 1)), "agent_list")
	require.Equal(t, 1, p.TotalCount)
	require.Equal(t, "i-b1", p.Items[0]["id"])
	p = field[page](t, post(t, env, sa, agentListDoc, strings.Replace(all, `"limit": 20, "offset": 0`, `"limit": 1, "offset": 2`, 1)), "agent_list")
	require.Equal(t, 3, p.TotalCount)
	require.Equal(t, []any{"i-b1"}, []any{p.Items[0]["id"]}) // ALIVE < LOST, then scaling group, then id
	r := post(t, env, sa, agentListDoc, strings.Replace(agentListVars, `"ALIVE"`, `"ALIVE,GONE"`, 1))
	require.Equal(t, "'GONE'", r.Errors[0]["message"])

	// agent info: every field of the client's set, computed ones in upstream's wire types.
	info := field[map[string]any](t, post(t, env, sa, agentInfoDoc, `{"agent_id": "i-a1"}`), "agent")
	require.Equal(t, "tcp://10.0.0.5:6001", info["addr"])
	require.Equal(t, "24.03.2", info["version"])
	require.Equal(t, true, info["schedulable"])
	require.Nil(t, info["lost_at"])
	require.Equal(t, map[string]any{"agent": map[string]any{"auto_terminate_abusing_kernel": false}}, slotsJSON(t, info["local_config"]))
	hw := slotsJSON(t, info["hardware_metadata"])
	require.Contains(t, hw, "cpu")
	require.Contains(t, hw, "mem")
	live := slotsJSON(t, info["live_stat"])
	node := live["node"].(map[string]any)
	require.Equal(t, map[string]any{"current": "50.00", "capacity": "400.00", "pct": "12.50", "unit_hint": "percent"}, node["cpu_util"])
	require.Equal(t, "268435456", node["mem"].(map[string]any)["current"])
	require.Contains(t, live["devices"], "cpu_util") // the client counts cores there whenever node.cpu_util exists
	containers := info["compute_containers"].([]any)
	require.Len(t, containers, 1)
	c0 := containers[0].(map[string]any)
	require.Equal(t, "i-a1", c0["agent"])
	require.Equal(t, "RUNNING", c0["status"])
	require.Equal(t, map[string]any{"cpu": "1", "mem": "1073741824"}, slotsJSON(t, c0["occupied_slots"]))
	none := field[map[string]any](t, post(t, env, sa, `query { agent(agent_id: "i-a1") { compute_containers(status: "TERMINATED") { id } } }`, `{}`), "agent")
	require.Equal(t, []any{}, none["compute_containers"])
	lost := field[map[string]any](t, post(t, env, sa, `query { agent(agent_id: "i-b1") { live_stat hardware_metadata cpu_cur_pct } }`, `{}`), "agent")
	require.Nil(t, lost["live_stat"])
	require.Nil(t, lost["hardware_metadata"])
	require.JSONEq(t, `null`, string(post(t, env, sa, agentInfoDoc, `{"agent_id": "nosuch"}`).Data["agent"]))
	agents := field[[]map[string]any](t, post(t, env, sa, `query { agents(status: "LOST") { id } }`, `{}`), "agents")
	require.Equal(t, []map[string]any{{"id": "i-b1"}}, agents)

	for _, creds := range []*auth.Credentials{da, user} {
		requireAgentAreaDenied(t, post(t, env, creds, agentListDoc, agentListVars), "agent_list", superadminOnly)
		requireAgentAreaDenied(t, post(t, env, creds, agentInfoDoc, `{"agent_id": "i-a1"}`), "agent", superadminOnly)
		requireAgentAreaDenied(t, post(t, env, creds, `query { agents { id } }`, `{}`), "agents", superadminOnly)
	}
}

func TestAgentListFilterAndOrder(t *testing.T) {
	env := functionstest.New(t)
	seedAgentsWithWork(t, env)
	ids := func(filter, order string) []string {
		t.Helper()
		vars := fmt.Sprintf(`{"status": null, "scaling_group": null, "filter": %s, "order": %s, "limit": 20, "offset": 0}`, filter, order)
		p := field[struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}](t, post(t, env, sa, agentListDoc, vars), "agent_list")
		var out []string
		for _, it := range p.Items {
			out = append(out, it.ID)
		}
		return out
	}
	require.Equal(t, []string{"i-a1", "i-a2", "i-b1"}, ids(`null`, `null`))
	require.Equal(t, []string{"i-b1", "i-a2", "i-a1"}, ids(`null`, `"-id"`))
	require.Equal(t, []string{"i-b1"}, ids(`"status == \"lost\""`, `null`))
	require.Equal(t, []string{"i-a2"}, ids(`"schedulable == false"`, `null`))
	require.Equal(t, []string{"i-a1", "i-a2", "i-b1"}, ids(`"first_contact >= \"2024-03-15\""`, `"+first_contact,id"`))
	require.Equal(t, []string{"i-a1", "i-b1"}, ids(`"id in [\"i-a1\", \"i-b1\"] & version contains \"24.03\""`, `null`))
	require.Equal(t, []string{"i-a1", "i-a2"}, ids(`"scaling_group == \"default\""`, `"-schedulable"`))

	// Wrong literal types, unknown names and bad syntax are GraphQL errors naming them, never
	// database errors.
	for filter, names := range map[string][]string{
		`"id == 5"`:                  {"Query filter parsing error", "id", "5"},
		`"schedulable == \"yes\""`:   {"Query filter parsing error", "schedulable"},
		`"first_contact > 3"`:        {"Query filter parsing error", "first_contact"},
		`"status == \"BUSY\""`:       {"Query filter parsing error", "BUSY"},
		`"available_slots == \"x\""`: {"Query filter parsing error", "available_slots"},
		`"nosuch == 1"`:              {"Query filter parsing error", "nosuch"},
		`"id == "`:                   {"Query filter parsing error"},
	} {
		vars := `{"status": null, "scaling_group": null, "filter": ` + filter + `, "order": null, "limit": 20, "offset": 0}`
		r := post(t, env, sa, agentListDoc, vars)
		require.Len(t, r.Errors, 1, filter)
		for _, n := range names {
			require.Contains(t, r.Errors[0]["message"], n, filter)
		}
		require.NotContains(t, r.Errors[0]["message"], "database", filter)
	}
	r := post(t, env, sa, agentListDoc, `{"status": null, "scaling_group": null, "filter": null, "order": "-nosuch", "limit": 20, "offset": 0}`)
	require.Contains(t, r.Errors[0]["message"], "Query ordering parsing error")
	require.Contains(t, r.Errors[0]["message"], "nosuch")
}

// The lists built before (sessions, keypairs, containers) check literal types the same way:
// without a converter `name == 5` used to reach PostgreSQL and fail there.
func TestExistingListsRejectWrongLiteralTypes(t *testing.T) {
	env := functionstest.New(t)
	seedSession(t, env, user.AccessKey, "s", `{"cpu": "1"}`)
	for _, c := range []struct{ doc, vars, filter, name string }{
		{psListDoc, psListVars, `name == 5`, "name"},
		{psListDoc, psListVars, `cluster_size == \"two\"`, "cluster_size"},
		{psListDoc, psListVars, `access_key in [1, 2]`, "access_key"},
		{keypairListDoc, keypairListVar, `rate_limit == \"x\"`, "rate_limit"},
		{keypairListDoc, keypairListVar, `is_active == 1`, "is_active"},
		{keypairListDoc, keypairListVar, `email == 3.5`, "email"},
	} {
		vars := strings.Replace(c.vars, `"filter": null`, `"filter": "`+c.filter+`"`, 1)
		r := post(t, env, sa, c.doc, vars)
		require.Len(t, r.Errors, 1, "%s: %s", c.filter, r.Raw)
		require.Contains(t, r.Errors[0]["message"], "Query filter parsing error", c.filter)
		require.Contains(t, r.Errors[0]["message"], c.name, c.filter)
	}
}

func TestAgentSummaryScopingAndHideAgents(t *testing.T) {
	env := functionstest.New(t)
	seedAgentsWithWork(t, env)
	// "other" is allowed to no one yet: its agent is invisible, even when named.
	type page struct {
		Items      []map[string]any `json:"items"`
		TotalCount int              `json:"total_count"`
	}
	vars := `{"limit": 20, "offset": 0, "scaling_group": null, "status": null}`
	for _, creds := range []*auth.Credentials{sa, da, user} {
		p := field[page](t, post(t, env, creds, summaryListDoc, vars), "agent_summary_list")
		require.Equal(t, 2, p.TotalCount, creds.AccessKey)
		require.Equal(t, "i-a1", p.Items[0]["id"])
		require.Equal(t, map[string]any{"cpu": "1", "mem": "1073741824"}, slotsJSON(t, p.Items[0]["occupied_slots"]))
	}
	named := strings.Replace(vars, `"scaling_group": null`, `"scaling_group": "other"`, 1)
	require.Equal(t, 0, field[page](t, post(t, env, user, summaryListDoc, named), "agent_summary_list").TotalCount)
	require.JSONEq(t, `null`, string(post(t, env, user, `query { agent_summary(agent_id: "i-b1") { id } }`, `{}`).Data["agent_summary"]))
	// Associating the keypair with "other" opens it to that keypair only.
	sqlExec(t, env, `INSERT INTO sgroups_for_keypairs (scaling_group, access_key) VALUES ('other', $1)`, user.AccessKey)
	require.Equal(t, 1, field[page](t, post(t, env, user, summaryListDoc, named), "agent_summary_list").TotalCount)
	require.Equal(t, 0, field[page](t, post(t, env, da, summaryListDoc, named), "agent_summary_list").TotalCount)
	one := field[map[string]any](t, post(t, env, user, `query { agent_summary(agent_id: "i-b1") { id status } }`, `{}`), "agent_summary")
	require.Equal(t, map[string]any{"id": "i-b1", "status": "LOST"}, one)
	r := post(t, env, user, summaryListDoc, strings.Replace(vars, `"status": null`, `"status": "ALIVE,LOST"`, 1))
	require.Equal(t, "'ALIVE,LOST'", r.Errors[0]["message"])

	// With manager.hide-agents the summaries answer "No such agent." and images hide their agents.
	deps := *env.Deps
	deps.HideAgents = true
	deps.Metrics = nil
	hs := httptest.NewServer(api.New(&deps).Handler())
	t.Cleanup(hs.Close)
	hidden := &functionstest.Env{HTTP: hs, Clock: env.Clock}
	requireAgentAreaDenied(t, post(t, hidden, user, summaryListDoc, vars), "agent_summary_list", "No such agent.")
	requireAgentAreaDenied(t, post(t, hidden, user, `query { agent_summary(agent_id: "i-a1") { id } }`, `{}`), "agent_summary", "No such agent.")
	const imgDoc = `query { image(reference: "python") { installed installed_agents } }`
	im := field[map[string]any](t, post(t, hidden, user, imgDoc, `{}`), "image")
	require.Equal(t, true, im["installed"])
	require.Nil(t, im["installed_agents"])
	im = field[map[string]any](t, post(t, hidden, sa, imgDoc, `{}`), "image")
	require.Equal(t, []any{"i-a1", "i-a2"}, im["installed_agents"])
}

func TestAgentListQueriesDoNotGrowWithRows(t *testing.T) {
	env := functionstest.New(t)
	counted, counter := countingEnv(t, env, nil)
	doc := `query($limit:Int!, $offset:Int!) { agent_list(limit:$limit, offset:$offset) { items { id available_slots occupied_slots live_stat container_count compute_containers { id session_id occupied_slots } } total_count } }`
	vars := `{"limit": 100, "offset": 0}`
	addAgent := func(i int) {
		id := fmt.Sprintf("i-n%02d", i)
		seedAgent(t, env, id, "default", "ALIVE", [2]string{"4", "1"}, [2]string{"8589934592", "0"})
		sid := seedSession(t, env, user.AccessKey, fmt.Sprintf("s%d", i), `{"cpu": "1"}`, `{"cpu": "1"}`)
		sqlExec(t, env, `UPDATE kernels SET agent = $2 WHERE session_id = $1`, sid, id)
	}
	addAgent(0)
	few := queriesOf(t, counted, counter, sa, doc, vars)
	for i := 1; i < 30; i++ {
		addAgent(i)
	}
	many := queriesOf(t, counted, counter, sa, doc, vars)
	t.Logf("queries per agent_list page with containers: %d (1 agent), %d (30 agents)", few, many)
	require.Equal(t, few, many, "queries grew with the rows")
	// The request 1, count and page 2, the agents' containers 1.
	require.Equal(t, int64(4), many)
}
