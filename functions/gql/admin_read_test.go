package gql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/fixture"
)

var admMonitor = &auth.Credentials{AccessKey: fixture.MonitorAccessKey, SecretKey: fixture.MonitorSecretKey} //nolint:gochecknoglobals

// The admin documents the 24.03.2 CLI sends, exactly as captured.
const (
	domainListDoc   = `query { domains {name description is_active created_at total_resource_slots allowed_vfolder_hosts allowed_docker_registries integration_id} }`
	kpPolicyListDoc = `query { keypair_resource_policies { name created_at total_resource_slots max_concurrent_sessions idle_timeout max_containers_per_session allowed_vfolder_hosts }}`
	userInfoDoc     = `query { user {uuid username role email full_name need_password_change status status_info created_at domain_name groups { id name } allowed_client_ip sudo_session_enabled main_access_key} }`
	groupListDoc    = `query($domain_name: String) { groups(domain_name: $domain_name) {id name is_active created_at integration_id} }`
	groupListVars   = `{"domain_name": null}`
	userListDoc     = `query($limit:Int!, $offset:Int!, $status: String, $group_id: UUID, $filter: String, $order: String) { user_list( limit:$limit, offset:$offset, status:$status, group_id:$group_id, filter:$filter, order:$order) { items { uuid username role email full_name need_password_change status status_info created_at domain_name groups { id name } allowed_client_ip sudo_session_enabled main_access_key } total_count } }`
	userListVars    = `{"status": null, "group_id": null, "filter": null, "order": null, "limit": 20, "offset": 0}`
)

const admDateTimeRe = `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$`

// admSeedOtherDomain adds a domain "other" with a project and a user in it.
func admSeedOtherDomain(t *testing.T, env *functionstest.Env) (userID, groupID uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	_, err := env.DB.Pool.Exec(ctx, `INSERT INTO domains (name, description) VALUES ('other', 'Another domain')`)
	require.NoError(t, err)
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `INSERT INTO groups (name, domain_name, resource_policy) VALUES ('proj', 'other', 'default') RETURNING id`).Scan(&groupID))
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `INSERT INTO users (email, username, domain_name, resource_policy, allowed_client_ip)
		VALUES ('other@example.com', 'other', 'other', 'default', ARRAY['10.0.0.0/24'::cidr]) RETURNING uuid`).Scan(&userID))
	_, err = env.DB.Pool.Exec(ctx, `INSERT INTO association_groups_users (user_id, group_id) VALUES ($1, $2)`, userID, groupID)
	require.NoError(t, err)
	return userID, groupID
}

func admRequireError(t *testing.T, r result, field, message string) {
	t.Helper()
	require.Len(t, r.Errors, 1, "body: %s", r.Raw)
	require.Equal(t, message, r.Errors[0]["message"], "body: %s", r.Raw)
	require.Equal(t, []any{field}, r.Errors[0]["path"])
	require.JSONEq(t, `null`, string(r.Data[field]))
}

// jsonString decodes a JSONString field: a string whose content is JSON.
func admJSONString(t *testing.T, v any, into any) {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "a JSONString is a string: %#v", v)
	require.NoError(t, json.Unmarshal([]byte(s), into))
}

