package apifuzz_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/fixture"
)

// taskPayload is a session template create/update payload: a JSON list of one entry.
func taskPayload(name, marker string) string {
	return string(encodeJSON([]any{map[string]any{"template": taskTemplate(name, marker)}}))
}

// taskTemplate is a valid task template document.
func taskTemplate(name, marker string) map[string]any {
	return map[string]any{
		"api_version": "6", "kind": "task_template",
		"metadata": map[string]any{"name": name, "tag": marker},
		"spec": map[string]any{
			"session_type": "interactive",
			"kernel": map[string]any{
				"image": "python", "environ": map[string]any{"FZ": marker},
				"run": map[string]any{"bootstrap": "true", "startup_command": "true"},
			},
			"resources": map[string]any{"cpu": 1, "mem": "256m"},
		},
	}
}

// clusterPayload is a cluster template payload whose main node is session template node.
func clusterPayload(name, node string) string {
	return string(encodeJSON(clusterTemplate(name, node)))
}

func clusterTemplate(name, node string) map[string]any {
	return map[string]any{
		"api_version": "6", "kind": "clusterTemplate", "mode": "single-node",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"environ": map[string]any{"FZ": "cluster"},
			"nodes":   []any{map[string]any{"role": "main", "session_template": node}},
		},
	}
}

// dotfileCreated accepts a create's answer: stored, or already there.
func dotfileCreated(t *testing.T, res *functionstest.Response) {
	t.Helper()
	if res.Status == http.StatusBadRequest && strings.Contains(string(res.Body), "Dotfile already exists.") {
		return
	}
	require.Equal(t, http.StatusOK, res.Status, "dotfile: %s", res.Body)
}

// templateVisible reports whether the template at path still exists (as the superadmin sees it).
func templateVisible(t *testing.T, env *functionstest.Env, path, id string) bool {
	t.Helper()
	if id == "" {
		return false
	}
	res := superDo(t, env, http.MethodGet, path+id+"?format=json", nil)
	return res.Status == http.StatusOK
}

// createSessionTemplate stores a session template for User (in o.TemplateGroup) and returns its id.
func createSessionTemplate(t *testing.T, env *functionstest.Env, o *objects, name string) string {
	t.Helper()
	body := map[string]any{"payload": taskPayload(name, o.Marker)}
	if o.TemplateGroup != "" {
		body["group"] = o.TemplateGroup
	}
	res := env.Do(t, http.MethodPost, "/template/session", body, &functionstest.User)
	require.Equal(t, http.StatusOK, res.Status, "session template: %s", res.Body)
	var out []struct {
		ID string `json:"id"`
	}
	res.JSON(t, &out)
	require.Len(t, out, 1)
	return out[0].ID
}

