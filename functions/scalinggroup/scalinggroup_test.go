package scalinggroup_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/fixture"
)

func exec(t *testing.T, env *functionstest.Env, sql string, args ...any) {
	t.Helper()
	_, err := env.DB.Pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err)
}

func names(t *testing.T, env *functionstest.Env, path string, body any, creds *auth.Credentials) []string {
	t.Helper()
	res := env.Do(t, http.MethodGet, path, body, creds)
	res.RequireStatus(t, http.StatusOK)
	var out struct {
		ScalingGroups []struct {
			Name string `json:"name"`
		} `json:"scaling_groups"`
	}
	res.JSON(t, &out)
	list := make([]string, 0, len(out.ScalingGroups))
	for _, sg := range out.ScalingGroups {
		list = append(list, sg.Name)
	}
	return list
}

func TestListAvailable(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	exec(t, env, `
		INSERT INTO scaling_groups (name, is_public) VALUES ('private', false), ('store', true), ('mine', true), ('theirs', true);
		INSERT INTO scaling_groups (name, is_active) VALUES ('off', false);
		INSERT INTO sgroups_for_domains (scaling_group, domain) VALUES ('private', 'default'), ('off', 'default');
		INSERT INTO sgroups_for_groups (scaling_group, "group") VALUES ('store', '8e32dd28-d319-4e3b-8851-ea37837699a5');
		INSERT INTO sgroups_for_keypairs (scaling_group, access_key) VALUES ('mine', 'AKIANABBDUSEREXAMPLE'),
			('theirs', 'AKIANATWOUSEREXAMPLE')`)

	// Query string on a bodyless GET; non-admins see only public groups.
	require.Equal(t, []string{"default", "mine"}, names(t, env, "/scaling-groups?group=default", nil, &functionstest.User))
	require.Equal(t, []string{"default", "mine", "store"}, names(t, env, "/scaling-groups?group=model-store", nil, &functionstest.User))
	require.Equal(t, []string{"default", "mine", "store"}, names(t, env, "/scaling-groups?group_id="+fixture.ModelStoreProjectID, nil, &functionstest.User))
	require.Equal(t, []string{"default", "mine", "store"}, names(t, env, "/scaling-groups?group_name=model-store", nil, &functionstest.User))
	require.Equal(t, []string{"default", "store", "theirs"}, names(t, env, "/scaling-groups", map[string]any{"group": fixture.ModelStoreProjectID}, &functionstest.User2))
	// An unknown project contributes nothing.
	require.Equal(t, []string{"default", "mine"}, names(t, env, "/scaling-groups?group=nope", nil, &functionstest.User))
	// Admin keypairs also see private groups.
	require.Equal(t, []string{"default", "private"}, names(t, env, "/scaling-groups?group=default", nil, &functionstest.Superadmin))
	require.Equal(t, []string{"default", "private"}, names(t, env, "/scaling-groups?group=default", nil, &functionstest.DomainAdmin))

	env.Do(t, http.MethodGet, "/scaling-groups", nil, &functionstest.User).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodGet, "/scaling-groups?project=default", nil, &functionstest.User).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodGet, "/scaling-groups?group=default", nil, nil).RequireProblem(t, 400, "invalid-auth-params")
}

func wsproxyVersion(t *testing.T, env *functionstest.Env, path string) string {
	t.Helper()
	res := env.Do(t, http.MethodGet, path, nil, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	var out struct {
		Version string `json:"wsproxy_version"`
	}
	res.JSON(t, &out)
	return out.Version
}

func TestWSProxyVersion(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"api_version": "v2", "status": "ok"}`))
	}))
	t.Cleanup(proxy.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	exec(t, env, `INSERT INTO scaling_groups (name, wsproxy_addr) VALUES ('proxied', $1), ('broken', $2), ('store', $1)`,
		proxy.URL, downURL)
	exec(t, env, `
		INSERT INTO sgroups_for_domains (scaling_group, domain) VALUES ('proxied', 'default'), ('broken', 'default');
		INSERT INTO sgroups_for_groups (scaling_group, "group") VALUES ('store', '8e32dd28-d319-4e3b-8851-ea37837699a5')`)

	require.Equal(t, "v1", wsproxyVersion(t, env, "/scaling-groups/default/wsproxy-version"))
	require.Equal(t, "v2", wsproxyVersion(t, env, "/scaling-groups/proxied/wsproxy-version"))
	require.Equal(t, "v2", wsproxyVersion(t, env, "/scaling-groups/store/wsproxy-version?group=model-store"))
	env.Do(t, http.MethodGet, "/scaling-groups/store/wsproxy-version", nil, &functionstest.User).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodGet, "/scaling-groups/nope/wsproxy-version", nil, &functionstest.User).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodGet, "/scaling-groups/broken/wsproxy-version", nil, &functionstest.User).RequireProblem(t, 500, "server-misconfigured")
	env.Do(t, http.MethodGet, "/scaling-groups/default/wsproxy-version", nil, nil).RequireProblem(t, 400, "invalid-auth-params")
}