func TestCapturedDomainListDocument(t *testing.T) {
	env := functionstest.New(t)
	admSeedOtherDomain(t, env)
	ds := field[[]map[string]any](t, post(t, env, sa, domainListDoc, `{}`), "domains")
	require.Len(t, ds, 2)
	byName := map[string]map[string]any{}
	for _, d := range ds {
		byName[d["name"].(string)] = d
	}
	d := byName["default"]
	require.Equal(t, "The default domain", d["description"])
	require.Equal(t, true, d["is_active"])
	require.Regexp(t, admDateTimeRe, d["created_at"])
	var slots map[string]string
	admJSONString(t, d["total_resource_slots"], &slots)
	require.Empty(t, slots)
	var hosts map[string][]string
	admJSONString(t, d["allowed_vfolder_hosts"], &hosts)
	require.Equal(t, []any{"cr.backend.ai", "index.docker.io"}, d["allowed_docker_registries"])
	require.Contains(t, d, "integration_id")
	require.Nil(t, d["integration_id"])
	require.Equal(t, "Another domain", byName["other"]["description"])

	for _, c := range []*auth.Credentials{da, user, admMonitor} {
		admRequireError(t, post(t, env, c, domainListDoc, `{}`), "domains", "Forbidden operation. (superadmin privilege required)")
	}
	// domain: the caller's own by default; another domain only for a superadmin.
	const one = `query($name: String) { domain(name: $name) { name scaling_groups } }`
	for _, c := range []*auth.Credentials{sa, da, user} {
		got := field[map[string]any](t, post(t, env, c, one, `{"name": null}`), "domain")
		require.Equal(t, "default", got["name"])
		require.Equal(t, []any{"default"}, got["scaling_groups"])
	}
	got := field[map[string]any](t, post(t, env, sa, one, `{"name": "other"}`), "domain")
	require.Equal(t, []any{}, got["scaling_groups"])
	admRequireError(t, post(t, env, da, one, `{"name": "other"}`), "domain", "No such domain.")
	admRequireError(t, post(t, env, user, one, `{"name": "other"}`), "domain", "No such domain.")
	r := post(t, env, sa, one, `{"name": "nosuch"}`)
	require.Empty(t, r.Errors)
	require.JSONEq(t, `null`, string(r.Data["domain"]))
}

func TestCapturedKeypairResourcePolicyListDocument(t *testing.T) {
	env := functionstest.New(t)
	_, err := env.DB.Pool.Exec(context.Background(), `INSERT INTO keypair_resource_policies
		(name, default_for_unspecified, total_resource_slots, max_concurrent_sessions, max_containers_per_session, idle_timeout)
		VALUES ('gpu', 'LIMITED', '{"cpu": "8", "cuda.shares": "2.5"}', 3, 2, 600)`)
	require.NoError(t, err)
	names := func(ps []map[string]any) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p["name"].(string))
		}
		return out
	}
	for _, c := range []*auth.Credentials{sa, da} {
		ps := field[[]map[string]any](t, post(t, env, c, kpPolicyListDoc, `{}`), "keypair_resource_policies")
		require.Equal(t, []string{"default", "gpu"}, names(ps))
		def := ps[0]
		require.Regexp(t, admDateTimeRe, def["created_at"])
		require.EqualValues(t, 5, def["max_concurrent_sessions"])
		require.EqualValues(t, 3600, def["idle_timeout"])
		require.EqualValues(t, 1, def["max_containers_per_session"])
		var hosts map[string][]string
		admJSONString(t, def["allowed_vfolder_hosts"], &hosts)
		require.Len(t, hosts["local:volume1"], 8)
		var slots map[string]string
		admJSONString(t, ps[1]["total_resource_slots"], &slots)
		require.Equal(t, map[string]string{"cpu": "8", "cuda.shares": "2.5"}, slots)
		// An empty resource-slot object is "{}", never null.
		require.Equal(t, "{}", def["total_resource_slots"])
	}
	// A user sees the policies of its own keypairs only; a monitor is refused.
	ps := field[[]map[string]any](t, post(t, env, user, kpPolicyListDoc, `{}`), "keypair_resource_policies")
	require.Equal(t, []string{"default"}, names(ps))
	admRequireError(t, post(t, env, admMonitor, kpPolicyListDoc, `{}`), "keypair_resource_policies", "Missing or invalid API parameters. (Unknown client role)")

	// The single policy: the calling keypair's by default, any by name.
	const one = `query($name: String) { keypair_resource_policy(name: $name) { name default_for_unspecified max_vfolder_count } }`
	require.JSONEq(t, `{"name": "default", "default_for_unspecified": "UNLIMITED", "max_vfolder_count": null}`,
		string(field[json.RawMessage](t, post(t, env, user, one, `{"name": null}`), "keypair_resource_policy")))
	require.JSONEq(t, `{"name": "gpu", "default_for_unspecified": "LIMITED", "max_vfolder_count": null}`,
		string(field[json.RawMessage](t, post(t, env, user, one, `{"name": "gpu"}`), "keypair_resource_policy")))
	r := post(t, env, user, one, `{"name": "nosuch"}`)
	require.Empty(t, r.Errors)
	require.JSONEq(t, `null`, string(r.Data["keypair_resource_policy"]))
}