// ensureExtras (re)creates User's templates, error log and dotfiles (keypair, ProjectID's,
// Domain's) and bootstrap script, when missing.
func ensureExtras(t *testing.T, env *functionstest.Env, o *objects) {
	t.Helper()
	if !templateVisible(t, env, "/template/session/", o.SessionTemplateID) {
		o.SessionTemplateID = createSessionTemplate(t, env, o, "fz-task")
	}
	if !templateVisible(t, env, "/template/session/", o.NodeTemplateID) {
		o.NodeTemplateID = createSessionTemplate(t, env, o, "fz-node")
		o.ClusterTemplateID = "" // its node is gone
	}
	if !templateVisible(t, env, "/template/cluster/", o.ClusterTemplateID) {
		body := map[string]any{"payload": clusterPayload("fz-cluster", o.NodeTemplateID)}
		if o.TemplateGroup != "" {
			body["group"] = o.TemplateGroup
		}
		res := env.Do(t, http.MethodPost, "/template/cluster", body, &functionstest.User)
		require.Equal(t, http.StatusOK, res.Status, "cluster template: %s", res.Body)
		var c struct {
			ID string `json:"id"`
		}
		res.JSON(t, &c)
		o.ClusterTemplateID = c.ID
	}

	cleared := true
	if o.ErrorLogID != "" {
		err := env.DB.Pool.QueryRow(t.Context(), `SELECT is_cleared FROM error_logs WHERE id = $1`, o.ErrorLogID).Scan(&cleared)
		if err != nil && !db.IsNotFound(err) {
			require.NoError(t, err)
		}
	}
	if cleared {
		msg := fmt.Sprintf("%s error log %d", o.Marker, len(o.ErrorLogID))
		res := env.Do(t, http.MethodPost, "/logs/error", map[string]any{"severity": "error", "source": "fuzz", "message": msg,
			"context_lang": "en", "context_env": `{"marker": "` + o.Marker + `"}`, "request_url": "/fz", "request_status": 500,
			"traceback": o.Marker}, &functionstest.User)
		require.Equal(t, http.StatusOK, res.Status, "error log: %s", res.Body)
		require.NoError(t, env.DB.Pool.QueryRow(t.Context(), `SELECT id::text FROM error_logs WHERE "user" = $1 AND message = $2
			AND NOT is_cleared ORDER BY created_at DESC LIMIT 1`, fixture.UserUUID, msg).Scan(&o.ErrorLogID))
	}

	file := map[string]any{"path": o.Dotfile, "permission": "644", "data": "# " + o.Marker + "\n"}
	dotfileCreated(t, env.Do(t, http.MethodPost, "/user-config/dotfiles", file, &functionstest.User))
	shared := with(file, "data", "# "+o.SharedMarker+"\n")
	dotfileCreated(t, superDo(t, env, http.MethodPost, "/group-config/dotfiles", with(shared, "group", o.ProjectID)))
	dotfileCreated(t, superDo(t, env, http.MethodPost, "/domain-config/dotfiles", with(shared, "domain", o.Domain)))
	res := env.Do(t, http.MethodPost, "/user-config/bootstrap-script", map[string]any{"script": "echo " + o.Marker}, &functionstest.User)
	require.Equal(t, http.StatusOK, res.Status, "bootstrap script: %s", res.Body)
}

// with is a copy of m with k set to v.
func with(m map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for mk, mv := range m {
		out[mk] = mv
	}
	out[k] = v
	return out
}

// restoresExtras reports whether a successful op may have removed one of ensureExtras' objects.
func restoresExtras(id string) bool {
	switch id {
	case "delete-session-template", "delete-cluster-template", "update-cluster-template", "update-session-template",
		"clear-error-log", "delete-user-dotfile", "delete-group-dotfile", "delete-domain-dotfile":
		return true
	}
	return false
}

// gqlDoc is a GraphQL document with its variables.
type gqlDoc struct {
	name  string
	query string
	vars  map[string]any
}

// gqlDocs are the baseline GraphQL documents: reads with filters, ordering and aliases, and
// mutations on o's objects (the fuzz objects, or the victim's in the isolation test).
func gqlDocs(o *objects) []gqlDoc {
	return []gqlDoc{
		{"compute_session_list", `query($limit:Int!, $offset:Int!, $status:String, $filter:String, $order:String, $access_key:String) {
  compute_session_list(limit:$limit, offset:$offset, status:$status, filter:$filter, order:$order, access_key:$access_key) {
    total_count items { id session_id name status status_info access_key user_email image created_at occupied_slots } } }`,
			map[string]any{"limit": 10, "offset": 0, "status": "PENDING,RUNNING,TERMINATED", "filter": `name ilike "%running%"`,
				"order": "-created_at", "access_key": nil}},
		{"user_list", `query($limit:Int!, $offset:Int!, $filter:String, $order:String, $group_id:UUID, $status:String) {
  user_list(limit:$limit, offset:$offset, filter:$filter, order:$order, group_id:$group_id, status:$status) {
    total_count items { uuid email username role domain_name status groups { id name } } } }`,
			map[string]any{"limit": 5, "offset": 0, "filter": `role == "USER"`, "order": "email", "group_id": nil, "status": "active"}},
		{"aliases", `query($id:UUID!) { mine: keypair { access_key is_admin resource_policy }
  again: keypair { access_key } me: user { email groups { id name } }
  s: compute_session(id:$id) { name status access_key kernels: containers { id status } } }`,
			map[string]any{"id": o.RunningID}},
		{"compute_session", `query($id:UUID!) { compute_session(id:$id) { id name status access_key user_email domain_name group_id } }`,
			map[string]any{"id": o.RunningID}},
		{"user_from_uuid", `query($u:ID) { user_from_uuid(user_id:$u) { uuid email username full_name main_access_key } }`,
			map[string]any{"u": o.UserUUID}},
		{"keypair", `query($k:String) { keypair(access_key:$k) { access_key secret_key user_id is_admin } }`,
			map[string]any{"k": o.AccessKey}},
		{"modify_keypair", `mutation($k:String!, $p:ModifyKeyPairInput!) { modify_keypair(access_key:$k, props:$p) { ok msg } }`,
			map[string]any{"k": o.AccessKey, "p": map[string]any{"rate_limit": 1000, "is_active": true}}},
		{"modify_user", `mutation($e:String!, $p:ModifyUserInput!) { modify_user(email:$e, props:$p) { ok msg user { email role } } }`,
			map[string]any{"e": o.UserEmail, "p": map[string]any{"description": "fuzzed", "full_name": "Fuzz"}}},
	}
}

