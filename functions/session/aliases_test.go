package session_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
)

// otherArch is an architecture the test host is not.
func otherArch() string {
	if hostArch() == "aarch64" {
		return "x86_64"
	}
	return "aarch64"
}

// TestCreateEveryAlias sends each name Backend.AI accepts for a create parameter and checks
// that it lands where the canonical key does: in the stored session or kernel, or (for keys
// whose effect is a refusal) in the error the canonical key gives.
func TestCreateEveryAlias(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx := context.Background()
	_, err := env.DB.Pool.Exec(ctx, `UPDATE keypair_resource_policies SET max_containers_per_session = 2`)
	require.NoError(t, err)
	// The same image under the other architecture, so that arch is observable.
	_, err = env.DB.Pool.Exec(ctx, `INSERT INTO images (name, image, tag, registry, architecture, resources)
		VALUES ($1, 'stable/python', '3.9-ubuntu20.04', 'cr.backend.ai', $2, '{}')`, image, otherArch())
	require.NoError(t, err)
	_, err = env.DB.Pool.Exec(ctx, `INSERT INTO agents (id, status, scaling_group, addr, architecture)
		VALUES ('i-alias', 'ALIVE', 'default', 'tcp://127.0.0.1:1', $1)`, hostArch())
	require.NoError(t, err)

	// stored: the parameter (one key of the body, or of config) and the SQL expression over
	// the session s and its main kernel k that shows it, as text.
	stored := []struct {
		key   string
		value any
		extra map[string]any // other keys the case needs
		expr  string
		want  string
	}{
		{"name", "canon-name", nil, "s.name", "canon-name"},
		{"session_name", "snake-name", nil, "s.name", "snake-name"},
		{"clientSessionToken", "token-name", nil, "s.name", "token-name"},
		{"image", image, nil, "k.image", image},
		{"lang", "python", nil, "k.image", image},
		{"arch", otherArch(), nil, "k.architecture", otherArch()},
		{"architecture", otherArch(), nil, "k.architecture", otherArch()},
		{"type", "batch", map[string]any{"startupCommand": "true"}, "s.session_type::text", "BATCH"},
		{"sessionType", "batch", map[string]any{"startupCommand": "true"}, "s.session_type::text", "BATCH"},
		{"cluster_size", 2, nil, "s.cluster_size::text", "2"},
		{"clusterSize", 2, nil, "s.cluster_size::text", "2"},
		{"cluster_mode", "multi-node", nil, "s.cluster_mode", "multi-node"},
		{"clusterMode", "multi-node", nil, "s.cluster_mode", "multi-node"},
		{"starts_at", "2030-01-02T03:04:05Z", map[string]any{"type": "batch", "startupCommand": "true"}, "to_char(s.starts_at AT TIME ZONE 'UTC', 'YYYY')", "2030"},
		{"startsAt", "2030-01-02T03:04:05Z", map[string]any{"type": "batch", "startupCommand": "true"}, "to_char(s.starts_at AT TIME ZONE 'UTC', 'YYYY')", "2030"},
		{"bootstrap_script", "echo boot", nil, "s.bootstrap_script", "echo boot"},
		{"bootstrapScript", "echo boot", nil, "s.bootstrap_script", "echo boot"},
		{"callback_url", "http://example.com/a", nil, "s.callback_url", "http://example.com/a"},
		{"callbackUrl", "http://example.com/b", nil, "s.callback_url", "http://example.com/b"},
		{"callbackURL", "http://example.com/c", nil, "s.callback_url", "http://example.com/c"},
		{"config.resource_opts", map[string]any{"shmem": "64m"}, nil, "k.resource_opts->>'shmem'", "64m"},
		{"config.resourceOpts", map[string]any{"shmem": "64m"}, nil, "k.resource_opts->>'shmem'", "64m"},
		{"config.preopen_ports", []int{8080}, nil, "array_to_string(k.preopen_ports, ',')", "8080"},
		{"config.preopenPorts", []int{8080, 8081}, nil, "array_to_string(k.preopen_ports, ',')", "8080,8081"},
		{"config.agent_list", []string{"i-alias"}, nil, "k.agent", "i-alias"},
		{"config.agentList", []string{"i-alias"}, nil, "k.agent", "i-alias"},
		{"config.mount_map", map[string]string{}, nil, "'accepted'", "accepted"},
		{"config.mountMap", map[string]string{}, nil, "'accepted'", "accepted"},
		{"config.mount_options", map[string]any{}, nil, "'accepted'", "accepted"},
		{"config.mountOptions", map[string]any{}, nil, "'accepted'", "accepted"},
	}
	for i, c := range stored {
		body := map[string]any{"enqueueOnly": true}
		if c.key != "name" && c.key != "session_name" && c.key != "clientSessionToken" {
			body["name"] = fmt.Sprintf("alias-%02d", i)
		}
		if c.key != "image" && c.key != "lang" {
			body["image"] = image
		}
		for k, v := range c.extra {
			body[k] = v
		}
		if len(c.key) > 7 && c.key[:7] == "config." {
			body["config"] = map[string]any{c.key[7:]: c.value}
		} else {
			body[c.key] = c.value
		}
		res := env.Do(t, http.MethodPost, "/session", body, &functionstest.Superadmin)
		require.Equal(t, http.StatusCreated, res.Status, "%s: %s", c.key, res.Body)
		var out created
		res.JSON(t, &out)
		var got *string
		require.NoError(t, env.DB.Pool.QueryRow(ctx, `SELECT (`+c.expr+`)::text FROM sessions s
			JOIN kernels k ON k.session_id = s.id AND k.cluster_role = 'main' WHERE s.id = $1`, out.SessionID).Scan(&got), c.key)
		require.NotNil(t, got, c.key)
		require.Equal(t, c.want, *got, c.key)
	}

	// refused: keys whose value is checked against the database; a refusal shows the key was read.
	refused := []struct {
		key   string
		value any
		slug  string
	}{
		{"group", "nope", "invalid-api-params"},
		{"groupName", "nope", "invalid-api-params"},
		{"group_name", "nope", "invalid-api-params"},
		{"domain", "other", "invalid-api-params"},
		{"domainName", "other", "invalid-api-params"},
		{"domain_name", "other", "invalid-api-params"},
		{"config.scaling_group", "nope", "object-not-found"},
		{"config.scalingGroup", "nope", "object-not-found"},
	}
	for _, c := range refused {
		body := map[string]any{"name": "refused", "image": "python", "enqueueOnly": true}
		if len(c.key) > 7 && c.key[:7] == "config." {
			body["config"] = map[string]any{c.key[7:]: c.value}
		} else {
			body[c.key] = c.value
		}
		res := env.Do(t, http.MethodPost, "/session", body, &functionstest.User)
		require.NotEqual(t, http.StatusCreated, res.Status, c.key)
		res.RequireProblem(t, res.Status, c.slug)
	}
}

