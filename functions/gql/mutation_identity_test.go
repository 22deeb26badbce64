package gql_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/admin"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/fixture"
)

// The mutation documents of the 24.03 client's `admin domain|group|user|keypair` commands,
// as its func modules build them (textwrap.dedent of the templates, default result fields).
const (
	domainAddDoc = "mutation($name: String!, $input: DomainInput!) {\n    create_domain(name: $name, props: $input) {\n        ok msg domain {name}\n    }\n}\n"
	domainUpdDoc = "mutation($name: String!, $input: ModifyDomainInput!) {\n    modify_domain(name: $name, props: $input) {\n        ok msg\n    }\n}\n"
	domainDelDoc = "mutation($name: String!) {\n    delete_domain(name: $name) {\n        ok msg\n    }\n}\n"
	domainPrgDoc = "mutation($name: String!) {\n    purge_domain(name: $name) {\n        ok msg\n    }\n}\n"

	groupAddDoc = "mutation($name: String!, $input: GroupInput!) {\n    create_group(name: $name, props: $input) {\n        ok msg group {id domain_name name}\n    }\n}\n"
	groupUpdDoc = "mutation($gid: UUID!, $input: ModifyGroupInput!) {\n    modify_group(gid: $gid, props: $input) {\n        ok msg\n    }\n}\n"
	groupDelDoc = "mutation($gid: UUID!) {\n    delete_group(gid: $gid) {\n        ok msg\n    }\n}\n"
	groupPrgDoc = "mutation($gid: UUID!) {\n    purge_group(gid: $gid) {\n        ok msg\n    }\n}\n"

	userAddDoc = "mutation($email: String!, $input: UserInput!) {\n    create_user(email: $email, props: $input) {\n        ok msg user {domain_name email username uuid}\n    }\n}\n"
	userUpdDoc = "mutation($email: String!, $input: ModifyUserInput!) {\n    modify_user(email: $email, props: $input) {\n        ok msg\n    }\n}\n"
	userDelDoc = "mutation($email: String!) {\n    delete_user(email: $email) {\n        ok msg\n    }\n}\n"
	userPrgDoc = "mutation($email: String!, $input: PurgeUserInput!) {\n    purge_user(email: $email, props: $input) {\n        ok msg\n    }\n}\n"

	keypairAddDoc = "mutation($user_id: String!, $input: KeyPairInput!) {  create_keypair(user_id: $user_id, props: $input) {    ok msg keypair { access_key secret_key }  }}"
	keypairUpdDoc = "mutation($access_key: String!, $input: ModifyKeyPairInput!) {  modify_keypair(access_key: $access_key, props: $input) {    ok msg  }}"
	keypairDelDoc = "mutation($access_key: String!) {  delete_keypair(access_key: $access_key) {    ok msg  }}"
)

// idPayload is a mutation's {ok, msg, <object>} answer.
type idPayload struct {
	OK  *bool   `json:"ok"`
	Msg *string `json:"msg"`
	raw map[string]json.RawMessage
}

// vars encodes variables as the client does.
func idVars(t *testing.T, v map[string]any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// mutate sends a mutation document and returns the idPayload of field, requiring no errors.
func idMutate(t *testing.T, env *functionstest.Env, creds *auth.Credentials, doc, field string, v map[string]any) idPayload {
	t.Helper()
	r := post(t, env, creds, doc, idVars(t, v))
	require.Empty(t, r.Errors, "body: %s", r.Raw)
	var p idPayload
	require.NoError(t, json.Unmarshal(r.Data[field], &p.raw), "body: %s", r.Raw)
	require.NoError(t, json.Unmarshal(r.Data[field], &p), "body: %s", r.Raw)
	require.NotNil(t, p.OK, "body: %s", r.Raw)
	require.NotNil(t, p.Msg, "body: %s", r.Raw)
	return p
}

// requireOK requires a successful idPayload and returns its object field (nil for none).
func idOK(t *testing.T, p idPayload, object string) map[string]any {
	t.Helper()
	require.True(t, *p.OK, "msg: %s", *p.Msg)
	require.Equal(t, "success", *p.Msg)
	if object == "" {
		return nil
	}
	var obj map[string]any
	require.NoError(t, json.Unmarshal(p.raw[object], &obj))
	require.NotNil(t, obj, "a successful create returns the object")
	return obj
}

// requireRefused requires an ok:false idPayload with msg and a null object.
func idRefused(t *testing.T, p idPayload, msg string) {
	t.Helper()
	require.False(t, *p.OK)
	require.Equal(t, msg, *p.Msg)
	for k, v := range p.raw {
		if k != "ok" && k != "msg" {
			require.JSONEq(t, "null", string(v), "%s of a refused mutation", k)
		}
	}
}

// requireGQLError requires data.<field> null and one error naming field with msg.
func idGQLError(t *testing.T, env *functionstest.Env, creds *auth.Credentials, doc, field string, v map[string]any, msg string) {
	t.Helper()
	r := post(t, env, creds, doc, idVars(t, v))
	require.JSONEq(t, "null", string(r.Data[field]), "body: %s", r.Raw)
	require.Len(t, r.Errors, 1, "body: %s", r.Raw)
	require.Equal(t, msg, r.Errors[0]["message"], "body: %s", r.Raw)
	require.Equal(t, []any{field}, r.Errors[0]["path"])
}

// restJSON GETs path as the superadmin and decodes the answer.
func idRest(t *testing.T, env *functionstest.Env, path string, v any) {
	t.Helper()
	res := env.Do(t, http.MethodGet, path, nil, sa)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, v)
}