func TestCapturedUserInfoDocumentEveryRole(t *testing.T) {
	env := functionstest.New(t)
	otherUser, _ := admSeedOtherDomain(t, env)
	for _, c := range []struct {
		creds           *auth.Credentials
		id, email, role string
	}{
		{sa, fixture.SuperadminUUID, fixture.SuperadminEmail, "superadmin"},
		{da, fixture.DomainAdminUUID, "domain-admin@lablup.com", "admin"},
		{user, fixture.UserUUID, fixture.UserEmail, "user"},
	} {
		u := field[map[string]any](t, post(t, env, c.creds, userInfoDoc, `{}`), "user")
		require.Equal(t, c.id, u["uuid"])
		require.Equal(t, c.email, u["email"])
		require.Equal(t, c.role, u["role"])
		require.Equal(t, strings.TrimSuffix(c.email, "@lablup.com"), u["username"])
		require.Equal(t, false, u["need_password_change"])
		require.Equal(t, "active", u["status"])
		require.Equal(t, "admin-requested", u["status_info"])
		require.Regexp(t, admDateTimeRe, u["created_at"])
		require.Equal(t, "default", u["domain_name"])
		require.Nil(t, u["allowed_client_ip"])
		require.Equal(t, false, u["sudo_session_enabled"])
		require.Equal(t, c.creds.AccessKey, u["main_access_key"])
		require.NotEmpty(t, u["full_name"])
		// Every membership, the model store included.
		require.ElementsMatch(t, []any{
			map[string]any{"id": fixture.DefaultProjectID, "name": "default"},
			map[string]any{"id": fixture.ModelStoreProjectID, "name": "model-store"},
		}, u["groups"])
	}

	// Naming users: a user only itself; an admin its domain (others are null); a superadmin anyone.
	const byEmail = `query($email: String) { user(email: $email) { email allowed_client_ip groups { name } } }`
	admRequireError(t, post(t, env, user, byEmail, `{"email": "user2@lablup.com"}`), "user", "Forbidden operation.")
	got := field[map[string]any](t, post(t, env, da, byEmail, `{"email": "user2@lablup.com"}`), "user")
	require.Equal(t, "user2@lablup.com", got["email"])
	r := post(t, env, da, byEmail, `{"email": "other@example.com"}`)
	require.Empty(t, r.Errors)
	require.JSONEq(t, `null`, string(r.Data["user"]))
	require.JSONEq(t, `{"email": "other@example.com", "allowed_client_ip": ["10.0.0.0/24"], "groups": [{"name": "proj"}]}`,
		string(field[json.RawMessage](t, post(t, env, sa, byEmail, `{"email": "other@example.com"}`), "user")))
	admRequireError(t, post(t, env, admMonitor, byEmail, `{"email": null}`), "user", "Missing or invalid API parameters. (Unknown client role)")

	// user_from_uuid: a user may name itself (in any spelling), not others.
	const byID = `query($id: ID) { user_from_uuid(user_id: $id) { email } }`
	require.JSONEq(t, `{"email": "user@lablup.com"}`, string(field[json.RawMessage](t, post(t, env, user, byID, `{"id": "`+strings.ToUpper(fixture.UserUUID)+`"}`), "user_from_uuid")))
	require.JSONEq(t, `{"email": "user@lablup.com"}`, string(field[json.RawMessage](t, post(t, env, user, byID, `{"id": null}`), "user_from_uuid")))
	admRequireError(t, post(t, env, user, byID, `{"id": "`+fixture.User2UUID+`"}`), "user_from_uuid", "Forbidden operation.")
	require.JSONEq(t, `{"email": "other@example.com"}`, string(field[json.RawMessage](t, post(t, env, sa, byID, `{"id": "`+otherUser.String()+`"}`), "user_from_uuid")))
	admRequireError(t, post(t, env, sa, byID, `{"id": "nope"}`), "user_from_uuid", "badly formed hexadecimal UUID string")
}

