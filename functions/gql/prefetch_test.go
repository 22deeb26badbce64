package gql_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/api"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/fixture"
)

// countingEnv serves env's API over a pool that counts the statements it runs, with the
// loaders' time-window batching off, so a nested lookup a list did not prefetch costs one
// query per row whatever the machine's load; tune (may be nil) adjusts the dependencies.
func countingEnv(t *testing.T, env *functionstest.Env, tune func(*functions.Deps)) (*functionstest.Env, *queryCounter) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(env.DB.DSN)
	require.NoError(t, err)
	counter := &queryCounter{}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	deps := *env.Deps
	deps.Pool = pool
	deps.Metrics = nil
	deps.GQLUnbatched = true
	if tune != nil {
		tune(&deps)
	}
	hs := httptest.NewServer(api.New(&deps).Handler())
	t.Cleanup(hs.Close)
	return &functionstest.Env{HTTP: hs, Clock: env.Clock}, counter
}

// queriesOf runs doc as creds on a counting env and answers how many statements it cost
// (the authentication cache is warmed first, so only the document's statements count).
func queriesOf(t *testing.T, counted *functionstest.Env, counter *queryCounter, creds *auth.Credentials, doc, vars string) int64 {
	t.Helper()
	counted.Do(t, http.MethodPost, "/admin/gql", body(psKeypairDoc, `{}`), creds).RequireStatus(t, http.StatusOK)
	before := counter.n.Load()
	res := counted.Do(t, http.MethodPost, "/admin/gql", body(doc, vars), creds)
	res.RequireStatus(t, http.StatusOK)
	require.NotContains(t, string(res.Body), `"errors"`, "body: %s", res.Body)
	return counter.n.Load() - before
}

// seedKeypairOwner adds a user of the default project and a keypair of it.
func seedKeypairOwner(t *testing.T, env *functionstest.Env, i int) string {
	t.Helper()
	ak := fmt.Sprintf("AKIAPREFETCH%08d", i)
	sqlExec(t, env, `WITH u AS (INSERT INTO users (email, domain_name, resource_policy) VALUES ($1, 'default', 'default') RETURNING uuid, email),
		g AS (INSERT INTO association_groups_users (user_id, group_id) SELECT uuid, $3::uuid FROM u)
		INSERT INTO keypairs (user_id, access_key, secret_key, resource_policy, "user")
		SELECT email, $2, 'prefetchSecretKeyForTheCountTestOnly0000', 'default', uuid FROM u`,
		fmt.Sprintf("kp%d@example.com", i), ak, fixture.DefaultProjectID)
	return ak
}

// seedDependency makes session depend on on.
func seedDependency(t *testing.T, env *functionstest.Env, session, on uuid.UUID) {
	t.Helper()
	sqlExec(t, env, `INSERT INTO session_dependencies (session_id, depends_on) VALUES ($1, $2)`, session, on)
}

// A keypair list with every nested lookup (owner, projects, concurrency, sessions per status
// argument, and the sessions' kernels, projects, owners and dependencies) costs a fixed number
// of statements, the same for one keypair as for thirty with many sessions each.
func TestKeypairListQueriesDoNotGrowWithRows(t *testing.T) {
	env := functionstest.New(t)
	counted, counter := countingEnv(t, env, nil)
	const doc = `query($limit:Int!, $offset:Int!) { keypair_list(limit:$limit, offset:$offset, order: "access_key") { items {
		access_key projects user_info { email full_name } concurrency_used
		running: compute_sessions(status: "RUNNING") { name group_name user_email occupying_slots containers { id }
		                                               dependencies { name full_name main_kernel_id } }
		all: compute_sessions { id }
		... on KeyPair { more: compute_sessions(status: "RUNNING,ERROR") { full_name } }
	} total_count } }`
	vars := `{"limit": 40, "offset": 0}`
	first := seedKeypairOwner(t, env, 0)
	seedDependency(t, env, seedSession(t, env, first, "s0", `{"cpu": "1"}`), seedSession(t, env, first, "d0", `{"cpu": "1"}`))
	few := queriesOf(t, counted, counter, sa, doc, vars)
	for i := 1; i < 30; i++ {
		ak := seedKeypairOwner(t, env, i)
		a := seedSession(t, env, ak, fmt.Sprintf("a%d", i), `{"cpu": "1"}`, `{"cpu": "1"}`)
		b := seedSession(t, env, ak, fmt.Sprintf("b%d", i), `{"cpu": "1"}`)
		seedDependency(t, env, a, b)
	}
	many := queriesOf(t, counted, counter, sa, doc, vars)
	t.Logf("queries per keypair_list page: %d (1 keypair owning a session), %d (30 keypairs)", few, many)
	require.Equal(t, few, many, "queries grew with the rows")
	// The request 1, count and page 2, projects, owners, concurrency 3, sessions per status
	// argument 3, the running sessions' kernels, projects and dependencies 3. What was
	// prefetched once is not fetched again: the sessions' owners are the keypairs' owners, the
	// dependencies are running sessions too.
	require.Equal(t, int64(12), many)

	// The answers are each keypair's own.
	r := post(t, env, sa, doc, vars)
	require.Empty(t, r.Errors, r.Raw)
	require.Contains(t, r.Raw, `"dependencies":[{"name":"b1","full_name":null,"main_kernel_id":"`)
}