func idRestStatus(t *testing.T, env *functionstest.Env, path string) int {
	t.Helper()
	return env.Do(t, http.MethodGet, path, nil, sa).Status
}

// gqlOne runs a query as the superadmin and returns data.<name>.
func idQuery(t *testing.T, env *functionstest.Env, query, name string, v map[string]any) map[string]any {
	t.Helper()
	return field[map[string]any](t, post(t, env, sa, query, idVars(t, v)), name)
}

// TestDomainMutationsCLI: the client's admin domain add/update/delete/purge documents as a
// superadmin create, change, deactivate and remove the domain (the same rows through REST and
// GraphQL); as a domain admin or a user they are refused with upstream's permission message
// and change nothing; bad names and duplicates answer as upstream.
func TestDomainMutationsCLI(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	add := map[string]any{"name": "lab", "input": map[string]any{
		"description": "Lab", "is_active": true,
		"total_resource_slots":      `{"cpu": "8", "mem": "16g"}`,
		"allowed_vfolder_hosts":     `{"local:volume1": ["create-vfolder", "mount-in-session"]}`,
		"allowed_docker_registries": []string{"cr.backend.ai"},
	}}
	for _, c := range []*auth.Credentials{da, user} {
		idRefused(t, idMutate(t, env, c, domainAddDoc, "create_domain", add), "no permission to execute create_domain")
	}
	require.Equal(t, http.StatusNotFound, idRestStatus(t, env, "/admin/domains/lab"))

	obj := idOK(t, idMutate(t, env, sa, domainAddDoc, "create_domain", add), "domain")
	require.Equal(t, map[string]any{"name": "lab"}, obj)
	var d admin.Domain
	idRest(t, env, "/admin/domains/lab", &d)
	require.Equal(t, "Lab", *d.Description)
	require.True(t, d.IsActive)
	require.Equal(t, map[string]string{"cpu": "8", "mem": "17179869184"}, d.TotalResourceSlots)
	require.Equal(t, []string{"cr.backend.ai"}, d.AllowedDockerRegistries)
	require.Len(t, d.AllowedVfolderHosts["local:volume1"], 2)
	g := idQuery(t, env, `query($name: String) { domain(name: $name) { name description is_active total_resource_slots } }`, "domain", map[string]any{"name": "lab"})
	require.Equal(t, "Lab", g["description"])
	require.JSONEq(t, `{"cpu": "8", "mem": "17179869184"}`, g["total_resource_slots"].(string))

	// Refusals answered as upstream: bad slug and duplicate are ok:false.
	idRefused(t, idMutate(t, env, sa, domainAddDoc, "create_domain", map[string]any{"name": "-bad-", "input": map[string]any{}}),
		"invalid name format. slug format required.")
	p := idMutate(t, env, sa, domainAddDoc, "create_domain", add)
	require.False(t, *p.OK)
	require.Contains(t, *p.Msg, "integrity error: ")

	upd := map[string]any{"name": "lab", "input": map[string]any{"description": "Laboratory", "total_resource_slots": `{"cpu": 16}`}}
	for _, c := range []*auth.Credentials{da, user} {
		idRefused(t, idMutate(t, env, c, domainUpdDoc, "modify_domain", upd), "no permission to execute modify_domain")
		idRefused(t, idMutate(t, env, c, domainDelDoc, "delete_domain", map[string]any{"name": "lab"}), "no permission to execute delete_domain")
		idRefused(t, idMutate(t, env, c, domainPrgDoc, "purge_domain", map[string]any{"name": "lab"}), "no permission to execute purge_domain")
	}
	idRest(t, env, "/admin/domains/lab", &d)
	require.Equal(t, "Lab", *d.Description)
	require.True(t, d.IsActive)

	idOK(t, idMutate(t, env, sa, domainUpdDoc, "modify_domain", upd), "")
	idRest(t, env, "/admin/domains/lab", &d)
	require.Equal(t, "Laboratory", *d.Description)
	require.Equal(t, "16", d.TotalResourceSlots["cpu"])
	idRefused(t, idMutate(t, env, sa, domainUpdDoc, "modify_domain", map[string]any{"name": "nope", "input": map[string]any{"description": "x"}}),
		"no matching modifydomain")
	idGQLError(t, env, sa, domainUpdDoc, "modify_domain", map[string]any{"name": "lab", "input": map[string]any{"name": "Not A Slug"}},
		"invalid name format. slug format required.")
	// A rename moves the domain.
	idOK(t, idMutate(t, env, sa, domainUpdDoc, "modify_domain", map[string]any{"name": "lab", "input": map[string]any{"name": "lab2"}}), "")
	require.Equal(t, http.StatusNotFound, idRestStatus(t, env, "/admin/domains/lab"))

	idOK(t, idMutate(t, env, sa, domainDelDoc, "delete_domain", map[string]any{"name": "lab2"}), "")
	idRest(t, env, "/admin/domains/lab2", &d)
	require.False(t, d.IsActive)
	g = idQuery(t, env, `query($name: String) { domain(name: $name) { is_active } }`, "domain", map[string]any{"name": "lab2"})
	require.Equal(t, false, g["is_active"])
	idRefused(t, idMutate(t, env, sa, domainDelDoc, "delete_domain", map[string]any{"name": "nope"}), "no matching deletedomain")

	// Purge refuses while users remain (upstream's RuntimeError text), then removes.
	idRefused(t, idMutate(t, env, sa, domainPrgDoc, "purge_domain", map[string]any{"name": fixture.DefaultDomain}),
		"unexpected error: There are users bound to the domain. Remove users first.")
	idOK(t, idMutate(t, env, sa, domainPrgDoc, "purge_domain", map[string]any{"name": "lab2"}), "")
	require.Equal(t, http.StatusNotFound, idRestStatus(t, env, "/admin/domains/lab2"))
	idRefused(t, idMutate(t, env, sa, domainPrgDoc, "purge_domain", map[string]any{"name": "lab2"}), "no matching purgedomain")
}