// body is the request body of d.
func (d gqlDoc) body() map[string]any {
	vars := map[string]any{}
	for k, v := range d.vars {
		vars[k] = v
	}
	return map[string]any{"query": d.query, "variables": vars, "operation_name": nil}
}

// gqlHostileBodies replace a GraphQL body: documents past the depth, token and complexity
// limits, alias floods, fragment cycles, introspection and unknown fields.
func gqlHostileBodies() []struct{ name, body string } {
	q := func(doc string) string {
		b, _ := json.Marshal(map[string]any{"query": doc})
		return string(b)
	}
	nest := "query { user { " + strings.Repeat("groups { id ", 30) + strings.Repeat("} ", 30) + "} }"
	var aliases strings.Builder
	aliases.WriteString("query { ")
	for i := range 3000 {
		fmt.Fprintf(&aliases, "a%d: keypair { access_key } ", i)
	}
	aliases.WriteString("}")
	return []struct{ name, body string }{
		{"gql-deep-selection", q(nest)},
		{"gql-alias-flood", q(aliases.String())},
		{"gql-huge-page", q(`query { compute_session_list(limit: 2147483647, offset: 0) { items { id kernels: containers { id } } } }`)},
		{"gql-negative-page", q(`query { compute_session_list(limit: -1, offset: -5) { total_count } }`)},
		{"gql-fragment-cycle", q(`query { keypair { ...A } } fragment A on KeyPair { ...B } fragment B on KeyPair { ...A }`)},
		{"gql-introspection", q(`query { __schema { types { name fields { name } } } }`)},
		{"gql-unknown-field", q(`query { nosuch { id } }`)},
		{"gql-syntax-error", q("{ keypair {{{")},
		{"gql-filter-injection", q(`query { compute_session_list(limit: 5, offset: 0, filter: "name == \"x\" ) OR (1 == 1", order: "id; DROP TABLE users") { total_count } }`)},
		{"gql-two-operations", `{"query": "query A { keypair { access_key } } query B { keypair { access_key } }", "operation_name": "C"}`},
		{"gql-variables-not-object", `{"query": "query($l:Int!) { compute_session_list(limit:$l, offset:0) { total_count } }", "variables": [1]}`},
		{"gql-variable-wrong-type", `{"query": "query($l:Int!) { compute_session_list(limit:$l, offset:0) { total_count } }", "variables": {"l": "ten"}}`},
		{"gql-many-errors", q(strings.Repeat("{ nosuch } ", 500))},
		{"gql-mutation-batch", q("mutation { " + strings.Repeat(`m: modify_keypair(access_key: "x", props: {rate_limit: 1}) { ok } `, 200) + "}")},
	}
}
