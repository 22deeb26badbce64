package template_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/fixture"
)

// upstreamTemplates is Backend.AI's example session template file (a bare list of
// session_templates rows, also the body its template POST takes), trimmed to one template.
const upstreamTemplates = `[
  {
    "id": "c1b8441a-ba46-4a83-8727-de6645f521b4",
    "is_active": true,
    "domain_name": "default",
    "group_id": "2de2b969-1d04-48a6-af16-0bc8adb3c831",
    "user_uuid": "f38dea23-50fa-42a0-b5ae-338f5f4693f4",
    "type": "TASK",
    "name": "python_x86",
    "template": {
      "api_version": "6",
      "kind": "task_template",
      "metadata": {"name": "cr.backend.ai/multiarch/python", "tag": "3.10-ubuntu20.04"},
      "spec": {
        "session_type": "interactive",
        "kernel": {
          "image": "cr.backend.ai/multiarch/python:3.10-ubuntu20.04",
          "environ": {},
          "architecture": "x86_64",
          "run": null,
          "git": null
        },
        "scaling_group": "default",
        "mounts": {},
        "resources": {"cpu": "2", "mem": "4g"}
      }
    }
  }
]`

const fixtureTemplateID = "c1b8441a-ba46-4a83-8727-de6645f521b4"

// taskYAML is a session template as a user writes it, in YAML with aliases.
const taskYAML = `
api_version: "6"
kind: taskTemplate
metadata:
  name: my-python
spec:
  sessionType: batch
  kernel:
    image: python
    environ: &env {GREETING: hello}
    run:
      startup: python3 -c 'print(1)'
  resources: {cpu: 1, mem: 512m}
`

type created struct {
	ID   string `json:"id"`
	User string `json:"user"`
}

func createSessionTemplate(t *testing.T, env *functionstest.Env, body map[string]any, creds *auth.Credentials) []created {
	t.Helper()
	res := env.Do(t, http.MethodPost, "/template/session", body, creds)
	res.RequireStatus(t, http.StatusOK)
	var out []created
	res.JSON(t, &out)
	return out
}

func TestSessionTemplateLifecycle(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	ids := createSessionTemplate(t, env, map[string]any{"payload": taskYAML}, &functionstest.User)
	require.Len(t, ids, 1)
	require.Len(t, ids[0].ID, 32)
	require.Equal(t, strings.ReplaceAll(fixture.UserUUID, "-", ""), ids[0].User)
	id := ids[0].ID

	// The stored form is Backend.AI's: aliases renamed, defaults filled in.
	res := env.Do(t, http.MethodGet, "/template/session/"+id, nil, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	var got struct {
		Template struct {
			Kind string `json:"kind"`
			Spec struct {
				SessionType string `json:"session_type"`
				Kernel      struct {
					Architecture string            `json:"architecture"`
					Environ      map[string]string `json:"environ"`
					Run          map[string]any    `json:"run"`
				} `json:"kernel"`
				Resources map[string]any `json:"resources"`
			} `json:"spec"`
		} `json:"template"`
		Name     string `json:"name"`
		UserUUID string `json:"user_uuid"`
		GroupID  string `json:"group_id"`
		Domain   string `json:"domain_name"`
	}
	res.JSON(t, &got)
	require.Equal(t, "my-python", got.Name)
	require.Equal(t, "batch", got.Template.Spec.SessionType)
	require.Equal(t, "x86_64", got.Template.Spec.Kernel.Architecture)
	require.Equal(t, map[string]string{"GREETING": "hello"}, got.Template.Spec.Kernel.Environ)
	require.Equal(t, "python3 -c 'print(1)'", got.Template.Spec.Kernel.Run["startup_command"])
	require.EqualValues(t, 1, got.Template.Spec.Resources["cpu"])
	require.Equal(t, fixture.UserUUID, got.UserUUID)
	require.Equal(t, fixture.DefaultProjectID, got.GroupID)
	require.Equal(t, "default", got.Domain)

	// TemplateListed for its owner, with the fields the CLI prints.
	var listed []map[string]any
	res = env.Do(t, http.MethodGet, "/template/session", map[string]any{"all": false}, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &listed)
	require.Len(t, listed, 1)
	for _, k := range []string{"name", "id", "created_at", "is_owner", "type", "user", "group"} {
		require.Contains(t, listed[0], k)
	}
	require.Equal(t, true, listed[0]["is_owner"])
	require.Equal(t, "user", listed[0]["type"])

	// Replaced: a JSON list entry with a new name.
	upd, err := json.Marshal([]map[string]any{{"name": "renamed", "template": map[string]any{
		"api_version": "6", "kind": "task_template", "metadata": map[string]any{"name": "x"},
		"spec": map[string]any{"kernel": map[string]any{"image": "shell"}},
	}}})
	require.NoError(t, err)
	env.Do(t, http.MethodPut, "/template/session/"+id, map[string]any{"payload": string(upd)}, &functionstest.User).
		RequireStatus(t, http.StatusOK)
	res = env.Do(t, http.MethodGet, "/template/session/"+id, nil, &functionstest.User)
	res.JSON(t, &got)
	require.Equal(t, "renamed", got.Name)
	require.Equal(t, "interactive", got.Template.Spec.SessionType)

	// Deleted: gone for every verb.
	env.Do(t, http.MethodDelete, "/template/session/"+id, nil, &functionstest.User).RequireStatus(t, http.StatusOK)
	env.Do(t, http.MethodGet, "/template/session/"+id, nil, &functionstest.User).RequireProblem(t, http.StatusNotFound, "object-not-found")
	env.Do(t, http.MethodDelete, "/template/session/"+id, nil, &functionstest.User).RequireProblem(t, http.StatusNotFound, "object-not-found")
	env.Do(t, http.MethodGet, "/template/session/not-a-uuid", nil, &functionstest.User).RequireProblem(t, http.StatusNotFound, "object-not-found")
}

// otherProject adds an active project of the default domain that has no members.
func otherProject(t *testing.T, env *functionstest.Env) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := env.DB.Pool.Exec(context.Background(), `INSERT INTO groups (id, name, domain_name, resource_policy)
		VALUES ($1, 'private', 'default', 'default')`, id)
	require.NoError(t, err)
	return id
}