// TestGroupMutationsCLI: admin group add/update/add-users/remove-users/delete/purge as sent
// by the client. Superadmins and domain admins (in their own domain) manage groups and
// members; users and domain admins elsewhere get upstream's permission message. A member
// change keeps the group's container_registry (the input default is not written).
func TestGroupMutationsCLI(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	ctx := context.Background()
	env.Do(t, http.MethodPost, "/admin/domains", map[string]any{"name": "other"}, sa).RequireStatus(t, http.StatusCreated)
	addIn := func(domain, name string) map[string]any {
		return map[string]any{"name": name, "input": map[string]any{
			"description": "", "is_active": true, "domain_name": domain,
			"total_resource_slots": nil, "allowed_vfolder_hosts": nil, "integration_id": nil,
		}}
	}
	idRefused(t, idMutate(t, env, user, groupAddDoc, "create_group", addIn("default", "u-team")), "no permission to execute create_group")
	idRefused(t, idMutate(t, env, da, groupAddDoc, "create_group", addIn("other", "x-team")), "no permission to execute create_group")

	ids := map[string]string{}
	for _, c := range []struct {
		creds *auth.Credentials
		name  string
	}{{sa, "sa-team"}, {da, "da-team"}} {
		obj := idOK(t, idMutate(t, env, c.creds, groupAddDoc, "create_group", addIn("default", c.name)), "group")
		require.Equal(t, "default", obj["domain_name"])
		require.Equal(t, c.name, obj["name"])
		ids[c.name] = obj["id"].(string)
		var p admin.Project
		idRest(t, env, "/admin/projects/"+ids[c.name], &p)
		require.Equal(t, c.name, p.Name)
		require.True(t, p.IsActive)
	}
	idGQLError(t, env, sa, groupAddDoc, "create_group", addIn("default", "Bad Name"), "invalid name format. slug format required.")
	bad := addIn("default", "typed")
	bad["input"].(map[string]any)["type"] = "BOGUS"
	idGQLError(t, env, sa, groupAddDoc, "create_group", bad, "'BOGUS'")
	dup := idMutate(t, env, sa, groupAddDoc, "create_group", addIn("default", "sa-team"))
	require.False(t, *dup.OK)
	require.Contains(t, *dup.Msg, "integrity error: ")

	gid := ids["da-team"]
	_, err := env.DB.Pool.Exec(ctx, `UPDATE groups SET container_registry = '{"registry": "cr.example.com", "project": "p"}' WHERE id = $1`, gid)
	require.NoError(t, err)

	// update, as the client sends it (every key, nulls for the options not given).
	upd := map[string]any{"gid": gid, "input": map[string]any{
		"name": nil, "description": "Team of the domain admin", "is_active": nil,
		"total_resource_slots": nil, "allowed_vfolder_hosts": nil, "integration_id": "ext-1",
	}}
	idRefused(t, idMutate(t, env, user, groupUpdDoc, "modify_group", upd), "no permission to execute modify_group")
	idOK(t, idMutate(t, env, da, groupUpdDoc, "modify_group", upd), "")
	var p admin.Project
	idRest(t, env, "/admin/projects/"+gid, &p)
	require.Equal(t, "Team of the domain admin", *p.Description)
	require.Equal(t, "ext-1", *p.IntegrationID)
	require.Equal(t, "da-team", p.Name)

	nothing := map[string]any{"gid": gid, "input": map[string]any{"name": nil, "description": nil}}
	idRefused(t, idMutate(t, env, sa, groupUpdDoc, "modify_group", nothing), "nothing to update")
	idGQLError(t, env, sa, groupUpdDoc, "modify_group", map[string]any{"gid": gid, "input": map[string]any{"user_update_mode": "swap", "user_uuids": []string{fixture.User2UUID}}},
		"invalid user_update_mode")
	idRefused(t, idMutate(t, env, sa, groupUpdDoc, "modify_group", map[string]any{"gid": "8f7d1c1e-0000-4000-8000-000000000000", "input": map[string]any{"description": "x"}}),
		"no such group")

	// add-users / remove-users.
	members := func() []string {
		var l admin.UserList
		idRest(t, env, "/admin/projects/"+gid+"/members", &l)
		out := []string{}
		for _, u := range l.Items {
			out = append(out, u.Email)
		}
		return out
	}
	addUsers := map[string]any{"gid": gid, "input": map[string]any{"user_update_mode": "add", "user_uuids": []string{fixture.User2UUID, fixture.UserUUID}}}
	idRefused(t, idMutate(t, env, user, groupUpdDoc, "modify_group", addUsers), "no permission to execute modify_group")
	require.Empty(t, members())
	idOK(t, idMutate(t, env, da, groupUpdDoc, "modify_group", addUsers), "")
	require.ElementsMatch(t, []string{"user2@lablup.com", fixture.UserEmail}, members())
	ug := idQuery(t, env, `query($email: String) { user(email: $email) { groups { id name } } }`, "user", map[string]any{"email": "user2@lablup.com"})
	require.Contains(t, ug["groups"], map[string]any{"id": gid, "name": "da-team"})
	idOK(t, idMutate(t, env, sa, groupUpdDoc, "modify_group", map[string]any{"gid": gid, "input": map[string]any{"user_update_mode": "remove", "user_uuids": []string{fixture.UserUUID}}}), "")
	require.Equal(t, []string{"user2@lablup.com"}, members())
	var registry string
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `SELECT container_registry::text FROM groups WHERE id = $1`, gid).Scan(&registry))
	require.JSONEq(t, `{"registry": "cr.example.com", "project": "p"}`, registry)
	// Given explicitly, container_registry is written.
	idOK(t, idMutate(t, env, sa, groupUpdDoc, "modify_group", map[string]any{"gid": gid, "input": map[string]any{"container_registry": "{}"}}), "")
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `SELECT container_registry::text FROM groups WHERE id = $1`, gid).Scan(&registry))
	require.JSONEq(t, `{}`, registry)

	// delete deactivates and drops the integration id; purge removes.
	idRefused(t, idMutate(t, env, user, groupDelDoc, "delete_group", map[string]any{"gid": gid}), "no permission to execute delete_group")
	idOK(t, idMutate(t, env, da, groupDelDoc, "delete_group", map[string]any{"gid": gid}), "")
	idRest(t, env, "/admin/projects/"+gid, &p)
	require.False(t, p.IsActive)
	require.Nil(t, p.IntegrationID)
	gg := idQuery(t, env, `query($gid: UUID!) { group(id: $gid) { id is_active integration_id } }`, "group", map[string]any{"gid": gid})
	require.Equal(t, false, gg["is_active"])
	idRefused(t, idMutate(t, env, user, groupPrgDoc, "purge_group", map[string]any{"gid": gid}), "no permission to execute purge_group")
	idOK(t, idMutate(t, env, da, groupPrgDoc, "purge_group", map[string]any{"gid": gid}), "")
	require.Equal(t, http.StatusNotFound, idRestStatus(t, env, "/admin/projects/"+gid))
	idRefused(t, idMutate(t, env, sa, groupPrgDoc, "purge_group", map[string]any{"gid": gid}), "no matching purgegroup")
}

