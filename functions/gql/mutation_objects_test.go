package gql_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/adminsvc"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/fixture"
)

// The documents the 24.03.2 CLI sends for policies, presets, scaling groups and images: the
// alias and rescan documents exactly as captured, the others as its functions build them.
const (
	aliasDoc  = `mutation($alias: String!, $target: String!) { alias_image(alias: $alias, target: $target) { ok msg }}`
	rescanDoc = `mutation($registry: String) { rescan_images(registry:$registry) { ok msg task_id }}`

	dealiasDoc    = `mutation($alias: String!) { dealias_image(alias: $alias) { ok msg }}`
	forgetDoc     = `mutation($reference: String!, $architecture: String!) { forget_image(reference: $reference, architecture: $architecture) { ok msg image { id name registry architecture } }}`
	forgetByIDDoc = `mutation($image_id: String!) { forget_image_by_id(image_id: $image_id) { ok msg image { id name } }}`

	createKPPolicyDoc = `mutation($name: String!, $input: CreateKeyPairResourcePolicyInput!) { create_keypair_resource_policy(name: $name, props: $input) { ok msg resource_policy { name created_at default_for_unspecified total_resource_slots max_session_lifetime max_concurrent_sessions max_containers_per_session idle_timeout allowed_vfolder_hosts } } }`
	modifyKPPolicyDoc = `mutation($name: String!, $input: ModifyKeyPairResourcePolicyInput!) { modify_keypair_resource_policy(name: $name, props: $input) { ok msg } }`
	deleteKPPolicyDoc = `mutation($name: String!) { delete_keypair_resource_policy(name: $name) { ok msg } }`

	createUserPolicyDoc    = `mutation($name: String!, $input: CreateUserResourcePolicyInput!) { create_user_resource_policy(name: $name, props: $input) { ok msg resource_policy { id name created_at max_vfolder_count max_quota_scope_size max_session_count_per_model_session max_customized_image_count } } }`
	modifyUserPolicyDoc    = `mutation($name: String!, $input: ModifyUserResourcePolicyInput!) { modify_user_resource_policy(name: $name, props: $input) { ok msg } }`
	deleteUserPolicyDoc    = `mutation($name: String!) { delete_user_resource_policy(name: $name) { ok msg } }`
	createProjectPolicyDoc = `mutation($name: String!, $input: CreateProjectResourcePolicyInput!) { create_project_resource_policy(name: $name, props: $input) { ok msg resource_policy { id name created_at max_vfolder_count max_quota_scope_size } } }`
	modifyProjectPolicyDoc = `mutation($name: String!, $input: ModifyProjectResourcePolicyInput!) { modify_project_resource_policy(name: $name, props: $input) { ok msg } }`
	deleteProjectPolicyDoc = `mutation($name: String!) { delete_project_resource_policy(name: $name) { ok msg } }`

	createPresetDoc = `mutation($name: String!, $input: CreateResourcePresetInput!) { create_resource_preset(name: $name, props: $input) { ok msg resource_preset { name resource_slots shared_memory } } }`
	modifyPresetDoc = `mutation($name: String!, $input: ModifyResourcePresetInput!) { modify_resource_preset(name: $name, props: $input) { ok msg } }`
	deletePresetDoc = `mutation($name: String!) { delete_resource_preset(name: $name) { ok msg } }`

	createSGDoc         = `mutation($name: String!, $input: CreateScalingGroupInput!) { create_scaling_group(name: $name, props: $input) { ok msg scaling_group { name description is_active is_public created_at driver driver_opts scheduler scheduler_opts use_host_network wsproxy_addr wsproxy_api_token } } }`
	modifySGDoc         = `mutation($name: String!, $input: ModifyScalingGroupInput!) { modify_scaling_group(name: $name, props: $input) { ok msg } }`
	deleteSGDoc         = `mutation($name: String!) { delete_scaling_group(name: $name) { ok msg } }`
	assocDomainDoc      = `mutation($scaling_group: String!, $domain: String!) { associate_scaling_group_with_domain(scaling_group: $scaling_group, domain: $domain) { ok msg } }`
	dissocDomainDoc     = `mutation($scaling_group: String!, $domain: String!) { disassociate_scaling_group_with_domain(scaling_group: $scaling_group, domain: $domain) { ok msg } }`
	assocGroupDoc       = `mutation($scaling_group: String!, $user_group: UUID!) { associate_scaling_group_with_user_group(scaling_group: $scaling_group, user_group: $user_group) { ok msg } }`
	dissocGroupDoc      = `mutation($scaling_group: String!, $user_group: UUID!) { disassociate_scaling_group_with_user_group(scaling_group: $scaling_group, user_group: $user_group) { ok msg } }`
	assocKeypairDoc     = `mutation($scaling_group: String!, $access_key: String!) { associate_scaling_group_with_keypair(scaling_group: $scaling_group, access_key: $access_key) { ok msg } }`
	dissocKeypairDoc    = `mutation($scaling_group: String!, $access_key: String!) { disassociate_scaling_group_with_keypair(scaling_group: $scaling_group, access_key: $access_key) { ok msg } }`
	dissocAllDomainDoc  = `mutation($domain: String!) { disassociate_all_scaling_groups_with_domain(domain: $domain) { ok msg } }`
	dissocAllGroupDoc   = `mutation($group: UUID!) { disassociate_all_scaling_groups_with_group(user_group: $group) { ok msg } }`
	defaultProjectID    = "2de2b969-1d04-48a6-af16-0bc8adb3c831"
	createKPPolicyInput = `{"name": "gpu-team", "input": {"default_for_unspecified": "UNLIMITED", "total_resource_slots": "{\"cpu\": \"8\", \"mem\": \"16g\"}", "max_session_lifetime": 0, "max_concurrent_sessions": 3, "max_concurrent_sftp_sessions": 2, "max_containers_per_session": 2, "idle_timeout": 3600, "allowed_vfolder_hosts": "{\"local:volume1\": [\"mount-in-session\"]}"}}`
)