// A single session's dependencies (and theirs) are prefetched level by level: the statements
// do not depend on how many there are.
func TestSessionDependenciesQueriesDoNotGrowWithRows(t *testing.T) {
	env := functionstest.New(t)
	counted, counter := countingEnv(t, env, nil)
	const doc = `query($id: UUID!) { compute_session(id: $id) { name group_name containers { id }
		dependencies { name group_name user_email occupied_slots containers { id } dependencies { name full_name } } } }`
	root := seedSession(t, env, user.AccessKey, "root", `{"cpu": "1"}`)
	vars := `{"id": "` + root.String() + `"}`
	leaf := seedSession(t, env, user.AccessKey, "leaf", `{"cpu": "1"}`)
	seedDependency(t, env, root, leaf)
	seedDependency(t, env, leaf, seedSession(t, env, sa.AccessKey, "first", `{"cpu": "1"}`))
	few := queriesOf(t, counted, counter, user, doc, vars)
	for i := range 20 {
		mid := seedSession(t, env, user.AccessKey, fmt.Sprintf("mid%d", i), `{"cpu": "1"}`, `{"cpu": "2"}`)
		seedDependency(t, env, root, mid)
		seedDependency(t, env, mid, leaf)
		seedDependency(t, env, mid, seedSession(t, env, sa.AccessKey, fmt.Sprintf("leaf%d", i), `{"cpu": "1"}`))
	}
	many := queriesOf(t, counted, counter, user, doc, vars)
	t.Logf("queries per compute_session with dependencies: %d (1 dependency, 1 below), %d (21, 42 below)", few, many)
	require.Equal(t, few, many, "queries grew with the rows")
}