// TestCreateAsTheOfficialClient sends the body the Python SDK sends at v8, with its mix of
// snake_case and camelCase keys.
func TestCreateAsTheOfficialClient(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	out := createOK(t, env, map[string]any{
		"tag": "t1", "name": "sdk-session",
		"config": map[string]any{
			"mounts": []string{}, "environ": map[string]string{"K": "v"}, "resources": map[string]any{"cpu": 1, "mem": "512m"},
			"resource_opts": map[string]any{}, "scalingGroup": "default", "mount_map": map[string]string{},
			"mount_options": map[string]any{}, "preopen_ports": nil,
		},
		"dependencies": nil, "callback_url": nil, "architecture": hostArch(), "clusterSize": 1, "clusterMode": "single-node",
		"starts_at": nil, "bootstrap_script": nil, "owner_access_key": nil, "domain": "default", "group": "default",
		"type": "interactive", "enqueueOnly": true, "maxWaitSeconds": 0, "reuseIfExists": true, "startupCommand": nil,
		"image": "python",
	})
	var sg, mem, tag string
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `SELECT scaling_group_name, requested_slots->>'mem', tag
		FROM sessions WHERE id = $1`, out.SessionID).Scan(&sg, &mem, &tag))
	require.Equal(t, "default", sg)
	require.Equal(t, "536870912", mem)
	require.Equal(t, "t1", tag)
}

// TestCreateAliasPrecedence checks Backend.AI's rule for several names of one key: the first
// in its list wins and the others are ignored, unvalidated; and that validation errors name
// the key the client sent.
func TestCreateAliasPrecedence(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx := context.Background()
	out := createOK(t, env, map[string]any{
		"clientSessionToken": "third-name", "session_name": "second-name", "image": "python", "enqueueOnly": true,
		"clusterSize": 0, "cluster_size": 1, // the loser is not validated
		"config": map[string]any{"preopenPorts": []int{1}, "preopen_ports": []int{9000}},
	})
	require.Equal(t, "second-name", out.SessionName)
	var ports string
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `SELECT array_to_string(preopen_ports, ',') FROM kernels WHERE session_id = $1`,
		out.SessionID).Scan(&ports))
	require.Equal(t, "9000", ports)

	p := env.Do(t, http.MethodPost, "/session", map[string]any{"name": "bad-size", "image": "python", "clusterSize": 0},
		&functionstest.User).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Data, "clusterSize", "the error names the key sent: %v", p.Data)
	p = env.Do(t, http.MethodPost, "/session", map[string]any{"name": "bad-ports", "image": "python",
		"config": map[string]any{"preopenPorts": "x"}}, &functionstest.User).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Data, "config.preopenPorts", "the error names the key sent: %v", p.Data)
	p = env.Do(t, http.MethodPost, "/session", map[string]any{"name": "bad-mode", "image": "python", "cluster_mode": "spread"},
		&functionstest.User).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Contains(t, p.Data, "cluster_mode", "%v", p.Data)
}

// TestRenameAlias renames through the query string, as the official client does
// (POST …/rename?name=…), and through the body's alias.
func TestRenameAlias(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	out := createOK(t, env, map[string]any{"name": "old-name", "image": "python", "enqueueOnly": true})
	_, err := env.DB.Pool.Exec(context.Background(), `UPDATE sessions SET status = 'RUNNING' WHERE id = $1`, out.SessionID)
	require.NoError(t, err)
	env.Do(t, http.MethodPost, "/session/old-name/rename?name=query-name", nil, &functionstest.User).RequireStatus(t, 204)
	env.Do(t, http.MethodPost, "/session/query-name/rename", map[string]any{"name": "body-name"}, &functionstest.User).
		RequireStatus(t, 204)
	var name string
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `SELECT name FROM sessions WHERE id = $1`, out.SessionID).Scan(&name))
	require.Equal(t, "body-name", name)
}