// okMsg is a payload's ok and msg.
type okMsg struct {
	Ok  *bool   `json:"ok"`
	Msg *string `json:"msg"`
}

// mutate posts a mutation document and decodes its one root field.
func mutate[T any](t *testing.T, env *functionstest.Env, creds *auth.Credentials, doc, vars, root string) T {
	t.Helper()
	return field[T](t, post(t, env, creds, doc, vars), root)
}

// requireOK checks a successful payload.
func requireOK(t *testing.T, p okMsg) {
	t.Helper()
	require.NotNil(t, p.Ok)
	require.True(t, *p.Ok, "msg: %v", p.Msg)
}

// requireFailed checks a failed payload with msg.
func requireFailed(t *testing.T, p okMsg, msg string) {
	t.Helper()
	require.NotNil(t, p.Ok)
	require.False(t, *p.Ok)
	require.NotNil(t, p.Msg)
	require.Equal(t, msg, *p.Msg)
}

// requireGQLError checks that a document answers one GraphQL error with msg and the field
// null.
func requireGQLError(t *testing.T, env *functionstest.Env, creds *auth.Credentials, doc, vars, root, msg string) {
	t.Helper()
	r := post(t, env, creds, doc, vars)
	require.Len(t, r.Errors, 1, "body: %s", r.Raw)
	require.Equal(t, msg, r.Errors[0]["message"], "body: %s", r.Raw)
	require.Equal(t, "null", string(r.Data[root]), "body: %s", r.Raw)
}

// restGet reads path through REST as the superadmin into out (on 200) and returns the status.
func restGet(t *testing.T, env *functionstest.Env, path string, out any) int {
	t.Helper()
	res := env.Do(t, http.MethodGet, path, nil, sa)
	if out != nil && res.Status == http.StatusOK {
		res.JSON(t, out)
	}
	return res.Status
}

