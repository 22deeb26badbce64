package gql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/functions/gql"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/fixture"
)

var (
	sa   = &functionstest.Superadmin  //nolint:gochecknoglobals
	da   = &functionstest.DomainAdmin //nolint:gochecknoglobals
	user = &functionstest.User        //nolint:gochecknoglobals
)

// The documents the 24.03.2 CLI sends, exactly as captured.
const (
	psKeypairDoc = `query {  keypair {    user_id access_key secret_key is_active is_admin  }}`
	psListDoc    = `query($limit:Int!, $offset:Int!, $status: String, $access_key: String, $filter: String, $order: String) {
  compute_session_list(limit:$limit, offset:$offset, status:$status, access_key:$access_key, filter:$filter, order:$order) {
    items { name access_key id group_name main_kernel_id image type status status_info status_changed result }
    total_count } }`
	psListVars     = `{"status": "PENDING,SCHEDULED,PULLING,PREPARING,RUNNING,RUNNING_DEGRADED,TERMINATING,ERROR", "access_key": null, "filter": null, "order": null, "limit": 20, "offset": 0}`
	keypairInfoDoc = `query { keypair { user_id user_info { full_name } access_key secret_key is_active is_admin created_at last_used resource_policy rate_limit concurrency_used }}`
	sessionInfoDoc = `query($id: UUID!) { compute_session(id: $id) { name id main_kernel_id image tag created_at terminated_at status status_info status_data occupying_slots idle_checks containers { id cluster_role cluster_idx cluster_hostname session_id image registry status status_info status_data status_changed agent container_id resource_opts occupied_slots preopen_ports live_stat last_stat id } dependencies { name id } }}`
	keypairListDoc = `query($limit:Int!, $offset:Int!, $is_active: Boolean, $domain_name: String, $filter: String, $order: String) { keypair_list( limit:$limit, offset:$offset, is_active:$is_active, domain_name:$domain_name, filter:$filter, order:$order) { items { user_id projects user_info { full_name } access_key secret_key is_active is_admin created_at last_used resource_policy rate_limit concurrency_used } total_count } }`
	keypairListVar = `{"is_active": null, "domain_name": null, "filter": null, "order": null, "limit": 20, "offset": 0}`
	serviceListDoc = `query($limit:Int!, $offset:Int!, $filter: String, $order: String) { endpoint_list( limit:$limit, offset:$offset, filter:$filter, order:$order) { items { endpoint_id name image desired_session_count routings { routing_id session status traffic_ratio } session_owner open_to_public } total_count } }`
	vfolderListDoc = `query($limit:Int!, $offset:Int!, $group_id: UUID, $filter: String, $order: String) { vfolder_list( limit:$limit, offset:$offset, group_id:$group_id, filter:$filter, order:$order) { items { host name status created_at creator group permission ownership_type status } total_count } }`
	pageVars       = `{"filter": null, "order": null, "limit": 20, "offset": 0}`
)

// body is the request body the CLI sends.
func body(query, vars string) string {
	q, _ := json.Marshal(query)
	return `{"query": ` + string(q) + `, "variables": ` + vars + `}`
}

// result is a decoded /admin/gql answer; Raw keeps the body for key checks.
type result struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []map[string]any           `json:"errors"`
	Raw    string                     `json:"-"`
}

func post(t *testing.T, env *functionstest.Env, creds *auth.Credentials, query, vars string) result {
	t.Helper()
	res := env.Do(t, http.MethodPost, "/admin/gql", body(query, vars), creds)
	res.RequireStatus(t, http.StatusOK)
	require.NotContains(t, string(res.Body), `"extensions"`)
	var r result
	res.JSON(t, &r)
	r.Raw = string(res.Body)
	return r
}

func field[T any](t *testing.T, r result, name string) T {
	t.Helper()
	require.Empty(t, r.Errors, "body: %s", r.Raw)
	var v T
	require.NoError(t, json.Unmarshal(r.Data[name], &v), "body: %s", r.Raw)
	return v
}