// TestUserMutationsCLI: admin user add/update/delete/purge as sent by the client work for
// superadmins only (domain admins and users get upstream's permission message and nothing
// changes); a modify without status leaves the status alone; main_access_key is checked.
func TestUserMutationsCLI(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	add := map[string]any{"email": "erin@example.com", "input": map[string]any{
		"password": "erin-password", "role": "user", "status": "active", "need_password_change": false,
		"description": "", "domain_name": "default", "totp_activated": false, "sudo_session_enabled": true,
		"username": "erin", "full_name": "Erin", "group_ids": []string{fixture.DefaultProjectID},
	}}
	for _, c := range []*auth.Credentials{da, user} {
		idRefused(t, idMutate(t, env, c, userAddDoc, "create_user", add), "no permission to execute create_user")
	}
	require.Equal(t, http.StatusNotFound, idRestStatus(t, env, "/admin/users/erin@example.com"))

	obj := idOK(t, idMutate(t, env, sa, userAddDoc, "create_user", add), "user")
	require.Equal(t, "default", obj["domain_name"])
	require.Equal(t, "erin@example.com", obj["email"])
	require.Equal(t, "erin", obj["username"])
	var u admin.User
	idRest(t, env, "/admin/users/erin@example.com", &u)
	require.Equal(t, obj["uuid"], u.UUID.String())
	require.Equal(t, "active", u.Status)
	require.Equal(t, "Erin", *u.FullName)
	require.True(t, u.SudoSessionEnabled)
	require.NotNil(t, u.MainAccessKey)
	// The projects given, and the domain's model store as upstream does.
	groups := []string{}
	for _, g := range u.Groups {
		groups = append(groups, g.Name)
	}
	require.ElementsMatch(t, []string{"default", "model-store"}, groups)
	gu := idQuery(t, env, `query($email: String) { user(email: $email) { uuid role status main_access_key groups { name } } }`, "user", map[string]any{"email": "erin@example.com"})
	require.Equal(t, *u.MainAccessKey, gu["main_access_key"])
	require.ElementsMatch(t, []any{map[string]any{"name": "default"}, map[string]any{"name": "model-store"}}, gu["groups"])
	idGQLError(t, env, sa, userAddDoc, "create_user", map[string]any{"email": "x@example.com", "input": map[string]any{
		"password": "x-password", "need_password_change": false, "username": "x", "status": "bogus",
	}}, "'bogus' is not a valid UserStatus")
	dup := idMutate(t, env, sa, userAddDoc, "create_user", add)
	require.False(t, *dup.OK)
	require.Contains(t, *dup.Msg, "integrity error: ")

	// update: role and name; the status stays although neither status nor is_active is given.
	upd := map[string]any{"email": "erin@example.com", "input": map[string]any{"full_name": "Erin E.", "role": "admin"}}
	for _, c := range []*auth.Credentials{da, user} {
		idRefused(t, idMutate(t, env, c, userUpdDoc, "modify_user", upd), "no permission to execute modify_user")
	}
	idRest(t, env, "/admin/users/erin@example.com", &u)
	require.Equal(t, "user", u.Role)
	idOK(t, idMutate(t, env, sa, userUpdDoc, "modify_user", upd), "")
	idRest(t, env, "/admin/users/erin@example.com", &u)
	require.Equal(t, "admin", u.Role)
	require.Equal(t, "Erin E.", *u.FullName)
	require.Equal(t, "active", u.Status)
	var kp admin.Keypair
	idRest(t, env, "/admin/keypairs/"+*u.MainAccessKey, &kp)
	require.True(t, kp.IsAdmin, "an admin's keypairs are admin keypairs")
	idRefused(t, idMutate(t, env, sa, userUpdDoc, "modify_user", map[string]any{"email": "erin@example.com", "input": map[string]any{}}), "nothing to update")
	idRefused(t, idMutate(t, env, sa, userUpdDoc, "modify_user", map[string]any{"email": "erin@example.com", "input": map[string]any{"main_access_key": fixture.UserAccessKey}}),
		"unexpected error: Cannot set another user's access key as the main access key.")
	idRefused(t, idMutate(t, env, sa, userUpdDoc, "modify_user", map[string]any{"email": "erin@example.com", "input": map[string]any{"main_access_key": "AKIANOSUCHKEYEXAMPLE"}}),
		"unexpected error: Cannot set non-existing access key as the main access key.")
	idRefused(t, idMutate(t, env, sa, userUpdDoc, "modify_user", map[string]any{"email": "nobody@example.com", "input": map[string]any{"full_name": "x"}}),
		"no matching modifyuser")
	idGQLError(t, env, sa, userUpdDoc, "modify_user", map[string]any{"email": "erin@example.com", "input": map[string]any{"role": "owner"}},
		"'owner' is not a valid UserRole")

	// delete marks the user deleted and deactivates their keypairs; purge removes them.
	for _, c := range []*auth.Credentials{da, user} {
		idRefused(t, idMutate(t, env, c, userDelDoc, "delete_user", map[string]any{"email": "erin@example.com"}), "no permission to execute delete_user")
		idRefused(t, idMutate(t, env, c, userPrgDoc, "purge_user", map[string]any{"email": "erin@example.com", "input": map[string]any{"purge_shared_vfolders": false}}),
			"no permission to execute purge_user")
	}
	idRest(t, env, "/admin/users/erin@example.com", &u)
	require.Equal(t, "active", u.Status)
	idOK(t, idMutate(t, env, sa, userDelDoc, "delete_user", map[string]any{"email": "erin@example.com"}), "")
	idRest(t, env, "/admin/users/erin@example.com", &u)
	require.Equal(t, "deleted", u.Status)
	require.Equal(t, "admin-requested", *u.StatusInfo)
	idRest(t, env, "/admin/keypairs/"+*u.MainAccessKey, &kp)
	require.False(t, kp.IsActive)
	idRefused(t, idMutate(t, env, sa, userDelDoc, "delete_user", map[string]any{"email": "nobody@example.com"}), "no matching deleteuser")
	idRefused(t, idMutate(t, env, sa, userDelDoc, "delete_user", map[string]any{"email": fixture.SuperadminEmail}), "unexpected error: You cannot delete yourself.")
	idOK(t, idMutate(t, env, sa, userPrgDoc, "purge_user", map[string]any{"email": "erin@example.com", "input": map[string]any{"purge_shared_vfolders": false}}), "")
	require.Equal(t, http.StatusNotFound, idRestStatus(t, env, "/admin/users/erin@example.com"))
	require.Equal(t, http.StatusNotFound, idRestStatus(t, env, "/admin/keypairs/"+*u.MainAccessKey))
}