func TestTemplateScoping(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	private := otherProject(t, env)
	minimal := func(name string) map[string]any {
		return map[string]any{"api_version": "6", "kind": "task_template", "metadata": map[string]any{"name": name},
			"spec": map[string]any{"kernel": map[string]any{"image": "python"}}}
	}
	payload := func(entries ...map[string]any) map[string]any {
		b, err := json.Marshal(entries)
		require.NoError(t, err)
		return map[string]any{"payload": string(b)}
	}
	// The superadmin stores one template in a project nobody else is in, one in the default project.
	hidden := createSessionTemplate(t, env, payload(map[string]any{"group_id": private.String(), "template": minimal("hidden")}), &functionstest.Superadmin)[0].ID
	shared := createSessionTemplate(t, env, payload(map[string]any{"template": minimal("shared")}), &functionstest.Superadmin)[0].ID
	mine := createSessionTemplate(t, env, payload(map[string]any{"template": minimal("mine")}), &functionstest.User)[0].ID

	names := func(creds *auth.Credentials, body any) []string {
		t.Helper()
		res := env.Do(t, http.MethodGet, "/template/session", body, creds)
		res.RequireStatus(t, http.StatusOK)
		var l []struct {
			Name string `json:"name"`
		}
		res.JSON(t, &l)
		var out []string
		for _, e := range l {
			out = append(out, e.Name)
		}
		return out
	}
	require.ElementsMatch(t, []string{"shared", "mine"}, names(&functionstest.User, nil))
	require.ElementsMatch(t, []string{"shared", "mine"}, names(&functionstest.User, map[string]any{"all": true}), "all is for superadmins")
	require.ElementsMatch(t, []string{"shared", "mine", "hidden"}, names(&functionstest.Superadmin, map[string]any{"all": true}))
	require.ElementsMatch(t, []string{"hidden"}, names(&functionstest.Superadmin, map[string]any{"all": true, "groupId": private.String()}))
	require.ElementsMatch(t, []string{"shared", "mine", "hidden"}, names(&functionstest.DomainAdmin, nil))

	// Another user's template outside the user's projects does not exist for them.
	env.Do(t, http.MethodGet, "/template/session/"+hidden, nil, &functionstest.User).RequireProblem(t, http.StatusNotFound, "object-not-found")
	env.Do(t, http.MethodDelete, "/template/session/"+hidden, nil, &functionstest.User).RequireProblem(t, http.StatusNotFound, "object-not-found")
	env.Do(t, http.MethodPost, "/session/_/create-from-template", map[string]any{"template_id": hidden, "name": "sneaky", "enqueueOnly": true},
		&functionstest.User).RequireProblem(t, http.StatusNotFound, "object-not-found")
	// A project template is readable by its members but changed only by its owner or an admin.
	env.Do(t, http.MethodGet, "/template/session/"+shared, nil, &functionstest.User).RequireStatus(t, http.StatusOK)
	env.Do(t, http.MethodDelete, "/template/session/"+shared, nil, &functionstest.User).RequireProblem(t, http.StatusForbidden, "generic-forbidden")
	env.Do(t, http.MethodPut, "/template/session/"+mine, payload(map[string]any{"template": minimal("x")}), &functionstest.User2).
		RequireProblem(t, http.StatusForbidden, "generic-forbidden")
	env.Do(t, http.MethodDelete, "/template/session/"+mine, nil, &functionstest.DomainAdmin).RequireStatus(t, http.StatusOK)

	// Users cannot store templates for other users or in projects they are not in.
	p := env.Do(t, http.MethodPost, "/template/session", payload(map[string]any{"user_uuid": fixture.User2UUID, "template": minimal("x")}), &functionstest.User).
		RequireProblem(t, http.StatusForbidden, "generic-forbidden")
	require.Contains(t, p.Msg, "other users")
	p = env.Do(t, http.MethodPost, "/template/session", payload(map[string]any{"group_id": private.String(), "template": minimal("x")}), &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Equal(t, map[string]any{"payload.0.group_id": private.String()}, p.Data)
	env.Do(t, http.MethodPost, "/template/session", map[string]any{"payload": taskYAML, "owner_access_key": functionstest.User2.AccessKey}, &functionstest.User).
		RequireProblem(t, http.StatusForbidden, "generic-forbidden")
	// The domain admin may store one for a user of the domain.
	ids := createSessionTemplate(t, env, map[string]any{"payload": taskYAML, "owner_access_key": functionstest.User2.AccessKey}, &functionstest.DomainAdmin)
	require.Equal(t, strings.ReplaceAll(fixture.User2UUID, "-", ""), ids[0].User)
}

func TestHostilePayloads(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	bomb := "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += n + ": &" + n + " [" + strings.Repeat("*"+prev+",", 8) + "*" + prev + "]\n"
		prev = n
	}
	cases := []struct {
		name, payload, key string
	}{
		{"malformed YAML", "kind: [unclosed", "payload"},
		{"billion laughs", bomb, "payload"},
		{"deep nesting", strings.Repeat("[", 200) + strings.Repeat("]", 200), "payload"},
		{"deep YAML nesting", strings.Repeat("- ", 200) + "x", "payload"},
		{"empty", "  ", "payload"},
		{"a scalar", "42", "payload.0"},
		{"no template", `[{"name": "x"}]`, "payload.0.template"},
		{"no image", `[{"template": {"api_version": "6", "kind": "task_template", "metadata": {"name": "x"}, "spec": {"kernel": {}}}}]`, "payload.0.template.spec.kernel.image"},
		{"unknown key", `[{"template": {"api_version": "6", "kind": "task_template", "metadata": {"name": "x", "evil": 1}, "spec": {"kernel": {"image": "python"}}}}]`, "payload.0.template.metadata.evil"},
		{"bad kind", `[{"template": {"api_version": "6", "kind": "cluster_template", "metadata": {"name": "x"}, "spec": {"kernel": {"image": "python"}}}}]`, "payload.0.template.kind"},
		{"non-string environ", "template:\n  api_version: '6'\n  kind: task_template\n  metadata: {name: x}\n  spec: {kernel: {image: python, environ: {A: [1]}}}\n", "payload.0.template.spec.kernel.environ.A"},
		{"huge number", `[{"template": {"api_version": "6", "kind": "task_template", "metadata": {"name": "x"}, "spec": {"kernel": {"image": "python"}, "resources": {"cpu": 1e999}}}}]`, "payload"},
		{"bad user uuid", `[{"user_uuid": "nope", "template": {"api_version": "6", "kind": "task_template", "metadata": {"name": "x"}, "spec": {"kernel": {"image": "python"}}}}]`, "payload.0.user_uuid"},
	}
	for _, c := range cases {
		start := time.Now()
		p := env.Do(t, http.MethodPost, "/template/session", map[string]any{"payload": c.payload}, &functionstest.User).
			RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		require.Contains(t, p.Data, c.key, c.name)
		require.Less(t, time.Since(start), 5*time.Second, c.name)
	}
	// A body past the request limit is refused before it is read further.
	env.Do(t, http.MethodPost, "/template/session", map[string]any{"payload": strings.Repeat("x", 2<<20)}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "generic-bad-request")
	// A template too large to store.
	big := `[{"template": {"api_version": "6", "kind": "task_template", "metadata": {"name": "x"}, "spec": {"kernel": {"image": "python", "environ": {"A": "` +
		strings.Repeat("x", 70<<10) + `"}}}}}]`
	env.Do(t, http.MethodPost, "/template/session", map[string]any{"payload": big}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	var n int
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), "SELECT count(*) FROM session_templates").Scan(&n))
	require.Zero(t, n)
	// Bad create-from-template and create-cluster requests.
	env.Do(t, http.MethodPost, "/session/_/create-from-template", map[string]any{"name": "abcd"}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	env.Do(t, http.MethodPost, "/session/_/create-from-template", map[string]any{"template_id": "x", "name": "abcd"}, &functionstest.User).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
	env.Do(t, http.MethodPost, "/session/_/create-cluster", map[string]any{"template_id": uuid.NewString()}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	env.Do(t, http.MethodPost, "/session/_/create-cluster", map[string]any{"clientSessionToken": "abcd", "template_id": uuid.NewString(), "bogus": 1}, &functionstest.User).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
}

// sessionRow is what a created session stored.
type sessionRow struct {
	Image, Arch, Type, SGroup, Group, Tag string
	CPU, Mem                              string
	Size                                  int
}

func readSession(t *testing.T, env *functionstest.Env, id string) sessionRow {
	t.Helper()
	var r sessionRow
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `SELECT s.images[1], k.architecture, s.session_type::text,
		s.scaling_group_name, g.name, coalesce(s.tag, ''), s.requested_slots->>'cpu', s.requested_slots->>'mem', s.cluster_size
		FROM sessions s JOIN kernels k ON k.session_id = s.id AND k.cluster_role = 'main' JOIN groups g ON g.id = s.group_id
		WHERE s.id = $1`, id).Scan(&r.Image, &r.Arch, &r.Type, &r.SGroup, &r.Group, &r.Tag, &r.CPU, &r.Mem, &r.Size))
	return r
}