func TestCapturedGroupListDocumentEveryRole(t *testing.T) {
	env := functionstest.New(t)
	_, otherGroup := admSeedOtherDomain(t, env)
	type group struct {
		ID            string  `json:"id"`
		Name          string  `json:"name"`
		IsActive      bool    `json:"is_active"`
		CreatedAt     string  `json:"created_at"`
		IntegrationID *string `json:"integration_id"`
	}
	names := func(gs []group) []string {
		var out []string
		for _, g := range gs {
			out = append(out, g.Name)
			require.Regexp(t, admDateTimeRe, g.CreatedAt)
			require.True(t, g.IsActive)
		}
		return out
	}
	// The default type argument keeps general projects: the model store is left out.
	require.ElementsMatch(t, []string{"default", "proj"}, names(field[[]group](t, post(t, env, sa, groupListDoc, groupListVars), "groups")))
	require.Equal(t, []string{"default"}, names(field[[]group](t, post(t, env, da, groupListDoc, groupListVars), "groups")))
	gs := field[[]group](t, post(t, env, user, groupListDoc, groupListVars), "groups")
	require.Equal(t, []string{"default"}, names(gs))
	require.Equal(t, fixture.DefaultProjectID, gs[0].ID)
	require.Equal(t, []string{"proj"}, names(field[[]group](t, post(t, env, sa, groupListDoc, `{"domain_name": "other"}`), "groups")))
	admRequireError(t, post(t, env, da, groupListDoc, `{"domain_name": "other"}`), "groups", "Insufficient privilege.")
	// A user's answer is its own projects, whatever it names.
	require.Equal(t, []string{"default"}, names(field[[]group](t, post(t, env, user, groupListDoc, `{"domain_name": "other"}`), "groups")))

	const typed = `query { groups(type: ["GENERAL", "MODEL_STORE"]) { name type scaling_groups container_registry } }`
	require.JSONEq(t, `[{"name": "default", "type": "GENERAL", "scaling_groups": [], "container_registry": null},
		{"name": "model-store", "type": "MODEL_STORE", "scaling_groups": [], "container_registry": null}]`,
		string(field[json.RawMessage](t, post(t, env, da, typed, `{}`), "groups")))
	admRequireError(t, post(t, env, sa, `query { groups(type: ["NOPE"]) { name } }`, `{}`), "groups", "'NOPE'")

	// group: a user must belong to it; an admin sees its domain's (others are null).
	const one = `query($id: UUID!) { group(id: $id) { name domain_name resource_policy total_resource_slots } }`
	require.JSONEq(t, `{"name": "default", "domain_name": "default", "resource_policy": "default", "total_resource_slots": "{}"}`,
		string(field[json.RawMessage](t, post(t, env, user, one, `{"id": "`+fixture.DefaultProjectID+`"}`), "group")))
	admRequireError(t, post(t, env, user, one, `{"id": "`+otherGroup.String()+`"}`), "group", "Insufficient privilege.")
	admRequireError(t, post(t, env, user, one, `{"id": "`+uuid.NewString()+`"}`), "group", "Insufficient privilege.")
	r := post(t, env, da, one, `{"id": "`+otherGroup.String()+`"}`)
	require.Empty(t, r.Errors)
	require.JSONEq(t, `null`, string(r.Data["group"]))
	require.Equal(t, "proj", field[map[string]any](t, post(t, env, sa, one, `{"id": "`+otherGroup.String()+`"}`), "group")["name"])

	const byName = `query($name: String!) { groups_by_name(name: $name) { id domain_name } }`
	require.JSONEq(t, `[{"id": "`+otherGroup.String()+`", "domain_name": "other"}]`, string(field[json.RawMessage](t, post(t, env, sa, byName, `{"name": "proj"}`), "groups_by_name")))
	require.JSONEq(t, `[]`, string(field[json.RawMessage](t, post(t, env, da, byName, `{"name": "proj"}`), "groups_by_name")))
	require.JSONEq(t, `[]`, string(field[json.RawMessage](t, post(t, env, user, byName, `{"name": "model-store"}`), "groups_by_name")))
}

type admUserPage struct {
	Items      []map[string]any `json:"items"`
	TotalCount int              `json:"total_count"`
}