// TestPolicyAndPresetMutationDocuments: the CLI's policy and preset documents, per role.
// Users and domain admins get {ok: false, "no permission to execute <field>"} and nothing
// changes; a superadmin creates (the object is returned, non-null), modifies and deletes,
// and every change is what the REST API shows.
func TestPolicyAndPresetMutationDocuments(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)

	type kpCreate struct {
		okMsg
		ResourcePolicy *struct {
			Name                  string `json:"name"`
			DefaultForUnspecified string `json:"default_for_unspecified"`
			TotalResourceSlots    string `json:"total_resource_slots"`
			MaxConcurrentSessions int    `json:"max_concurrent_sessions"`
			IdleTimeout           int64  `json:"idle_timeout"`
			AllowedVfolderHosts   string `json:"allowed_vfolder_hosts"`
		} `json:"resource_policy"`
	}
	for _, c := range []*auth.Credentials{user, da} {
		p := mutate[kpCreate](t, env, c, createKPPolicyDoc, createKPPolicyInput, "create_keypair_resource_policy")
		requireFailed(t, p.okMsg, "no permission to execute create_keypair_resource_policy")
		require.Nil(t, p.ResourcePolicy)
		requireFailed(t, mutate[okMsg](t, env, c, deleteKPPolicyDoc, `{"name": "default"}`, "delete_keypair_resource_policy"),
			"no permission to execute delete_keypair_resource_policy")
	}
	require.Equal(t, http.StatusNotFound, restGet(t, env, "/admin/keypair-resource-policies/gpu-team", nil))

	p := mutate[kpCreate](t, env, sa, createKPPolicyDoc, createKPPolicyInput, "create_keypair_resource_policy")
	requireOK(t, p.okMsg)
	require.NotNil(t, p.ResourcePolicy)
	require.Equal(t, "gpu-team", p.ResourcePolicy.Name)
	require.Equal(t, "UNLIMITED", p.ResourcePolicy.DefaultForUnspecified)
	require.JSONEq(t, `{"cpu": "8", "mem": "17179869184"}`, p.ResourcePolicy.TotalResourceSlots)
	require.EqualValues(t, 3600, p.ResourcePolicy.IdleTimeout)
	var rest struct {
		TotalResourceSlots        map[string]string `json:"total_resource_slots"`
		MaxConcurrentSessions     int               `json:"max_concurrent_sessions"`
		MaxConcurrentSftpSessions int               `json:"max_concurrent_sftp_sessions"`
		MaxContainersPerSession   int               `json:"max_containers_per_session"`
		AllowedVfolderHosts       map[string]any    `json:"allowed_vfolder_hosts"`
	}
	require.Equal(t, http.StatusOK, restGet(t, env, "/admin/keypair-resource-policies/gpu-team", &rest))
	require.Equal(t, map[string]string{"cpu": "8", "mem": "17179869184"}, rest.TotalResourceSlots)
	require.Equal(t, 3, rest.MaxConcurrentSessions)
	require.Equal(t, 2, rest.MaxConcurrentSftpSessions, "the sftp limit is stored as given")
	require.Equal(t, 2, rest.MaxContainersPerSession)
	require.Contains(t, rest.AllowedVfolderHosts, "local:volume1")

	// A duplicate is an integrity error; a bad enum spelling and a bad slot are GraphQL errors.
	dup := mutate[kpCreate](t, env, sa, createKPPolicyDoc, createKPPolicyInput, "create_keypair_resource_policy")
	require.False(t, *dup.Ok)
	require.Contains(t, *dup.Msg, "integrity error: ")
	require.Nil(t, dup.ResourcePolicy)
	requireGQLError(t, env, sa, createKPPolicyDoc,
		`{"name": "x", "input": {"default_for_unspecified": "SOMETIMES", "max_concurrent_sessions": 1, "max_containers_per_session": 1, "idle_timeout": 0}}`,
		"create_keypair_resource_policy", "'SOMETIMES'")
	r := post(t, env, sa, createKPPolicyDoc,
		`{"name": "x", "input": {"default_for_unspecified": "LIMITED", "total_resource_slots": "{\"cpu\": \"lots\"}", "max_concurrent_sessions": 1, "max_containers_per_session": 1, "idle_timeout": 0}}`)
	require.Len(t, r.Errors, 1, r.Raw)
	require.Contains(t, r.Errors[0]["message"], "Missing or invalid API parameters. (total_resource_slots")
	requireGQLError(t, env, sa, createKPPolicyDoc,
		`{"name": "x", "input": {"default_for_unspecified": "LIMITED", "max_concurrent_sessions": 4294967296, "max_containers_per_session": 1, "idle_timeout": 0}}`,
		"create_keypair_resource_policy", "Missing or invalid API parameters. (max_concurrent_sessions: 4294967296 is out of range)")
	require.Equal(t, http.StatusNotFound, restGet(t, env, "/admin/keypair-resource-policies/x", nil))

	// Modify: explicit nulls leave the columns alone.
	requireOK(t, mutate[okMsg](t, env, sa, modifyKPPolicyDoc,
		`{"name": "gpu-team", "input": {"max_concurrent_sessions": 7, "max_containers_per_session": null, "default_for_unspecified": null}}`,
		"modify_keypair_resource_policy"))
	require.Equal(t, http.StatusOK, restGet(t, env, "/admin/keypair-resource-policies/gpu-team", &rest))
	require.Equal(t, 7, rest.MaxConcurrentSessions)
	require.Equal(t, 2, rest.MaxContainersPerSession)
	requireFailed(t, mutate[okMsg](t, env, sa, modifyKPPolicyDoc, `{"name": "nope", "input": {"max_concurrent_sessions": 1}}`, "modify_keypair_resource_policy"),
		"no matching modifykeypairresourcepolicy")

	// A policy in use cannot go; an unknown one is no match; an unused one goes.
	inUse := mutate[okMsg](t, env, sa, deleteKPPolicyDoc, `{"name": "default"}`, "delete_keypair_resource_policy")
	require.False(t, *inUse.Ok)
	require.Contains(t, *inUse.Msg, "integrity error: ")
	requireFailed(t, mutate[okMsg](t, env, sa, deleteKPPolicyDoc, `{"name": "nope"}`, "delete_keypair_resource_policy"),
		"no matching deletekeypairresourcepolicy")
	requireOK(t, mutate[okMsg](t, env, sa, deleteKPPolicyDoc, `{"name": "gpu-team"}`, "delete_keypair_resource_policy"))
	require.Equal(t, http.StatusNotFound, restGet(t, env, "/admin/keypair-resource-policies/gpu-team", nil))

	// User and project resource policies.
	type policyCreate struct {
		okMsg
		ResourcePolicy *struct {
			ID                string `json:"id"`
			Name              string `json:"name"`
			MaxVfolderCount   int    `json:"max_vfolder_count"`
			MaxQuotaScopeSize int64  `json:"max_quota_scope_size"`
		} `json:"resource_policy"`
	}
	requireFailed(t, mutate[okMsg](t, env, da, createUserPolicyDoc, `{"name": "lab", "input": {}}`, "create_user_resource_policy"),
		"no permission to execute create_user_resource_policy")
	up := mutate[policyCreate](t, env, sa, createUserPolicyDoc, `{"name": "lab", "input": {"max_vfolder_count": 5, "max_quota_scope_size": 1073741824}}`, "create_user_resource_policy")
	requireOK(t, up.okMsg)
	require.NotNil(t, up.ResourcePolicy)
	require.Equal(t, 5, up.ResourcePolicy.MaxVfolderCount)
	requireOK(t, mutate[okMsg](t, env, sa, modifyUserPolicyDoc, `{"name": "lab", "input": {"max_customized_image_count": 9}}`, "modify_user_resource_policy"))
	var urest struct {
		MaxVfolderCount         int   `json:"max_vfolder_count"`
		MaxQuotaScopeSize       int64 `json:"max_quota_scope_size"`
		MaxCustomizedImageCount int   `json:"max_customized_image_count"`
	}
	require.Equal(t, http.StatusOK, restGet(t, env, "/admin/user-resource-policies/lab", &urest))
	require.Equal(t, 5, urest.MaxVfolderCount)
	require.EqualValues(t, 1073741824, urest.MaxQuotaScopeSize)
	require.Equal(t, 9, urest.MaxCustomizedImageCount)
	requireFailed(t, mutate[okMsg](t, env, user, deleteUserPolicyDoc, `{"name": "lab"}`, "delete_user_resource_policy"),
		"no permission to execute delete_user_resource_policy")
	requireOK(t, mutate[okMsg](t, env, sa, deleteUserPolicyDoc, `{"name": "lab"}`, "delete_user_resource_policy"))
	require.Equal(t, http.StatusNotFound, restGet(t, env, "/admin/user-resource-policies/lab", nil))

	pp := mutate[policyCreate](t, env, sa, createProjectPolicyDoc, `{"name": "lab", "input": {"max_vfolder_count": 2}}`, "create_project_resource_policy")
	requireOK(t, pp.okMsg)
	require.NotNil(t, pp.ResourcePolicy)
	require.EqualValues(t, -1, pp.ResourcePolicy.MaxQuotaScopeSize)
	requireOK(t, mutate[okMsg](t, env, sa, modifyProjectPolicyDoc, `{"name": "lab", "input": {"max_quota_scope_size": 10}}`, "modify_project_resource_policy"))
	require.Equal(t, http.StatusOK, restGet(t, env, "/admin/project-resource-policies/lab", &urest))
	require.EqualValues(t, 10, urest.MaxQuotaScopeSize)
	requireFailed(t, mutate[okMsg](t, env, sa, deleteProjectPolicyDoc, `{"name": "nope"}`, "delete_project_resource_policy"),
		"no matching deleteprojectresourcepolicy")
	requireOK(t, mutate[okMsg](t, env, sa, deleteProjectPolicyDoc, `{"name": "lab"}`, "delete_project_resource_policy"))

	// Resource presets.
	type presetCreate struct {
		okMsg
		ResourcePreset *struct {
			Name          string `json:"name"`
			ResourceSlots string `json:"resource_slots"`
			SharedMemory  *int64 `json:"shared_memory"`
		} `json:"resource_preset"`
	}
	presetVars := `{"name": "small", "input": {"resource_slots": "{\"cpu\": \"2\", \"mem\": \"4g\"}", "shared_memory": "1g"}}`
	requireFailed(t, mutate[okMsg](t, env, da, createPresetDoc, presetVars, "create_resource_preset"),
		"no permission to execute create_resource_preset")
	pr := mutate[presetCreate](t, env, sa, createPresetDoc, presetVars, "create_resource_preset")
	requireOK(t, pr.okMsg)
	require.NotNil(t, pr.ResourcePreset)
	require.JSONEq(t, `{"cpu": "2", "mem": "4294967296"}`, pr.ResourcePreset.ResourceSlots)
	require.EqualValues(t, 1<<30, *pr.ResourcePreset.SharedMemory)
	requireGQLError(t, env, sa, createPresetDoc, `{"name": "cpuonly", "input": {"resource_slots": "{\"cpu\": \"2\"}"}}`,
		"create_resource_preset", "Missing or invalid API parameters. (resource_slots: a preset must give mem)")
	// shared_memory given as null clears it; absent leaves it.
	requireOK(t, mutate[okMsg](t, env, sa, modifyPresetDoc, `{"name": "small", "input": {"resource_slots": "{\"cpu\": 4, \"mem\": \"4g\"}"}}`, "modify_resource_preset"))
	var prest struct {
		ResourceSlots map[string]string `json:"resource_slots"`
		SharedMemory  *string           `json:"shared_memory"`
	}
	require.Equal(t, http.StatusOK, restGet(t, env, "/admin/resource-presets/small", &prest))
	require.Equal(t, "4", prest.ResourceSlots["cpu"])
	require.NotNil(t, prest.SharedMemory)
	requireOK(t, mutate[okMsg](t, env, sa, modifyPresetDoc, `{"name": "small", "input": {"shared_memory": null}}`, "modify_resource_preset"))
	require.Equal(t, http.StatusOK, restGet(t, env, "/admin/resource-presets/small", &prest))
	require.Nil(t, prest.SharedMemory)
	requireOK(t, mutate[okMsg](t, env, sa, deletePresetDoc, `{"name": "small"}`, "delete_resource_preset"))
	require.Equal(t, http.StatusNotFound, restGet(t, env, "/admin/resource-presets/small", nil))
	requireFailed(t, mutate[okMsg](t, env, sa, deletePresetDoc, `{"name": "small"}`, "delete_resource_preset"),
		"no matching deleteresourcepreset")
}