// seedSession inserts a RUNNING session of the keypair ak with one kernel per slots entry,
// and returns its id.
func seedSession(t testing.TB, env *functionstest.Env, ak, name string, kernelSlots ...string) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	var sid uuid.UUID
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `
		INSERT INTO sessions (name, domain_name, group_id, user_uuid, access_key, status, images, status_history)
		SELECT $2, u.domain_name, (SELECT group_id FROM association_groups_users WHERE user_id = u.uuid LIMIT 1),
		       u.uuid, kp.access_key, 'RUNNING', ARRAY['cr.backend.ai/stable/python:3.11-ubuntu22.04'],
		       '{"PENDING": "2024-03-15T12:00:00+00:00", "SCHEDULED": "2024-03-15T12:00:01.5+00:00"}'
		FROM keypairs kp JOIN users u ON u.uuid = kp."user" WHERE kp.access_key = $1
		RETURNING id`, ak, name).Scan(&sid))
	for i, slots := range kernelSlots {
		role, host := "main", "main1"
		if i > 0 {
			role, host = "sub", fmt.Sprintf("sub%d", i)
		}
		_, err := env.DB.Pool.Exec(ctx, `
			INSERT INTO kernels (session_id, session_name, cluster_role, cluster_idx, cluster_hostname, domain_name,
			                     group_id, user_uuid, access_key, image, registry, status, occupied_slots)
			SELECT id, name, $2, $3, $4, domain_name, group_id, user_uuid, access_key,
			       'cr.backend.ai/stable/python:3.11-ubuntu22.04', 'cr.backend.ai', 'RUNNING', $5::jsonb
			FROM sessions WHERE id = $1`, sid, role, i, host, slots)
		require.NoError(t, err)
	}
	return sid
}