func admEmails(p admUserPage) []string {
	var out []string
	for _, u := range p.Items {
		out = append(out, u["email"].(string))
	}
	return out
}

func TestCapturedUserListDocumentEveryRole(t *testing.T) {
	env := functionstest.New(t)
	admSeedOtherDomain(t, env)
	p := field[admUserPage](t, post(t, env, sa, userListDoc, userListVars), "user_list")
	require.Equal(t, 6, p.TotalCount)
	require.Len(t, p.Items, 6)
	// Newest first: the user added last leads.
	require.Equal(t, "other@example.com", p.Items[0]["email"])
	u := p.Items[0]
	require.Equal(t, "other", u["username"])
	require.Equal(t, "user", u["role"])
	require.Equal(t, "active", u["status"])
	require.Equal(t, []any{"10.0.0.0/24"}, u["allowed_client_ip"])
	require.Equal(t, []any{map[string]any{"id": u["groups"].([]any)[0].(map[string]any)["id"], "name": "proj"}}, u["groups"])
	require.Nil(t, u["main_access_key"])

	p = field[admUserPage](t, post(t, env, da, userListDoc, userListVars), "user_list")
	require.Equal(t, 5, p.TotalCount)
	require.NotContains(t, admEmails(p), "other@example.com")
	admRequireError(t, post(t, env, user, userListDoc, userListVars), "user_list", "Insufficient privilege.")
	admRequireError(t, post(t, env, admMonitor, userListDoc, userListVars), "user_list", "Missing or invalid API parameters. (Unknown client role)")
	admRequireError(t, post(t, env, da, `query { user_list(limit: 5, offset: 0, domain_name: "other") { total_count } }`, `{}`), "user_list", "Insufficient privilege.")

	// Pages: limit/offset over one total.
	p = field[admUserPage](t, post(t, env, sa, userListDoc, strings.Replace(userListVars, `"limit": 20`, `"limit": 4`, 1)), "user_list")
	require.Equal(t, 6, p.TotalCount)
	require.Len(t, p.Items, 4)
	p2 := field[admUserPage](t, post(t, env, sa, userListDoc, strings.Replace(strings.Replace(userListVars, `"limit": 20`, `"limit": 4`, 1), `"offset": 0`, `"offset": 4`, 1)), "user_list")
	require.Len(t, p2.Items, 2)
	require.Empty(t, admIntersect(admEmails(p), admEmails(p2)))

	// users: the same scope, unpaginated.
	const users = `query { users { email } }`
	require.Len(t, field[[]map[string]any](t, post(t, env, sa, users, `{}`), "users"), 6)
	require.Len(t, field[[]map[string]any](t, post(t, env, da, users, `{}`), "users"), 5)
	admRequireError(t, post(t, env, user, users, `{}`), "users", "Insufficient privilege.")
}

func admIntersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
			}
		}
	}
	return out
}