// TestScalingGroupMutationDocuments: the CLI's scaling group documents per role, with the
// associations and their REST views.
func TestScalingGroupMutationDocuments(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	createVars := `{"name": "gpu", "input": {"description": "GPU nodes", "is_active": true, "is_public": false, "driver": "static", "driver_opts": "{}", "scheduler": "drf", "scheduler_opts": "{\"allowed_session_types\": [\"batch\"], \"pending_timeout\": 30}", "use_host_network": false, "wsproxy_addr": "http://127.0.0.1:5050"}}`
	type sgCreate struct {
		okMsg
		ScalingGroup *struct {
			Name          string  `json:"name"`
			IsPublic      bool    `json:"is_public"`
			Scheduler     string  `json:"scheduler"`
			SchedulerOpts string  `json:"scheduler_opts"`
			WsproxyAddr   *string `json:"wsproxy_addr"`
		} `json:"scaling_group"`
	}
	for _, c := range []*auth.Credentials{user, da} {
		requireFailed(t, mutate[okMsg](t, env, c, createSGDoc, createVars, "create_scaling_group"), "no permission to execute create_scaling_group")
		requireFailed(t, mutate[okMsg](t, env, c, assocDomainDoc, `{"scaling_group": "default", "domain": "default"}`, "associate_scaling_group_with_domain"),
			"no permission to execute associate_scaling_group_with_domain")
		requireFailed(t, mutate[okMsg](t, env, c, dissocAllDomainDoc, `{"domain": "default"}`, "disassociate_all_scaling_groups_with_domain"),
			"no permission to execute disassociate_all_scaling_groups_with_domain")
	}
	require.Equal(t, http.StatusNotFound, restGet(t, env, "/admin/scaling-groups/gpu", nil))

	sg := mutate[sgCreate](t, env, sa, createSGDoc, createVars, "create_scaling_group")
	requireOK(t, sg.okMsg)
	require.NotNil(t, sg.ScalingGroup)
	require.Equal(t, "drf", sg.ScalingGroup.Scheduler)
	require.False(t, sg.ScalingGroup.IsPublic)
	var opts map[string]any
	require.NoError(t, json.Unmarshal([]byte(sg.ScalingGroup.SchedulerOpts), &opts))
	require.Equal(t, []any{"batch"}, opts["allowed_session_types"])
	require.EqualValues(t, 30, opts["pending_timeout"])
	require.Equal(t, "dispersed", opts["agent_selection_strategy"])

	requireGQLError(t, env, sa, createSGDoc, `{"name": "bad", "input": {"driver": "static", "scheduler": "fifo", "scheduler_opts": "{\"allowed_session_types\": [\"nap\"]}"}}`,
		"create_scaling_group", "Missing or invalid API parameters. (scheduler_opts.allowed_session_types: unknown session type nap)")

	// Modify: an explicit null clears a nullable column, absent fields stay.
	requireOK(t, mutate[okMsg](t, env, sa, modifySGDoc, `{"name": "gpu", "input": {"description": null, "is_public": true}}`, "modify_scaling_group"))
	var rest struct {
		Description *string `json:"description"`
		IsPublic    bool    `json:"is_public"`
		WsproxyAddr *string `json:"wsproxy_addr"`
	}
	require.Equal(t, http.StatusOK, restGet(t, env, "/admin/scaling-groups/gpu", &rest))
	require.Nil(t, rest.Description)
	require.True(t, rest.IsPublic)
	require.Equal(t, "http://127.0.0.1:5050", *rest.WsproxyAddr)
	requireFailed(t, mutate[okMsg](t, env, sa, modifySGDoc, `{"name": "nope", "input": {"is_public": true}}`, "modify_scaling_group"),
		"no matching modifyscalinggroup")

	// Associations: new ones succeed, a duplicate is an integrity error, removals follow.
	count := func(kind string) int {
		var l struct {
			TotalCount int `json:"total_count"`
		}
		require.Equal(t, http.StatusOK, restGet(t, env, "/admin/scaling-groups/gpu/"+kind, &l))
		return l.TotalCount
	}
	requireOK(t, mutate[okMsg](t, env, sa, assocDomainDoc, `{"scaling_group": "gpu", "domain": "default"}`, "associate_scaling_group_with_domain"))
	dup := mutate[okMsg](t, env, sa, assocDomainDoc, `{"scaling_group": "gpu", "domain": "default"}`, "associate_scaling_group_with_domain")
	require.False(t, *dup.Ok)
	require.Contains(t, *dup.Msg, "integrity error: ")
	requireOK(t, mutate[okMsg](t, env, sa, assocGroupDoc, `{"scaling_group": "gpu", "user_group": "`+defaultProjectID+`"}`, "associate_scaling_group_with_user_group"))
	requireOK(t, mutate[okMsg](t, env, sa, assocKeypairDoc, `{"scaling_group": "gpu", "access_key": "`+fixture.UserAccessKey+`"}`, "associate_scaling_group_with_keypair"))
	require.Equal(t, 1, count("domains"))
	require.Equal(t, 1, count("projects"))
	require.Equal(t, 1, count("keypairs"))
	requireFailed(t, mutate[okMsg](t, env, sa, assocDomainDoc, `{"scaling_group": "gpu", "domain": "nope"}`, "associate_scaling_group_with_domain"),
		"no matching associatescalinggroupwithdomain")

	requireOK(t, mutate[okMsg](t, env, sa, dissocKeypairDoc, `{"scaling_group": "gpu", "access_key": "`+fixture.UserAccessKey+`"}`, "disassociate_scaling_group_with_keypair"))
	requireFailed(t, mutate[okMsg](t, env, sa, dissocKeypairDoc, `{"scaling_group": "gpu", "access_key": "`+fixture.UserAccessKey+`"}`, "disassociate_scaling_group_with_keypair"),
		"no matching disassociatescalinggroupwithkeypair")
	requireOK(t, mutate[okMsg](t, env, sa, dissocGroupDoc, `{"scaling_group": "gpu", "user_group": "`+defaultProjectID+`"}`, "disassociate_scaling_group_with_user_group"))
	requireOK(t, mutate[okMsg](t, env, sa, dissocDomainDoc, `{"scaling_group": "gpu", "domain": "default"}`, "disassociate_scaling_group_with_domain"))
	require.Zero(t, count("keypairs"))
	require.Zero(t, count("projects"))
	require.Zero(t, count("domains"))

	// Disassociate-all removes the domain's and the project's associations with every group.
	requireOK(t, mutate[okMsg](t, env, sa, assocGroupDoc, `{"scaling_group": "gpu", "user_group": "`+defaultProjectID+`"}`, "associate_scaling_group_with_user_group"))
	requireOK(t, mutate[okMsg](t, env, sa, assocDomainDoc, `{"scaling_group": "gpu", "domain": "default"}`, "associate_scaling_group_with_domain"))
	requireOK(t, mutate[okMsg](t, env, sa, dissocAllGroupDoc, `{"group": "`+defaultProjectID+`"}`, "disassociate_all_scaling_groups_with_group"))
	requireOK(t, mutate[okMsg](t, env, sa, dissocAllDomainDoc, `{"domain": "default"}`, "disassociate_all_scaling_groups_with_domain"))
	require.Zero(t, count("projects"))
	require.Zero(t, count("domains"))
	var def struct {
		TotalCount int `json:"total_count"`
	}
	require.Equal(t, http.StatusOK, restGet(t, env, "/admin/scaling-groups/default/domains", &def))
	require.Zero(t, def.TotalCount)
	requireFailed(t, mutate[okMsg](t, env, sa, dissocAllDomainDoc, `{"domain": "default"}`, "disassociate_all_scaling_groups_with_domain"),
		"no matching disassociateallscalinggroupswithdomain")

	requireOK(t, mutate[okMsg](t, env, sa, deleteSGDoc, `{"name": "gpu"}`, "delete_scaling_group"))
	require.Equal(t, http.StatusNotFound, restGet(t, env, "/admin/scaling-groups/gpu", nil))
	requireFailed(t, mutate[okMsg](t, env, sa, deleteSGDoc, `{"name": "gpu"}`, "delete_scaling_group"), "no matching deletescalinggroup")
}