// TestKeypairMutationsCLI: admin keypair add/update/activate/deactivate/delete as sent by the
// client. activate/deactivate send is_admin, resource_policy and rate_limit as null, which
// leave those columns alone. Only superadmins may write keypairs.
func TestKeypairMutationsCLI(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	add := map[string]any{"user_id": "user2@lablup.com", "input": map[string]any{
		"is_active": true, "is_admin": false, "resource_policy": "default", "rate_limit": 5000,
	}}
	before := idKeypairCount(t, env, "user2@lablup.com")
	for _, c := range []*auth.Credentials{da, user} {
		idRefused(t, idMutate(t, env, c, keypairAddDoc, "create_keypair", add), "no permission to execute create_keypair")
	}
	require.Equal(t, before, idKeypairCount(t, env, "user2@lablup.com"))
	obj := idOK(t, idMutate(t, env, sa, keypairAddDoc, "create_keypair", add), "keypair")
	ak, sk := obj["access_key"].(string), obj["secret_key"].(string)
	require.Len(t, ak, 20)
	require.NotEmpty(t, sk)
	require.Equal(t, before+1, idKeypairCount(t, env, "user2@lablup.com"))
	var kp admin.Keypair
	idRest(t, env, "/admin/keypairs/"+ak, &kp)
	require.Equal(t, int32(5000), kp.RateLimit)
	require.True(t, kp.IsActive)
	gk := idQuery(t, env, `query($ak: String) { keypair(access_key: $ak) { user_id secret_key is_admin } }`, "keypair", map[string]any{"ak": ak})
	require.Equal(t, map[string]any{"user_id": "user2@lablup.com", "secret_key": sk, "is_admin": false}, gk)
	unknown := idMutate(t, env, sa, keypairAddDoc, "create_keypair", map[string]any{"user_id": "nobody@example.com", "input": add["input"]})
	require.False(t, *unknown.OK)
	require.Contains(t, *unknown.Msg, "integrity error: ")

	deactivate := map[string]any{"access_key": ak, "input": map[string]any{"is_active": false, "is_admin": nil, "resource_policy": nil, "rate_limit": nil}}
	activate := map[string]any{"access_key": ak, "input": map[string]any{"is_active": true, "is_admin": nil, "resource_policy": nil, "rate_limit": nil}}
	for _, c := range []*auth.Credentials{da, user} {
		idRefused(t, idMutate(t, env, c, keypairUpdDoc, "modify_keypair", deactivate), "no permission to execute modify_keypair")
		idRefused(t, idMutate(t, env, c, keypairDelDoc, "delete_keypair", map[string]any{"access_key": ak}), "no permission to execute delete_keypair")
	}
	idRest(t, env, "/admin/keypairs/"+ak, &kp)
	require.True(t, kp.IsActive)
	idOK(t, idMutate(t, env, sa, keypairUpdDoc, "modify_keypair", deactivate), "")
	idRest(t, env, "/admin/keypairs/"+ak, &kp)
	require.False(t, kp.IsActive)
	require.Equal(t, "default", kp.ResourcePolicy)
	require.Equal(t, int32(5000), kp.RateLimit)
	idOK(t, idMutate(t, env, sa, keypairUpdDoc, "modify_keypair", activate), "")
	gk = idQuery(t, env, `query($ak: String) { keypair(access_key: $ak) { is_active rate_limit resource_policy } }`, "keypair", map[string]any{"ak": ak})
	require.Equal(t, map[string]any{"is_active": true, "rate_limit": float64(5000), "resource_policy": "default"}, gk)
	// update: the options given.
	idOK(t, idMutate(t, env, sa, keypairUpdDoc, "modify_keypair", map[string]any{"access_key": ak, "input": map[string]any{"rate_limit": 700}}), "")
	idRest(t, env, "/admin/keypairs/"+ak, &kp)
	require.Equal(t, int32(700), kp.RateLimit)
	idRefused(t, idMutate(t, env, sa, keypairUpdDoc, "modify_keypair", map[string]any{"access_key": "AKIANOSUCHKEYEXAMPLE", "input": map[string]any{"rate_limit": 1}}),
		"no matching modifykeypair")

	// delete: never a main access key; then the keypair goes.
	idRefused(t, idMutate(t, env, sa, keypairDelDoc, "delete_keypair", map[string]any{"access_key": fixture.User2AccessKey}),
		"the keypair is used as main access key by any user")
	idRest(t, env, "/admin/keypairs/"+fixture.User2AccessKey, &kp)
	idOK(t, idMutate(t, env, sa, keypairDelDoc, "delete_keypair", map[string]any{"access_key": ak}), "")
	require.Equal(t, http.StatusNotFound, idRestStatus(t, env, "/admin/keypairs/"+ak))
	idRefused(t, idMutate(t, env, sa, keypairDelDoc, "delete_keypair", map[string]any{"access_key": ak}), "no matching deletekeypair")
}