func TestUserListArgumentsFilterAndOrder(t *testing.T) {
	env := functionstest.New(t)
	_, otherGroup := admSeedOtherDomain(t, env)
	_, err := env.DB.Pool.Exec(context.Background(), `UPDATE users SET status = 'inactive' WHERE email = 'user2@lablup.com'`)
	require.NoError(t, err)
	list := func(vars map[string]any) result {
		v := map[string]any{"status": nil, "group_id": nil, "filter": nil, "order": nil, "limit": 20, "offset": 0}
		for k, x := range vars {
			v[k] = x
		}
		return post(t, env, sa, userListDoc, mustJSON(v))
	}
	ok := func(vars map[string]any) []string {
		t.Helper()
		return admEmails(field[admUserPage](t, list(vars), "user_list"))
	}
	// Arguments.
	require.Equal(t, []string{"user2@lablup.com"}, ok(map[string]any{"status": "inactive"}))
	require.Equal(t, []string{"other@example.com"}, ok(map[string]any{"group_id": otherGroup.String()}))
	require.Len(t, ok(map[string]any{"group_id": fixture.ModelStoreProjectID}), 5)
	r := post(t, env, sa, `query { user_list(limit: 5, offset: 0, is_active: false) { items { email } } }`, `{}`)
	require.Equal(t, []string{"user2@lablup.com"}, admEmails(field[admUserPage](t, r, "user_list")))
	admRequireError(t, list(map[string]any{"status": "bogus"}), "user_list", "'bogus' is not a valid UserStatus")

	// Filters over the field table: enum names in either case, booleans, arrays, times.
	require.Equal(t, []string{"domain-admin@lablup.com"}, ok(map[string]any{"filter": `role == "ADMIN"`}))
	require.Equal(t, []string{"user2@lablup.com"}, ok(map[string]any{"filter": `status == "INACTIVE"`}))
	require.Equal(t, []string{"user2@lablup.com"}, ok(map[string]any{"filter": `is_active == false`}))
	require.Equal(t, []string{"other@example.com"}, ok(map[string]any{"filter": `allowed_client_ip == "10.0.0.0/24"`}))
	require.Equal(t, []string{"other@example.com"}, ok(map[string]any{"filter": `domain_name != "default" & created_at >= "2000-01-01"`}))
	require.Equal(t, []string{"user@lablup.com", "user2@lablup.com"},
		ok(map[string]any{"filter": `email like "user%"`, "order": "-email"}))
	require.Equal(t, []string{"admin@lablup.com", "domain-admin@lablup.com", "monitor@lablup.com", "other@example.com", "user2@lablup.com", "user@lablup.com"},
		ok(map[string]any{"order": "+email"}))
	require.Equal(t, []string{"domain-admin@lablup.com", "admin@lablup.com"},
		ok(map[string]any{"filter": `role in ["superadmin", "admin"]`, "order": "role,email"}))

	// Bad filters are GraphQL errors naming the field, never database errors: a literal of the
	// wrong type, an unknown enum name, a malformed address, an unknown field, bad syntax.
	for filter, want := range map[string]string{
		`email == 5`:                         "email",
		`username == true`:                   "username",
		`need_password_change == "yes"`:      "need_password_change",
		`sudo_session_enabled == 1`:          "sudo_session_enabled",
		`role == "ROOT"`:                     "role",
		`status == 3`:                        "status",
		`uuid == "x"`:                        "uuid",
		`created_at > 5`:                     "created_at",
		`allowed_client_ip == "garbage"`:     "allowed_client_ip",
		`allowed_client_ip == "10.0.0.5/24"`: "allowed_client_ip",
		`main_access_key in [1, 2]`:          "main_access_key",
		`nosuch == 1`:                        "nosuch",
		`email == `:                          "Query filter parsing error",
	} {
		r := list(map[string]any{"filter": filter})
		require.Len(t, r.Errors, 1, "filter %s: %s", filter, r.Raw)
		msg := r.Errors[0]["message"].(string)
		require.True(t, strings.HasPrefix(msg, "Query filter parsing error"), "filter %s: %s", filter, msg)
		require.Contains(t, msg, want, "filter %s", filter)
		require.NotContains(t, msg, "database", "filter %s", filter)
	}
	for _, order := range []string{"-description", "allowed_client_ip", "nosuch", "email,"} {
		r := list(map[string]any{"order": order})
		require.Len(t, r.Errors, 1, "order %s: %s", order, r.Raw)
		require.Contains(t, r.Errors[0]["message"], "Query ordering parsing error", "order %s", order)
	}
	admRequireError(t, list(map[string]any{"limit": -1}), "user_list", "Missing or invalid API parameters. (limit must be between 0 and 1000)")
}

func TestUserListQueriesDoNotGrowWithRows(t *testing.T) {
	env := functionstest.New(t)
	counted, counter := countingEnv(t, env, nil)
	vars := strings.Replace(userListVars, `"limit": 20`, `"limit": 100`, 1)
	few := queriesOf(t, counted, counter, sa, userListDoc, vars)
	for i := range 40 {
		_, err := env.DB.Pool.Exec(context.Background(), `
			WITH u AS (INSERT INTO users (email, domain_name, resource_policy) VALUES ($1, 'default', 'default') RETURNING uuid)
			INSERT INTO association_groups_users (user_id, group_id) SELECT uuid, $2::uuid FROM u`,
			fmt.Sprintf("u%d@example.com", i), fixture.DefaultProjectID)
		require.NoError(t, err)
	}
	many := queriesOf(t, counted, counter, sa, userListDoc, vars)
	t.Logf("queries per user_list page with groups: %d (5 users), %d (45 users)", few, many)
	require.Equal(t, few, many, "queries grew with the rows")
	// The request 1, count and page 2, the users' projects 1.
	require.Equal(t, int64(4), many)
}