func TestUpstreamFixtureTemplatesCreateSessions(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	_, err := fixture.Populate(context.Background(), env.DB.Pool, strings.NewReader(upstreamTemplates), fixture.Options{BcryptCost: 4})
	require.NoError(t, err)

	// The superadmin's template is a template of the default project: its members use it.
	res := env.Do(t, http.MethodPost, "/session/_/create-from-template", map[string]any{
		"template_id": fixtureTemplateID, "name": "from-fixture", "enqueueOnly": true,
		"domain": "default", "group": "default", "config": map[string]any{"mounts": []string{}},
	}, &functionstest.User)
	res.RequireStatus(t, http.StatusCreated)
	var out struct {
		SessionID       string `json:"sessionId"`
		Status          string `json:"status"`
		TemplateCreated bool   `json:"created"`
	}
	res.JSON(t, &out)
	require.Equal(t, "PENDING", out.Status)
	require.True(t, out.TemplateCreated)
	require.Equal(t, sessionRow{Image: "cr.backend.ai/multiarch/python:3.10-ubuntu20.04", Arch: "x86_64", Type: "INTERACTIVE",
		SGroup: "default", Group: "default", Tag: "3.10-ubuntu20.04", CPU: "2", Mem: "4294967296", Size: 1}, readSession(t, env, out.SessionID))

	// The request's values win, config keys one by one.
	res = env.Do(t, http.MethodPost, "/session/_/create-from-template", map[string]any{
		"templateId": fixtureTemplateID, "name": "overridden", "enqueueOnly": true, "image": "python", "tag": "mine",
		"config": map[string]any{"resources": map[string]any{"cpu": 1, "mem": "1g"}},
	}, &functionstest.User)
	res.RequireStatus(t, http.StatusCreated)
	res.JSON(t, &out)
	require.Equal(t, sessionRow{Image: "cr.backend.ai/stable/python:3.11-ubuntu22.04", Arch: "x86_64", Type: "INTERACTIVE",
		SGroup: "default", Group: "default", Tag: "mine", CPU: "1", Mem: "1073741824", Size: 1}, readSession(t, env, out.SessionID))

	// Without the image the template names, creating from it is upstream's image error.
	_, err = env.DB.Pool.Exec(context.Background(), `DELETE FROM images WHERE name = 'cr.backend.ai/multiarch/python:3.10-ubuntu20.04'`)
	require.NoError(t, err)
	env.Do(t, http.MethodPost, "/session/_/create-from-template", map[string]any{
		"template_id": fixtureTemplateID, "name": "no-image", "enqueueOnly": true,
	}, &functionstest.User).RequireProblem(t, http.StatusNotFound, "object-not-found")
}