// TestImageMutationDocuments: the captured alias and rescan documents and the dealias and
// forget documents per role, with the images the REST API shows.
func TestImageMutationDocuments(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	ctx := context.Background()
	var userUUID uuid.UUID
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `SELECT "user" FROM keypairs WHERE access_key = $1`, fixture.UserAccessKey).Scan(&userUUID))
	_, err := env.DB.Pool.Exec(ctx, `
		INSERT INTO images (name, image, tag, registry, architecture, labels) VALUES
		('r.example/mine:1', 'mine', '1', 'r.example', 'x86_64', jsonb_build_object('ai.backend.customized-image.owner', 'user:' || $1::text)),
		('r.example/base:1', 'base', '1', 'r.example', 'x86_64', '{}')`, userUUID.String())
	require.NoError(t, err)
	aliases := func(name string) []string {
		var out struct {
			Items []struct {
				Name    string   `json:"name"`
				Aliases []string `json:"aliases"`
			} `json:"items"`
		}
		require.Equal(t, http.StatusOK, restGet(t, env, "/admin/images?registry=r.example", &out))
		for _, it := range out.Items {
			if it.Name == name {
				return it.Aliases
			}
		}
		return nil
	}

	aliasVars := `{"alias": "py311", "target": "r.example/base:1"}`
	for _, c := range []*auth.Credentials{user, da} {
		requireFailed(t, mutate[okMsg](t, env, c, aliasDoc, aliasVars, "alias_image"), "no permission to execute alias_image")
	}
	require.Empty(t, aliases("r.example/base:1"))
	p := mutate[okMsg](t, env, sa, aliasDoc, aliasVars, "alias_image")
	requireOK(t, p)
	require.Empty(t, *p.Msg)
	require.Equal(t, []string{"py311"}, aliases("r.example/base:1"))
	requireGQLError(t, env, sa, aliasDoc, `{"alias": "x", "target": "r.example/nope:1"}`, "alias_image", "No such environment image.")

	requireFailed(t, mutate[okMsg](t, env, da, dealiasDoc, `{"alias": "py311"}`, "dealias_image"), "no permission to execute dealias_image")
	requireOK(t, mutate[okMsg](t, env, sa, dealiasDoc, `{"alias": "py311"}`, "dealias_image"))
	require.Empty(t, aliases("r.example/base:1"))
	requireFailed(t, mutate[okMsg](t, env, sa, dealiasDoc, `{"alias": "py311"}`, "dealias_image"), "No such alias")

	// Rescan: superadmins and domain admins queue it, users may not.
	type rescan struct {
		okMsg
		TaskID *string `json:"task_id"`
	}
	rs := mutate[rescan](t, env, user, rescanDoc, `{"registry": null}`, "rescan_images")
	requireFailed(t, rs.okMsg, "no permission to execute rescan_images")
	require.Nil(t, rs.TaskID)
	r := post(t, env, sa, rescanDoc, `{"registry": null}`)
	require.Len(t, r.Errors, 1, r.Raw)
	require.Equal(t, "Missing or invalid API parameters. (No container registry is configured.)", r.Errors[0]["message"])
	require.NoError(t, env.Etcd.Put(ctx, "config/docker/registry/cr.example.com", "https://cr.example.com"))
	require.Eventually(t, func() bool { return len(env.Shared.GetPrefix("config/docker/registry")) > 0 }, 5*time.Second, 10*time.Millisecond)
	for _, c := range []*auth.Credentials{sa, da} {
		rs = mutate[rescan](t, env, c, rescanDoc, `{"registry": null}`, "rescan_images")
		requireOK(t, rs.okMsg)
		require.Empty(t, *rs.Msg)
		require.NotNil(t, rs.TaskID)
		_, err := uuid.Parse(*rs.TaskID)
		require.NoError(t, err)
	}

	// Forget: the owner of a customized image forgets it, others are refused.
	type forget struct {
		okMsg
		Image *struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"image"`
	}
	mineVars := `{"reference": "r.example/mine:1", "architecture": "x86_64"}`
	f := mutate[forget](t, env, &functionstest.User2, forgetDoc, mineVars, "forget_image")
	requireFailed(t, f.okMsg, "Forbidden")
	f = mutate[forget](t, env, da, forgetDoc, `{"reference": "r.example/base:1", "architecture": "x86_64"}`, "forget_image")
	requireFailed(t, f.okMsg, "Forbidden")
	requireGQLError(t, env, user, forgetDoc, `{"reference": "r.example/nope:1", "architecture": "x86_64"}`, "forget_image", "No such environment image.")
	require.Equal(t, 2, len(imageNames(t, env)))
	f = mutate[forget](t, env, user, forgetDoc, mineVars, "forget_image")
	requireOK(t, f.okMsg)
	require.NotNil(t, f.Image)
	require.Equal(t, "mine", f.Image.Name)
	require.Equal(t, []string{"r.example/base:1"}, imageNames(t, env))

	// By id: a Relay global id or a raw UUID; a bad one is a GraphQL error.
	var base uuid.UUID
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `SELECT id FROM images WHERE name = 'r.example/base:1'`).Scan(&base))
	requireGQLError(t, env, sa, forgetByIDDoc, `{"image_id": "not-an-id"}`, "forget_image_by_id", "No such object. (image)")
	gid := base64.StdEncoding.EncodeToString([]byte("ImageNode:" + base.String()))
	f = mutate[forget](t, env, user, forgetByIDDoc, `{"image_id": "`+gid+`"}`, "forget_image_by_id")
	requireFailed(t, f.okMsg, "Forbidden")
	f = mutate[forget](t, env, sa, forgetByIDDoc, `{"image_id": "`+gid+`"}`, "forget_image_by_id")
	requireOK(t, f.okMsg)
	require.Equal(t, gid, f.Image.ID)
	require.Empty(t, imageNames(t, env))
	requireGQLError(t, env, sa, forgetByIDDoc, `{"image_id": "`+base.String()+`"}`, "forget_image_by_id", "No such object. (image)")
}

// imageNames are the names of the images of the test registry, through REST.
func imageNames(t *testing.T, env *functionstest.Env) []string {
	t.Helper()
	var out struct {
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	require.Equal(t, http.StatusOK, restGet(t, env, "/admin/images?registry=r.example", &out))
	names := []string{}
	for _, it := range out.Items {
		names = append(names, it.Name)
	}
	return names
}

// TestObjectMutationsWhileFrozen: while the manager is frozen these mutations are refused
// with Backend.AI's ServerFrozen text as a GraphQL error and nothing changes.
func TestObjectMutationsWhileFrozen(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	ctx := context.Background()
	require.NoError(t, env.Etcd.Put(ctx, "manager/status", "frozen"))
	require.Eventually(t, func() bool { return env.Shared.ManagerStatus() == "frozen" }, 5*time.Second, 10*time.Millisecond)
	requireGQLError(t, env, sa, createKPPolicyDoc, createKPPolicyInput, "create_keypair_resource_policy", adminsvc.FrozenMessage)
	requireGQLError(t, env, sa, createSGDoc, `{"name": "gpu", "input": {"driver": "static", "scheduler": "fifo"}}`, "create_scaling_group", adminsvc.FrozenMessage)
	requireGQLError(t, env, sa, dissocAllDomainDoc, `{"domain": "default"}`, "disassociate_all_scaling_groups_with_domain", adminsvc.FrozenMessage)
	requireGQLError(t, env, sa, dealiasDoc, `{"alias": "python"}`, "dealias_image", adminsvc.FrozenMessage)
	require.Equal(t, http.StatusNotFound, restGet(t, env, "/admin/keypair-resource-policies/gpu-team", nil))
	require.Equal(t, http.StatusNotFound, restGet(t, env, "/admin/scaling-groups/gpu", nil))
	var def struct {
		TotalCount int `json:"total_count"`
	}
	require.Equal(t, http.StatusOK, restGet(t, env, "/admin/scaling-groups/default/domains", &def))
	require.Equal(t, 1, def.TotalCount)
}

// TestObjectMutationsHostileInput: malformed JSONString inputs, out-of-range numbers and
// unknown enum spellings are GraphQL errors (HTTP 200), never a success, a 5xx or a crash,
// and nothing is written.
func TestObjectMutationsHostileInput(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	kp := func(props string) string { return `{"name": "hostile", "input": ` + props + `}` }
	sg := func(props string) string { return `{"name": "hostile", "input": ` + props + `}` }
	cases := []struct{ doc, vars, root string }{
		{createKPPolicyDoc, kp(`{"default_for_unspecified": "LIMITED", "total_resource_slots": "[1, 2]", "max_concurrent_sessions": 1, "max_containers_per_session": 1, "idle_timeout": 0}`), "create_keypair_resource_policy"},
		{createKPPolicyDoc, kp(`{"default_for_unspecified": "LIMITED", "total_resource_slots": "{\"cpu\": {\"a\": 1}}", "max_concurrent_sessions": 1, "max_containers_per_session": 1, "idle_timeout": 0}`), "create_keypair_resource_policy"},
		{createKPPolicyDoc, kp(`{"default_for_unspecified": "LIMITED", "total_resource_slots": "{\"warp\": \"9\"}", "max_concurrent_sessions": 1, "max_containers_per_session": 1, "idle_timeout": 0}`), "create_keypair_resource_policy"},
		{createKPPolicyDoc, kp(`{"default_for_unspecified": "LIMITED", "allowed_vfolder_hosts": "\"everywhere\"", "max_concurrent_sessions": 1, "max_containers_per_session": 1, "idle_timeout": 0}`), "create_keypair_resource_policy"},
		{createKPPolicyDoc, kp(`{"default_for_unspecified": "LIMITED", "allowed_vfolder_hosts": "{\"local:v1\": [\"fly\"]}", "max_concurrent_sessions": 1, "max_containers_per_session": 1, "idle_timeout": 0}`), "create_keypair_resource_policy"},
		{createKPPolicyDoc, kp(`{"default_for_unspecified": "LIMITED", "max_concurrent_sessions": -1, "max_containers_per_session": 1, "idle_timeout": 0}`), "create_keypair_resource_policy"},
		{createKPPolicyDoc, kp(`{"default_for_unspecified": "LIMITED", "max_concurrent_sessions": 1, "max_containers_per_session": 0, "idle_timeout": 0}`), "create_keypair_resource_policy"},
		{createKPPolicyDoc, kp(`{"default_for_unspecified": "LIMITED", "max_concurrent_sessions": 1, "max_containers_per_session": 1, "idle_timeout": "forever"}`), "create_keypair_resource_policy"},
		{createUserPolicyDoc, `{"name": "bad name", "input": {}}`, "create_user_resource_policy"},
		{createUserPolicyDoc, `{"name": "hostile", "input": {"max_quota_scope_size": -2}}`, "create_user_resource_policy"},
		{createProjectPolicyDoc, `{"name": "hostile", "input": {"max_vfolder_count": 99999999999}}`, "create_project_resource_policy"},
		{createPresetDoc, `{"name": "hostile", "input": {"resource_slots": "{\"cpu\": \"Infinity\", \"mem\": \"1g\"}"}}`, "create_resource_preset"},
		{createPresetDoc, `{"name": "hostile", "input": {"resource_slots": "{\"cpu\": \"1\", \"mem\": \"1g\"}", "shared_memory": "99999999999999999999g"}}`, "create_resource_preset"},
		{createPresetDoc, `{"name": "hostile", "input": {"resource_slots": "not json"}}`, "create_resource_preset"},
		{createSGDoc, sg(`{"driver": "static", "scheduler": "random"}`), "create_scaling_group"},
		{createSGDoc, sg(`{"driver": "", "scheduler": "fifo"}`), "create_scaling_group"},
		{createSGDoc, sg(`{"driver": "static", "scheduler": "fifo", "driver_opts": "[1]"}`), "create_scaling_group"},
		{createSGDoc, sg(`{"driver": "static", "scheduler": "fifo", "scheduler_opts": "[]"}`), "create_scaling_group"},
		{createSGDoc, sg(`{"driver": "static", "scheduler": "fifo", "scheduler_opts": "{\"pending_timeout\": -5}"}`), "create_scaling_group"},
		{createSGDoc, sg(`{"driver": "static", "scheduler": "fifo", "scheduler_opts": "{\"agent_selection_strategy\": \"random\"}"}`), "create_scaling_group"},
		{createSGDoc, sg(`{"driver": "static", "scheduler": "fifo", "scheduler_opts": "{\"allowed_session_types\": []}"}`), "create_scaling_group"},
		{createSGDoc, `{"name": "bad/name", "input": {"driver": "static", "scheduler": "fifo"}}`, "create_scaling_group"},
		{assocGroupDoc, `{"scaling_group": "default", "user_group": "not-a-uuid"}`, "associate_scaling_group_with_user_group"},
		{aliasDoc, `{"alias": "-bad-", "target": "cr.backend.ai/stable/python:3.11-ubuntu22.04"}`, "alias_image"},
	}
	for _, c := range cases {
		r := post(t, env, sa, c.doc, c.vars)
		require.NotEmpty(t, r.Errors, "%s %s: %s", c.root, c.vars, r.Raw)
		require.NotContains(t, r.Raw, "Internal server error", "%s %s", c.root, c.vars)
		if raw, ok := r.Data[c.root]; ok {
			require.Equal(t, "null", string(raw), "%s %s: %s", c.root, c.vars, r.Raw)
		}
	}
	for _, path := range []string{"/admin/keypair-resource-policies/hostile", "/admin/user-resource-policies/hostile",
		"/admin/project-resource-policies/hostile", "/admin/resource-presets/hostile", "/admin/scaling-groups/hostile"} {
		require.Equal(t, http.StatusNotFound, restGet(t, env, path, nil), path)
	}
}

// TestModifyAndClearImages: modify_image sets the fields given of an image (labels,
// accelerators and resource limits replace the stored ones) and clear_images deletes a
// registry's images; both are for superadmins, and the REST listing shows the result.
func TestModifyAndClearImages(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	ctx := context.Background()
	_, err := env.DB.Pool.Exec(ctx, `INSERT INTO images (name, image, tag, registry, architecture, labels, resources) VALUES
		('r.example/a:1', 'a', '1', 'r.example', 'x86_64', '{"old": "1"}', '{"cpu": {"min": "1"}}'),
		('r.example/b:1', 'b', '1', 'r.example', 'aarch64', '{}', '{}'),
		('q.example/c:1', 'c', '1', 'q.example', 'x86_64', '{}', '{}')`)
	require.NoError(t, err)
	const modifyDoc = `mutation($target: String!, $architecture: String, $props: ModifyImageInput!) { modify_image(target: $target, architecture: $architecture, props: $props) { ok msg } }`
	const clearDoc = `mutation($registry: String) { clear_images(registry: $registry) { ok msg } }`
	props := `{"labels": [{"key": "ai.backend.kernelspec", "value": "1"}], "supported_accelerators": ["cuda"], "resource_limits": [{"key": "mem", "min": "2g"}], "size_bytes": 123, "is_local": true}`

	requireFailed(t, mutate[okMsg](t, env, da, modifyDoc, `{"target": "r.example/a:1", "props": `+props+`}`, "modify_image"),
		"no permission to execute modify_image")
	requireFailed(t, mutate[okMsg](t, env, sa, modifyDoc, `{"target": "r.example/b:1", "props": `+props+`}`, "modify_image"), "Image not found")
	requireGQLError(t, env, sa, modifyDoc, `{"target": "r.example/a:1", "props": {"type": "TOASTER"}}`, "modify_image",
		"Missing or invalid API parameters. (type: must be COMPUTE, SYSTEM or SERVICE)")
	p := mutate[okMsg](t, env, sa, modifyDoc, `{"target": "r.example/a:1", "props": `+props+`}`, "modify_image")
	requireOK(t, p)
	require.Empty(t, *p.Msg)
	requireOK(t, mutate[okMsg](t, env, sa, modifyDoc, `{"target": "r.example/b:1", "architecture": "arm64", "props": {"tag": "2"}}`, "modify_image"))

	type item struct {
		Name      string          `json:"name"`
		Tag       string          `json:"tag"`
		SizeBytes int64           `json:"size_bytes"`
		Labels    json.RawMessage `json:"labels"`
		Resources json.RawMessage `json:"resources"`
	}
	var out struct {
		Items []item `json:"items"`
	}
	require.Equal(t, http.StatusOK, restGet(t, env, "/admin/images?registry=r.example", &out))
	require.Len(t, out.Items, 2)
	require.EqualValues(t, 123, out.Items[0].SizeBytes)
	require.JSONEq(t, `{"ai.backend.kernelspec": "1"}`, string(out.Items[0].Labels))
	require.Equal(t, "2", out.Items[1].Tag)
	var accel *string
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `SELECT accelerators FROM images WHERE name = 'r.example/a:1'`).Scan(&accel))
	require.Equal(t, "cuda", *accel)

	requireFailed(t, mutate[okMsg](t, env, user, clearDoc, `{"registry": "r.example"}`, "clear_images"), "no permission to execute clear_images")
	require.Len(t, imageNames(t, env), 2)
	requireOK(t, mutate[okMsg](t, env, sa, clearDoc, `{"registry": "r.example"}`, "clear_images"))
	require.Empty(t, imageNames(t, env))
	out.Items = nil
	require.Equal(t, http.StatusOK, restGet(t, env, "/admin/images?registry=q.example", &out))
	require.Len(t, out.Items, 1)
}