// With manager.toml's hide-agents, no one but a superadmin learns which agent holds a
// container: agent, agent_addr and container_id are null, a session's agent_ids/agents too,
// and the agent names are not filterable; a superadmin sees them all.
func TestHideAgentsHidesContainerAgents(t *testing.T) {
	env := functionstest.New(t)
	seedAgent(t, env, "i-a1", "default", "ALIVE", [2]string{"4", "1"}, [2]string{"8589934592", "1073741824"})
	sid := seedSession(t, env, user.AccessKey, "placed", `{"cpu": "1"}`)
	sqlExec(t, env, `UPDATE kernels SET agent = 'i-a1', agent_addr = 'tcp://10.0.0.5:6001', container_id = 'c0ffee' WHERE session_id = $1`, sid)
	sqlExec(t, env, `UPDATE sessions SET agent_ids = ARRAY['i-a1'] WHERE id = $1`, sid)
	hidden, _ := countingEnv(t, env, func(d *functions.Deps) { d.HideAgents = true })

	const sessionDoc = `query($id: UUID!) { compute_session(id: $id) { agent_ids agents containers { agent agent_addr container_id } } }`
	const listDoc = `query($filter: String) { compute_session_list(limit: 10, offset: 0, filter: $filter) { items { agent_ids containers { agent agent_addr container_id } } } }`
	const containerDoc = `query($sid: ID!, $filter: String) { compute_container_list(limit: 10, offset: 0, session_id: $sid, filter: $filter) { items { agent agent_addr container_id } total_count } }`
	idVars := `{"id": "` + sid.String() + `"}`
	sidVars := func(filter string) string {
		return `{"sid": "` + sid.String() + `", "filter": ` + filter + `}`
	}
	shown := `{"agent_ids": ["i-a1"], "agents": ["i-a1"], "containers": [{"agent": "i-a1", "agent_addr": "tcp://10.0.0.5:6001", "container_id": "c0ffee"}]}`
	none := `{"agent_ids": null, "agents": null, "containers": [{"agent": null, "agent_addr": null, "container_id": null}]}`
	for _, c := range []struct {
		env   *functionstest.Env
		creds *auth.Credentials
		want  string
	}{{env, user, shown}, {env, sa, shown}, {hidden, sa, shown}, {hidden, da, none}, {hidden, user, none}} {
		r := post(t, c.env, c.creds, sessionDoc, idVars)
		require.Empty(t, r.Errors, r.Raw)
		require.JSONEq(t, c.want, string(r.Data["compute_session"]), c.creds.AccessKey)
	}

	// Lists, nested sessions and the container list hide them the same way.
	list := field[struct {
		Items []map[string]any `json:"items"`
	}](t, post(t, hidden, user, listDoc, `{"filter": null}`), "compute_session_list")
	require.Len(t, list.Items, 1)
	require.Nil(t, list.Items[0]["agent_ids"])
	require.Equal(t, []any{map[string]any{"agent": nil, "agent_addr": nil, "container_id": nil}}, list.Items[0]["containers"])
	kp := post(t, hidden, user, `query { keypair { compute_sessions { agent_ids containers { agent } } } }`, `{}`)
	require.JSONEq(t, `{"compute_sessions": [{"agent_ids": null, "containers": [{"agent": null}]}]}`, string(kp.Data["keypair"]), kp.Raw)
	cl := post(t, hidden, user, containerDoc, sidVars("null"))
	require.JSONEq(t, `{"items": [{"agent": null, "agent_addr": null, "container_id": null}], "total_count": 1}`, string(cl.Data["compute_container_list"]), cl.Raw)
	cl = post(t, hidden, sa, containerDoc, sidVars(`"agent == \"i-a1\""`))
	require.JSONEq(t, `{"items": [{"agent": "i-a1", "agent_addr": "tcp://10.0.0.5:6001", "container_id": "c0ffee"}], "total_count": 1}`, string(cl.Data["compute_container_list"]), cl.Raw)

	// The agent names cannot be probed through filters either.
	for _, c := range []struct{ doc, vars, field string }{
		{listDoc, `{"filter": "agent_id == \"i-a1\""}`, "compute_session_list"},
		{listDoc, `{"filter": "agents == \"i-a1\""}`, "compute_session_list"},
		{containerDoc, sidVars(`"agent_addr == \"tcp://10.0.0.5:6001\""`), "compute_container_list"},
		{containerDoc, sidVars(`"agent == \"i-a1\""`), "compute_container_list"},
	} {
		r := post(t, hidden, user, c.doc, c.vars)
		require.Len(t, r.Errors, 1, "%s: %s", c.vars, r.Raw)
		require.True(t, strings.HasPrefix(r.Errors[0]["message"].(string), "Query filter parsing error"), r.Raw)
		require.JSONEq(t, `null`, string(r.Data[c.field]))
	}
	// Without hide-agents a user may filter on them.
	r := post(t, env, user, listDoc, `{"filter": "agent_id == \"i-a1\""}`)
	require.Empty(t, r.Errors, r.Raw)
	require.Contains(t, r.Raw, `"agent_ids":["i-a1"]`)
}

// The images field loads the aliases of all its images at once.
func TestImagesQueriesDoNotGrowWithRows(t *testing.T) {
	env := functionstest.New(t)
	counted, counter := countingEnv(t, env, nil)
	const doc = `query { images(is_operation: false) { name tag aliases } }`
	few := queriesOf(t, counted, counter, user, doc, `{}`)
	for i := range 30 {
		sqlExec(t, env, `WITH i AS (INSERT INTO images (name, image, tag, registry, architecture, labels)
			VALUES ($1, 'stable/many', $2, 'cr.backend.ai', 'x86_64', '{}') RETURNING id)
			INSERT INTO image_aliases (alias, image) SELECT $3, id FROM i`,
			fmt.Sprintf("cr.backend.ai/stable/many:%d", i), fmt.Sprint(i), fmt.Sprintf("many%d", i))
	}
	many := queriesOf(t, counted, counter, user, doc, `{}`)
	t.Logf("queries per images with aliases: %d, %d (30 more images)", few, many)
	require.Equal(t, few, many, "queries grew with the rows")
	r := post(t, env, user, doc, `{}`)
	require.Contains(t, r.Raw, `"aliases":["many7"]`)
}