func TestClusterTemplates(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	task := createSessionTemplate(t, env, map[string]any{"payload": `[{"template": {"api_version": "6", "kind": "task_template",
		"metadata": {"name": "node"}, "spec": {"kernel": {"image": "python", "environ": {"A": "task", "B": "task"}}, "resources": {"cpu": 1, "mem": "256m"}}}}]`},
		&functionstest.User)[0].ID
	cluster := func(nodes string) string {
		return "api_version: '6'\nkind: clusterTemplate\nmode: single-node\nmetadata: {name: pair}\nspec:\n  environ: {B: cluster}\n  nodes:\n" + nodes
	}
	res := env.Do(t, http.MethodPost, "/template/cluster", map[string]any{"payload": cluster("  - {role: main, sessionTemplate: " + task + "}\n")}, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	var c created
	res.JSON(t, &c)

	// GET answers YAML by default, JSON on request.
	res = env.Do(t, http.MethodGet, "/template/cluster/"+c.ID, nil, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	require.Contains(t, res.Header.Get("Content-Type"), "text/yaml")
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(res.Body, &doc))
	require.Equal(t, "pair", doc["metadata"].(map[string]any)["name"])
	res = env.Do(t, http.MethodGet, "/template/cluster/"+c.ID+"?format=json", nil, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	require.NoError(t, json.Unmarshal(res.Body, &doc))
	require.Equal(t, uuid.MustParse(task).String(), doc["spec"].(map[string]any)["nodes"].([]any)[0].(map[string]any)["session_template"])

	res = env.Do(t, http.MethodPost, "/session/_/create-cluster", map[string]any{
		"clientSessionToken": "my-cluster", "templateId": c.ID, "enqueueOnly": true,
	}, &functionstest.User)
	res.RequireStatus(t, http.StatusCreated)
	var out struct {
		KernelID string `json:"kernelId"`
		Status   string `json:"status"`
	}
	res.JSON(t, &out)
	require.Equal(t, "PENDING", out.Status)
	r := readSession(t, env, out.KernelID)
	require.Equal(t, "cr.backend.ai/stable/python:3.11-ubuntu22.04", r.Image)
	var environ map[string]string
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `SELECT environ FROM sessions WHERE id = $1`, out.KernelID).Scan(&environ))
	require.Equal(t, map[string]string{"A": "task", "B": "cluster"}, environ)
	// Asking again for the same name is refused (no reuse for clusters).
	env.Do(t, http.MethodPost, "/session/_/create-cluster", map[string]any{"clientSessionToken": "my-cluster", "templateId": c.ID, "enqueueOnly": true},
		&functionstest.User).RequireProblem(t, http.StatusBadRequest, "session-already-exists")

	// Two nodes make a cluster of two kernels, beyond the example policy's one container.
	env.Do(t, http.MethodPut, "/template/cluster/"+c.ID, map[string]any{"payload": cluster("  - {role: main, session_template: " + task +
		"}\n  - {role: worker, session_template: " + task + ", replicas: 1}\n")}, &functionstest.User).RequireStatus(t, http.StatusOK)
	env.Do(t, http.MethodPost, "/session/_/create-cluster", map[string]any{"clientSessionToken": "big-cluster", "templateId": c.ID, "enqueueOnly": true},
		&functionstest.User).RequireProblem(t, http.StatusPreconditionFailed, "quota-exceeded")

	// Invalid cluster templates.
	for nodes, key := range map[string]string{
		"  - {role: worker, session_template: " + task + "}\n":                                                 "payload.spec.nodes",
		"  - {role: main, session_template: " + task + ", replicas: 2}\n":                                      "payload.spec.nodes.0.replicas",
		"  - {role: main, session_template: nope}\n":                                                           "payload.spec.nodes.0.session_template",
		"  - {role: main, session_template: " + task + "}\n  - {role: main, session_template: " + task + "}\n": "payload.spec.nodes.1.role",
	} {
		p := env.Do(t, http.MethodPost, "/template/cluster", map[string]any{"payload": cluster(nodes)}, &functionstest.User).
			RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
		require.Contains(t, p.Data, key)
	}
	// A project member sees the cluster template but may not delete it; its owner may.
	env.Do(t, http.MethodDelete, "/template/cluster/"+c.ID, nil, &functionstest.User2).RequireProblem(t, http.StatusForbidden, "generic-forbidden")
	env.Do(t, http.MethodDelete, "/template/cluster/"+c.ID, nil, &functionstest.User).RequireStatus(t, http.StatusOK)
	env.Do(t, http.MethodGet, "/template/cluster/"+c.ID, nil, &functionstest.User).RequireProblem(t, http.StatusNotFound, "object-not-found")
}