func TestKeypairSessionsAndFolders(t *testing.T) {
	env := functionstest.New(t)
	sid := seedSession(t, env, user.AccessKey, "mine", `{"cpu": "1"}`)
	seedSession(t, env, sa.AccessKey, "admins", `{"cpu": "1"}`)
	const doc = `query($status: String) { keypair { access_key vfolders { name } compute_sessions(status: $status) { id name status } } }`
	kp := field[map[string]any](t, post(t, env, user, doc, `{"status": null}`), "keypair")
	require.Equal(t, []any{}, kp["vfolders"])
	require.Equal(t, []any{map[string]any{"id": sid.String(), "name": "mine", "status": "RUNNING"}}, kp["compute_sessions"])
	kp = field[map[string]any](t, post(t, env, user, doc, `{"status": "TERMINATED,CANCELLED"}`), "keypair")
	require.Equal(t, []any{}, kp["compute_sessions"])
	r := post(t, env, user, doc, `{"status": "FOO"}`)
	require.Equal(t, "'FOO'", r.Errors[0]["message"])

	// A keypair list's sessions come from one query, each keypair getting its own.
	const list = `query { keypair_list(limit: 10, offset: 0, order: "access_key") { items { access_key compute_sessions { name } } } }`
	kl := field[struct {
		Items []struct {
			AccessKey string              `json:"access_key"`
			Sessions  []map[string]string `json:"compute_sessions"`
		} `json:"items"`
	}](t, post(t, env, sa, list, `{}`), "keypair_list")
	got := map[string]int{}
	for _, it := range kl.Items {
		got[it.AccessKey] = len(it.Sessions)
	}
	require.Equal(t, 1, got[user.AccessKey])
	require.Equal(t, 1, got[sa.AccessKey])
	require.Equal(t, 0, got[da.AccessKey])
}