func idKeypairCount(t *testing.T, env *functionstest.Env, email string) int {
	t.Helper()
	var n int
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM keypairs kp JOIN users u ON u.uuid = kp."user" WHERE u.email = $1`, email).Scan(&n))
	return n
}

// TestIdentityMutationsFrozen: while the manager is frozen every identity mutation is refused
// with Backend.AI's frozen text as a GraphQL error on its field, and nothing changes; queries
// go on.
func TestIdentityMutationsFrozen(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	require.NoError(t, env.Etcd.Put(context.Background(), "manager/status", "frozen"))
	require.Eventually(t, func() bool { return env.Shared.ManagerStatus() == "frozen" }, 5*time.Second, 10*time.Millisecond)
	const frozen = "The server is frozen due to maintenance. Please try again later."
	for _, m := range []struct {
		doc, field string
		v          map[string]any
	}{
		{domainAddDoc, "create_domain", map[string]any{"name": "frosty", "input": map[string]any{}}},
		{domainUpdDoc, "modify_domain", map[string]any{"name": "default", "input": map[string]any{"description": "x"}}},
		{domainDelDoc, "delete_domain", map[string]any{"name": "default"}},
		{domainPrgDoc, "purge_domain", map[string]any{"name": "default"}},
		{groupAddDoc, "create_group", map[string]any{"name": "frosty", "input": map[string]any{"domain_name": "default"}}},
		{groupUpdDoc, "modify_group", map[string]any{"gid": fixture.DefaultProjectID, "input": map[string]any{"description": "x"}}},
		{groupDelDoc, "delete_group", map[string]any{"gid": fixture.DefaultProjectID}},
		{groupPrgDoc, "purge_group", map[string]any{"gid": fixture.DefaultProjectID}},
		{userAddDoc, "create_user", map[string]any{"email": "frosty@example.com", "input": map[string]any{"username": "f", "password": "frosty-pw", "need_password_change": false}}},
		{userUpdDoc, "modify_user", map[string]any{"email": fixture.UserEmail, "input": map[string]any{"full_name": "x"}}},
		{userDelDoc, "delete_user", map[string]any{"email": fixture.UserEmail}},
		{userPrgDoc, "purge_user", map[string]any{"email": fixture.UserEmail, "input": map[string]any{}}},
		{keypairAddDoc, "create_keypair", map[string]any{"user_id": fixture.UserEmail, "input": map[string]any{"resource_policy": "default", "rate_limit": 1}}},
		{keypairUpdDoc, "modify_keypair", map[string]any{"access_key": fixture.UserAccessKey, "input": map[string]any{"is_active": false}}},
		{keypairDelDoc, "delete_keypair", map[string]any{"access_key": fixture.User2AccessKey}},
	} {
		idGQLError(t, env, sa, m.doc, m.field, m.v, frozen)
	}
	require.Equal(t, http.StatusNotFound, idRestStatus(t, env, "/admin/domains/frosty"))
	require.Equal(t, http.StatusNotFound, idRestStatus(t, env, "/admin/users/frosty@example.com"))
	var u admin.User
	idRest(t, env, "/admin/users/"+fixture.UserEmail, &u)
	require.Equal(t, "active", u.Status)
	var kp admin.Keypair
	idRest(t, env, "/admin/keypairs/"+fixture.UserAccessKey, &kp)
	require.True(t, kp.IsActive)
	// Queries go on.
	require.Equal(t, fixture.UserAccessKey, field[map[string]any](t, post(t, env, user, psKeypairDoc, `{}`), "keypair")["access_key"])
}

// TestIdentityMutationsHostileInput: malformed values in the identity mutations answer 200
// with a GraphQL error naming the input, or an ok:false payload, never a server error, and
// change nothing; an empty modify is "nothing to update" for those allowed and a permission
// refusal for the others.
func TestIdentityMutationsHostileInput(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	domainIn := func(in map[string]any) map[string]any { return map[string]any{"name": "hostile", "input": in} }
	for _, c := range []struct {
		doc, field string
		v          map[string]any
		msg        string
	}{
		{domainAddDoc, "create_domain", domainIn(map[string]any{"total_resource_slots": "[1, 2]"}),
			"Missing or invalid API parameters. (total_resource_slots: a JSON object of slot amounts is required)"},
		{domainAddDoc, "create_domain", domainIn(map[string]any{"total_resource_slots": `{"cpu": true}`}),
			"Missing or invalid API parameters. (total_resource_slots.cpu: an amount (string or number) is required)"},
		{domainAddDoc, "create_domain", domainIn(map[string]any{"allowed_vfolder_hosts": `["local"]`}),
			"Missing or invalid API parameters. (allowed_vfolder_hosts: a JSON object of storage hosts and their permission lists is required)"},
		{groupUpdDoc, "modify_group", map[string]any{"gid": fixture.DefaultProjectID, "input": map[string]any{"container_registry": "[]"}},
			"Missing or invalid API parameters. (container_registry: a JSON object is required)"},
		{keypairAddDoc, "create_keypair", map[string]any{"user_id": fixture.UserEmail, "input": map[string]any{"resource_policy": "default", "rate_limit": -1}},
			"Missing or invalid API parameters. (rate_limit: must be between 0 and 2147483647)"},
	} {
		idGQLErrorPrefix(t, env, c.doc, c.field, c.v, c.msg)
	}
	// Service-side validation names the offending key.
	for _, c := range []struct {
		doc, field string
		v          map[string]any
		key        string
	}{
		{domainAddDoc, "create_domain", domainIn(map[string]any{"total_resource_slots": `{"cpu": "lots"}`}), "total_resource_slots"},
		{userAddDoc, "create_user", map[string]any{"email": "not-an-address", "input": map[string]any{"username": "x", "password": "x-password", "need_password_change": false}}, "email"},
		{userAddDoc, "create_user", map[string]any{"email": "ip@example.com", "input": map[string]any{"username": "x", "password": "x-password", "need_password_change": false, "allowed_client_ip": []string{"999.1.1.1"}}}, "allowed_client_ip"},
		{userAddDoc, "create_user", map[string]any{"email": "gid@example.com", "input": map[string]any{"username": "x", "password": "x-password", "need_password_change": false, "group_ids": []string{"not-a-uuid"}}}, "group_ids"},
		{groupUpdDoc, "modify_group", map[string]any{"gid": fixture.DefaultProjectID, "input": map[string]any{"user_update_mode": "add", "user_uuids": []string{"not-a-uuid"}}}, "user_ids"},
	} {
		idGQLErrorPrefix(t, env, c.doc, c.field, c.v, "Missing or invalid API parameters. ("+c.key)
	}
	// Unknown members and projects of another domain are integrity errors.
	p := idMutate(t, env, sa, groupUpdDoc, "modify_group", map[string]any{"gid": fixture.DefaultProjectID, "input": map[string]any{
		"user_update_mode": "add", "user_uuids": []string{"8f7d1c1e-0000-4000-8000-000000000000"}}})
	require.False(t, *p.OK)
	require.Contains(t, *p.Msg, "integrity error: ")
	// Nothing written by any of them.
	require.Equal(t, http.StatusNotFound, idRestStatus(t, env, "/admin/domains/hostile"))
	for _, email := range []string{"not-an-address", "ip@example.com", "gid@example.com"} {
		require.Equal(t, http.StatusNotFound, idRestStatus(t, env, "/admin/users/"+email))
	}
	// Empty modifies.
	empty := map[string]any{"gid": fixture.DefaultProjectID, "input": map[string]any{}}
	idRefused(t, idMutate(t, env, da, groupUpdDoc, "modify_group", empty), "nothing to update")
	idRefused(t, idMutate(t, env, user, groupUpdDoc, "modify_group", empty), "no permission to execute modify_group")
	emptyUser := map[string]any{"email": fixture.UserEmail, "input": map[string]any{}}
	idRefused(t, idMutate(t, env, sa, userUpdDoc, "modify_user", emptyUser), "nothing to update")
	idRefused(t, idMutate(t, env, da, userUpdDoc, "modify_user", emptyUser), "no permission to execute modify_user")
}

// requireGQLErrorContains requires data.<field> null and one error naming field whose
// message starts with prefix, as the superadmin.
func idGQLErrorPrefix(t *testing.T, env *functionstest.Env, doc, field string, v map[string]any, prefix string) {
	t.Helper()
	r := post(t, env, sa, doc, idVars(t, v))
	require.JSONEq(t, "null", string(r.Data[field]), "body: %s", r.Raw)
	require.Len(t, r.Errors, 1, "body: %s", r.Raw)
	require.True(t, strings.HasPrefix(r.Errors[0]["message"].(string), prefix), "want %q…, body: %s", prefix, r.Raw)
	require.Equal(t, []any{field}, r.Errors[0]["path"])
}

// TestPurgeRefusedWhileKernelsRun: purge_user, purge_group and purge_domain refuse with
// upstream's texts while the object has kernels that have not ended; once they ended,
// purge_user removes the user with their ended sessions.
func TestPurgeRefusedWhileKernelsRun(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	ctx := context.Background()
	idOK(t, idMutate(t, env, sa, userAddDoc, "create_user", map[string]any{"email": "gone@example.com", "input": map[string]any{
		"username": "gone", "password": "gone-password", "need_password_change": false, "domain_name": "default",
		"group_ids": []string{fixture.DefaultProjectID},
	}}), "user")
	var ak string
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `SELECT main_access_key FROM users WHERE email = 'gone@example.com'`).Scan(&ak))
	sid := seedSession(t, env, ak, "busy", `{"cpu": "1"}`)
	var gid string
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `SELECT group_id::text FROM sessions WHERE id = $1`, sid).Scan(&gid))

	idRefused(t, idMutate(t, env, sa, userPrgDoc, "purge_user", map[string]any{"email": "gone@example.com", "input": map[string]any{"purge_shared_vfolders": false}}),
		"unexpected error: User has some active kernels. Terminate them first.")
	idRefused(t, idMutate(t, env, sa, groupPrgDoc, "purge_group", map[string]any{"gid": gid}),
		"unexpected error: Group has some active session. Terminate them first to proceed removal.")
	idRefused(t, idMutate(t, env, sa, domainPrgDoc, "purge_domain", map[string]any{"name": "default"}),
		"unexpected error: Domain has some active kernels. Terminate them first.")
	require.Equal(t, http.StatusOK, idRestStatus(t, env, "/admin/users/gone@example.com"))

	_, err := env.DB.Pool.Exec(ctx, `UPDATE kernels SET status = 'TERMINATED' WHERE session_id = $1`, sid)
	require.NoError(t, err)
	_, err = env.DB.Pool.Exec(ctx, `UPDATE sessions SET status = 'TERMINATED' WHERE id = $1`, sid)
	require.NoError(t, err)
	idOK(t, idMutate(t, env, sa, userPrgDoc, "purge_user", map[string]any{"email": "gone@example.com", "input": map[string]any{"purge_shared_vfolders": false}}), "")
	require.Equal(t, http.StatusNotFound, idRestStatus(t, env, "/admin/users/gone@example.com"))
	var n int
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE id = $1`, sid).Scan(&n))
	require.Zero(t, n)
}