func TestPsKeypairDocumentEveryRole(t *testing.T) {
	env := functionstest.New(t)
	for _, c := range []struct {
		creds *auth.Credentials
		email string
		admin bool
	}{
		{sa, fixture.SuperadminEmail, true},
		{da, "", true},
		{user, fixture.UserEmail, false},
	} {
		kp := field[map[string]any](t, post(t, env, c.creds, psKeypairDoc, `{}`), "keypair")
		require.Equal(t, c.creds.AccessKey, kp["access_key"])
		require.Equal(t, c.creds.SecretKey, kp["secret_key"])
		require.Equal(t, true, kp["is_active"])
		require.Equal(t, c.admin, kp["is_admin"], "%s", c.creds.AccessKey)
		if c.email != "" {
			require.Equal(t, c.email, kp["user_id"])
		}
	}
	// A user may not name another keypair; an admin may name one of its domain.
	r := post(t, env, user, `query { keypair(access_key: "`+sa.AccessKey+`") { access_key } }`, `{}`)
	require.Len(t, r.Errors, 1)
	require.Equal(t, "Forbidden operation.", r.Errors[0]["message"])
	require.Equal(t, []any{"keypair"}, r.Errors[0]["path"])
	require.JSONEq(t, `{"keypair": null}`, mustJSON(r.Data))

	info := field[map[string]any](t, post(t, env, user, keypairInfoDoc, `{}`), "keypair")
	require.EqualValues(t, 0, info["concurrency_used"])
	require.Contains(t, info, "user_info")
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestComputeSessionListScopingAndWireFormat(t *testing.T) {
	env := functionstest.New(t)
	own := seedSession(t, env, user.AccessKey, "mine", `{"cpu": "1", "mem": "1073741824"}`, `{"cpu": "2", "mem": "1073741824", "cuda.shares": "0.5"}`)
	other := seedSession(t, env, sa.AccessKey, "admins", `{"cpu": "1"}`)
	_ = other

	type item struct {
		Name         string  `json:"name"`
		AccessKey    string  `json:"access_key"`
		ID           string  `json:"id"`
		GroupName    string  `json:"group_name"`
		MainKernelID string  `json:"main_kernel_id"`
		Image        string  `json:"image"`
		Type         string  `json:"type"`
		Status       string  `json:"status"`
		StatusInfo   *string `json:"status_info"`
		Changed      string  `json:"status_changed"`
		Result       string  `json:"result"`
	}
	type page struct {
		Items      []item `json:"items"`
		TotalCount int    `json:"total_count"`
	}
	p := field[page](t, post(t, env, user, psListDoc, psListVars), "compute_session_list")
	require.Equal(t, 1, p.TotalCount)
	require.Len(t, p.Items, 1)
	it := p.Items[0]
	require.Equal(t, "mine", it.Name)
	require.Equal(t, own.String(), it.ID)
	require.Equal(t, user.AccessKey, it.AccessKey)
	require.Equal(t, "default", it.GroupName)
	require.Equal(t, "INTERACTIVE", it.Type)
	require.Equal(t, "RUNNING", it.Status)
	require.Equal(t, "UNDEFINED", it.Result)
	require.Equal(t, "cr.backend.ai/stable/python:3.11-ubuntu22.04", it.Image)
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$`, it.Changed)
	require.NotEmpty(t, it.MainKernelID)

	// The superadmin sees both; naming an access key narrows it.
	p = field[page](t, post(t, env, sa, psListDoc, psListVars), "compute_session_list")
	require.Equal(t, 2, p.TotalCount)
	p = field[page](t, post(t, env, sa, psListDoc, strings.Replace(psListVars, `"access_key": null`, `"access_key": "`+user.AccessKey+`"`, 1)), "compute_session_list")
	require.Equal(t, 1, p.TotalCount)
	// The domain admin sees its domain's sessions.
	p = field[page](t, post(t, env, da, psListDoc, psListVars), "compute_session_list")
	require.Equal(t, 2, p.TotalCount)
	// A user naming another key is refused.
	r := post(t, env, user, psListDoc, strings.Replace(psListVars, `"access_key": null`, `"access_key": "`+sa.AccessKey+`"`, 1))
	require.Equal(t, "Forbidden operation.", r.Errors[0]["message"])

	// Filter and order go through the mini-language; bad ones are GraphQL errors naming them.
	p = field[page](t, post(t, env, sa, psListDoc, strings.Replace(psListVars, `"filter": null`, `"filter": "name == \"admins\""`, 1)), "compute_session_list")
	require.Equal(t, 1, p.TotalCount)
	require.Equal(t, "admins", p.Items[0].Name)
	r = post(t, env, sa, psListDoc, strings.Replace(psListVars, `"filter": null`, `"filter": "nosuch == 1"`, 1))
	require.Contains(t, r.Errors[0]["message"], "Query filter parsing error")
	require.Contains(t, r.Errors[0]["message"], "nosuch")
	r = post(t, env, sa, psListDoc, strings.Replace(psListVars, `"order": null`, `"order": "-nosuch"`, 1))
	require.Contains(t, r.Errors[0]["message"], "Query ordering parsing error")
	r = post(t, env, sa, psListDoc, strings.Replace(psListVars, `"status": "PENDING,`, `"status": "FOO,`, 1))
	require.Equal(t, "'FOO'", r.Errors[0]["message"])

	// session info: JSONString fields are strings holding JSON; slots are summed as decimals.
	info := field[map[string]any](t, post(t, env, user, sessionInfoDoc, `{"id": "`+own.String()+`"}`), "compute_session")
	occ, ok := info["occupying_slots"].(string)
	require.True(t, ok, "occupying_slots is a JSON string: %#v", info["occupying_slots"])
	var slots map[string]string
	require.NoError(t, json.Unmarshal([]byte(occ), &slots))
	require.Equal(t, map[string]string{"cpu": "3", "mem": "2147483648", "cuda.shares": "0.5"}, slots)
	containers := info["containers"].([]any)
	require.Len(t, containers, 2)
	c0 := containers[0].(map[string]any)
	require.Equal(t, "main", c0["cluster_role"])
	require.IsType(t, "", c0["occupied_slots"])
	require.Equal(t, []any{}, info["dependencies"])
	// Out of scope is null, not an error.
	r = post(t, env, user, sessionInfoDoc, `{"id": "`+other.String()+`"}`)
	require.Empty(t, r.Errors)
	require.JSONEq(t, `null`, string(r.Data["compute_session"]))
}

func TestEmptyListsOfUnbuiltAreas(t *testing.T) {
	env := functionstest.New(t)
	for _, doc := range []struct{ q, field string }{{serviceListDoc, "endpoint_list"}, {vfolderListDoc, "vfolder_list"}} {
		vars := pageVars
		if doc.field == "vfolder_list" {
			vars = `{"group_id": null, "filter": null, "order": null, "limit": 20, "offset": 0}`
		}
		r := post(t, env, user, doc.q, vars)
		require.JSONEq(t, `{"items": [], "total_count": 0}`, string(field[json.RawMessage](t, r, doc.field)))
	}
	kl := field[struct {
		Items      []map[string]any `json:"items"`
		TotalCount int              `json:"total_count"`
	}](t, post(t, env, user, keypairListDoc, keypairListVar), "keypair_list")
	require.Equal(t, 1, kl.TotalCount)
	require.Equal(t, user.AccessKey, kl.Items[0]["access_key"])
}

func TestEnvelopeErrorsAndLegacyRoute(t *testing.T) {
	env := functionstest.New(t)
	// A syntax error is a 200 with errors and null data (never a 5xx or 422).
	r := post(t, env, user, `query { keypair { access_key `, `{}`)
	require.Nil(t, r.Data)
	require.Contains(t, r.Raw, `"data":null`)
	require.Len(t, r.Errors, 1)
	require.Contains(t, r.Errors[0], "locations")
	// Unknown fields, bad variables, missing variables.
	r = post(t, env, user, `query { keypair { nosuch } }`, `{}`)
	require.NotEmpty(t, r.Errors)
	r = post(t, env, user, sessionInfoDoc, `{"id": "bad"}`)
	require.Contains(t, r.Errors[0]["message"], "badly formed hexadecimal UUID string")
	r = post(t, env, user, sessionInfoDoc, `{}`)
	require.NotEmpty(t, r.Errors)
	// Not a GraphQL body: 400 invalid-api-params naming the key.
	env.Do(t, http.MethodPost, "/admin/gql", `{"query": "{ keypair { access_key } }", "extensions": {}}`, user).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/admin/gql", `{"variables": {}}`, user).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/admin/gql", `{"query": "{ keypair { access_key } }", "variables": [1]}`, user).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/admin/gql", `not json`, user).RequireProblem(t, 400, "invalid-api-params")
	// operationName and operation_name both select the operation.
	two := `query A { keypair { access_key } } query B { keypair { is_admin } }`
	res := env.Do(t, http.MethodPost, "/admin/gql", `{"query": "`+two+`", "operationName": "B"}`, user)
	res.RequireStatus(t, 200)
	require.JSONEq(t, `{"data": {"keypair": {"is_admin": false}}}`, string(res.Body))
	res = env.Do(t, http.MethodPost, "/admin/gql", `{"query": "`+two+`", "operation_name": "A"}`, user)
	require.JSONEq(t, `{"data": {"keypair": {"access_key": "`+user.AccessKey+`"}}}`, string(res.Body))
	// Unsigned: 401.
	env.Do(t, http.MethodPost, "/admin/gql", body(psKeypairDoc, `{}`), nil, "Date: "+env.Clock.Now().UTC().Format(http.TimeFormat)).RequireProblem(t, 401, "auth-failed")

	// Legacy route: the bare data, or 400 graphql-error with the errors as data.
	res = env.Do(t, http.MethodPost, "/admin/graphql", body(`query { keypair { access_key } }`, `{}`), user)
	res.RequireStatus(t, 200)
	require.JSONEq(t, `{"keypair": {"access_key": "`+user.AccessKey+`"}}`, string(res.Body))
	res = env.Do(t, http.MethodPost, "/admin/graphql", body(`query { keypair { nosuch } }`, `{}`), user)
	p := res.RequireProblem(t, 400, "graphql-error")
	require.NotEmpty(t, p.Data)
}

func TestHostileDocumentsAreRefusedQuickly(t *testing.T) {
	env := functionstest.New(t)
	// Deep nesting.
	deep := "query { compute_session_list(limit: 1, offset: 0) { items { " + strings.Repeat("dependencies { ", 20) + "id" + strings.Repeat(" }", 20) + " } total_count } }"
	r := post(t, env, sa, deep, `{}`)
	require.NotEmpty(t, r.Errors)
	require.Nil(t, r.Data)
	// Many aliases of a large page: over the complexity limit before anything runs.
	var sb strings.Builder
	sb.WriteString("query {")
	for i := range 300 {
		fmt.Fprintf(&sb, " a%d: compute_session_list(limit: 1000, offset: 0) { items { id name } }", i)
	}
	sb.WriteString(" }")
	start := time.Now()
	r = post(t, env, sa, sb.String(), `{}`)
	require.NotEmpty(t, r.Errors)
	require.Nil(t, r.Data)
	require.Less(t, time.Since(start), 5*time.Second)
	// Too many tokens.
	r = post(t, env, sa, "query {"+strings.Repeat(" keypair { access_key }", 6000)+" }", `{}`)
	require.NotEmpty(t, r.Errors)
	// Negative and oversized pages.
	r = post(t, env, sa, psListDoc, strings.Replace(psListVars, `"limit": 20`, `"limit": -1`, 1))
	require.Contains(t, r.Errors[0]["message"], "Missing or invalid API parameters")
	// A body over the cap.
	big := body("query { keypair { access_key } }", `{"pad": "`+strings.Repeat("x", gql.MaxBodyBytes)+`"}`)
	env.Do(t, http.MethodPost, "/admin/gql", big, sa).RequireProblem(t, 400, "generic-bad-request")
}

func TestIntrospectionSwitch(t *testing.T) {
	env := functionstest.New(t)
	const doc = `query { __schema { queryType { name } } }`
	r := post(t, env, user, doc, `{}`)
	require.NotEmpty(t, r.Errors)
	// __typename stays usable.
	r = post(t, env, user, `query { keypair { __typename access_key } }`, `{}`)
	require.Empty(t, r.Errors, r.Raw)

	require.NoError(t, env.Etcd.Put(context.Background(), gql.IntrospectionKey, "true"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if v, _ := env.Shared.Get(gql.IntrospectionKey); v == "true" {
			break
		}
		require.True(t, time.Now().Before(deadline), "the shared config never saw the switch")
		time.Sleep(20 * time.Millisecond)
	}
	r = post(t, env, user, doc, `{}`)
	require.Empty(t, r.Errors, r.Raw)
	require.JSONEq(t, `{"queryType": {"name": "Queries"}}`, string(r.Data["__schema"]))
}

// queryCounter counts the statements a pool runs.
type queryCounter struct{ n atomic.Int64 }

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func TestSessionListQueriesDoNotGrowWithRows(t *testing.T) {
	env := functionstest.New(t)
	counted, counter := countingEnv(t, env, nil)
	doc := `query($limit:Int!, $offset:Int!) { compute_session_list(limit:$limit, offset:$offset) { items { name group_name user_email main_kernel_id occupying_slots containers { id occupied_slots } dependencies { id } } total_count } }`
	vars := `{"limit": 100, "offset": 0}`
	seedSession(t, env, user.AccessKey, "s0", `{"cpu": "1"}`)
	few := queriesOf(t, counted, counter, sa, doc, vars)
	for i := 1; i < 40; i++ {
		seedSession(t, env, user.AccessKey, fmt.Sprintf("s%d", i), `{"cpu": "1"}`, `{"cpu": "1"}`)
	}
	many := queriesOf(t, counted, counter, sa, doc, vars)
	t.Logf("queries per compute_session_list page: %d (1 session), %d (40 sessions)", few, many)
	require.Equal(t, few, many, "queries grew with the rows")
	// The request 1, count and page 2, kernels, projects, owners and dependencies 4.
	require.Equal(t, int64(7), many)
}