func TestPoliciesPresetsAndPermissions(t *testing.T) {
	env := functionstest.New(t)
	_, otherGroup := admSeedOtherDomain(t, env)
	_, err := env.DB.Pool.Exec(context.Background(), `INSERT INTO project_resource_policies (name, max_vfolder_count, max_quota_scope_size) VALUES ('big', 3, 1099511627776);
		UPDATE groups SET resource_policy = 'big' WHERE id = '`+otherGroup.String()+`'`)
	require.NoError(t, err)

	const userPolicies = `query { user_resource_policies { id name created_at max_vfolder_count max_quota_scope_size max_session_count_per_model_session max_customized_image_count } }`
	for _, c := range []*auth.Credentials{sa, da, user} {
		ps := field[[]map[string]any](t, post(t, env, c, userPolicies, `{}`), "user_resource_policies")
		require.Len(t, ps, 1)
		require.Equal(t, "UserResourcePolicy:default", ps[0]["id"])
		require.EqualValues(t, -1, ps[0]["max_quota_scope_size"])
		require.EqualValues(t, 10, ps[0]["max_session_count_per_model_session"])
		require.Regexp(t, admDateTimeRe, ps[0]["created_at"])
	}
	require.JSONEq(t, `{"name": "default"}`, string(field[json.RawMessage](t, post(t, env, user, `query { user_resource_policy { name } }`, `{}`), "user_resource_policy")))

	const projectPolicies = `query { project_resource_policies { id name max_vfolder_count max_quota_scope_size } }`
	require.Len(t, field[[]map[string]any](t, post(t, env, sa, projectPolicies, `{}`), "project_resource_policies"), 2)
	// A user sees the policies of its own projects.
	require.JSONEq(t, `[{"id": "ProjectResourcePolicy:default", "name": "default", "max_vfolder_count": 0, "max_quota_scope_size": -1}]`,
		string(field[json.RawMessage](t, post(t, env, user, projectPolicies, `{}`), "project_resource_policies")))
	admRequireError(t, post(t, env, admMonitor, projectPolicies, `{}`), "project_resource_policies", "Missing or invalid API parameters. (Unknown client role)")
	require.JSONEq(t, `{"name": "big", "max_quota_scope_size": 1099511627776}`,
		string(field[json.RawMessage](t, post(t, env, user, `query { project_resource_policy(name: "big") { name max_quota_scope_size } }`, `{}`), "project_resource_policy")))

	ps := field[[]map[string]any](t, post(t, env, user, `query { resource_presets { name resource_slots shared_memory } }`, `{}`), "resource_presets")
	require.Len(t, ps, 6)
	require.Equal(t, "cpu01-small", ps[0]["name"])
	require.Nil(t, ps[0]["shared_memory"])
	var slots map[string]string
	admJSONString(t, ps[0]["resource_slots"], &slots)
	require.Equal(t, map[string]string{"cpu": "1", "mem": "1073741824"}, slots)
	require.JSONEq(t, `{"name": "cpu02-medium", "shared_memory": 1073741824}`,
		string(field[json.RawMessage](t, post(t, env, user, `query { resource_preset(name: "cpu02-medium") { name shared_memory } }`, `{}`), "resource_preset")))

	perms := field[map[string][]string](t, post(t, env, user, `query { vfolder_host_permissions { vfolder_host_permission_list } }`, `{}`), "vfolder_host_permissions")
	require.Contains(t, perms["vfolder_host_permission_list"], "mount-in-session")
	require.Len(t, perms["vfolder_host_permission_list"], 8)

	// Quota scopes: access per role first, then the storage host.
	const qs = `query($host: String!, $id: String!) { quota_scope(storage_host_name: $host, quota_scope_id: $id) { id quota_scope_id storage_host_name details { usage_bytes usage_count hard_limit_bytes } } }`
	vars := func(host, id string) string { return `{"host": "` + host + `", "id": "` + id + `"}` }
	admRequireError(t, post(t, env, user, qs, vars("local:volume1", "user:"+fixture.User2UUID)), "quota_scope", "Forbidden operation.")
	admRequireError(t, post(t, env, user, qs, vars("local:volume1", "project:"+otherGroup.String())), "quota_scope", "Forbidden operation.")
	admRequireError(t, post(t, env, da, qs, vars("local:volume1", "project:"+otherGroup.String())), "quota_scope", "Forbidden operation.")
	admRequireError(t, post(t, env, user, qs, vars("local:volume1", "user:"+fixture.UserUUID)), "quota_scope", "storage volume local:volume1 does not exist")
	admRequireError(t, post(t, env, user, qs, vars("local:volume1", "bogus")), "quota_scope",
		`Missing or invalid API parameters. (invalid quota scope id "bogus": expected user:<uuid> or project:<uuid>)`)
	require.NoError(t, env.Etcd.Put(context.Background(), "volumes/proxies/local/client_api", "http://127.0.0.1:6021"))
	admWaitShared(t, env, "volumes/proxies/local/client_api")
	require.JSONEq(t, `{"id": "QuotaScope:local:volume1/project:`+otherGroup.String()+`", "quota_scope_id": "project:`+otherGroup.String()+`",
		"storage_host_name": "local:volume1", "details": {"usage_bytes": null, "usage_count": null, "hard_limit_bytes": 1099511627776}}`,
		string(field[json.RawMessage](t, post(t, env, sa, qs, vars("local:volume1", "project:"+otherGroup.String())), "quota_scope")))
	// An unlimited policy (-1) has no hard limit.
	require.JSONEq(t, `{"usage_bytes": null, "usage_count": null, "hard_limit_bytes": null}`,
		mustJSON(field[map[string]any](t, post(t, env, user, qs, vars("local:volume1", "user:"+fixture.UserUUID)), "quota_scope")["details"]))
}

// admWaitShared waits until the API's shared configuration has seen key.
func admWaitShared(t *testing.T, env *functionstest.Env, key string) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, ok := env.Shared.Get(key)
		return ok
	}, 10*time.Second, 20*time.Millisecond, "the shared configuration never saw %s", key)
}
