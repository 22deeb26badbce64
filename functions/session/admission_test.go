package session_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/functions/session"
)

// problemData returns the data of a problem answer as key → message.
func problemData(t *testing.T, res *functionstest.Response, status int) map[string]any {
	t.Helper()
	p := res.RequireProblem(t, status, "invalid-api-params")
	data, ok := p.Data.(map[string]any)
	require.True(t, ok, "problem data: %#v", p.Data)
	return data
}

// allowClusters lets the example keys run clusters of up to 8 kernels.
func allowClusters(t *testing.T, env *functionstest.Env) {
	t.Helper()
	_, err := env.DB.Pool.Exec(context.Background(), `UPDATE keypair_resource_policies SET max_containers_per_session = 8`)
	require.NoError(t, err)
}

func sessionCount(t *testing.T, env *functionstest.Env) int {
	t.Helper()
	var n int
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM sessions`).Scan(&n))
	return n
}

// Every amount that is not a finite, non-negative decimal within bounds is a 400 naming the
// slot, and nothing is queued.
func TestCreateRefusesUnboundedAmounts(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	allowClusters(t, env)
	for _, amount := range []any{
		"1e400", "1e308", 1e308, "NaN", "-0", "-1", "Infinity", "inf", "1e13", "",
		strings.Repeat("9", 400), 1e21,
	} {
		res := env.Do(t, http.MethodPost, "/session", map[string]any{
			"name": "amounts", "image": "python", "enqueueOnly": true,
			"config": map[string]any{"resources": map[string]any{"cpu": amount, "mem": "256m"}},
		}, &functionstest.User)
		data := problemData(t, res, http.StatusBadRequest)
		require.Contains(t, data, "config.resources.cpu", "%v", amount)
	}
	for _, amount := range []any{"9p", "1e", "1e400", "1.5", "-1g"} {
		res := env.Do(t, http.MethodPost, "/session", map[string]any{
			"name": "amounts", "image": "python", "enqueueOnly": true,
			"config": map[string]any{"resources": map[string]any{"cpu": "1", "mem": amount}},
		}, &functionstest.User)
		data := problemData(t, res, http.StatusBadRequest)
		require.Contains(t, data, "config.resources.mem", "%v", amount)
	}
	// A JSON number too large for a double is refused as well.
	res := env.Do(t, http.MethodPost, "/session",
		`{"name":"amounts","image":"python","enqueueOnly":true,"config":{"resources":{"cpu":1e400,"mem":"256m"}}}`, &functionstest.User)
	res.RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	// The session total (per kernel × cluster size) must stay in bounds too.
	res = env.Do(t, http.MethodPost, "/session", map[string]any{
		"name": "amounts", "image": "python", "enqueueOnly": true, "clusterSize": 2,
		"config": map[string]any{"resources": map[string]any{"cpu": "1e12", "mem": "256m"}},
	}, &functionstest.User)
	require.Contains(t, problemData(t, res, http.StatusBadRequest), "config.resources.cpu")
	require.Zero(t, sessionCount(t, env), "a refused create leaves nothing behind")

	// Leading spaces and exponents within bounds are fine.
	createOK(t, env, map[string]any{
		"name": "amounts", "image": "python", "enqueueOnly": true,
		"config": map[string]any{"resources": map[string]any{"cpu": " 1e0", "mem": "256m"}},
	})
}

// insertAgent registers an ALIVE agent of scaling group "default".
func insertAgent(t *testing.T, env *functionstest.Env, id, arch string, schedulable bool, cpu, mem string) {
	t.Helper()
	ctx := context.Background()
	_, err := env.DB.Pool.Exec(ctx, `INSERT INTO agents (id, status, scaling_group, addr, architecture, schedulable)
		VALUES ($1, 'ALIVE', 'default', 'tcp://127.0.0.1:1', $2, $3)`, id, arch, schedulable)
	require.NoError(t, err)
	_, err = env.DB.Pool.Exec(ctx, `INSERT INTO agent_slots (agent_id, slot, slot_type, capacity)
		VALUES ($1, 'cpu', 'count', $2::numeric), ($1, 'mem', 'bytes', $3::numeric)`, id, cpu, mem)
	require.NoError(t, err)
}

// A request no agent of the scaling group could ever host is refused at create time; with no
// usable agent yet, it is queued.
func TestCreateRefusesWhatNoAgentCouldEverHost(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	allowClusters(t, env)
	huge := func(name string) map[string]any {
		return map[string]any{"name": name, "image": "python", "enqueueOnly": true,
			"config": map[string]any{"resources": map[string]any{"cpu": "999999", "mem": "256m"}}}
	}
	// No agent at all (a fresh cluster): queued.
	createOK(t, env, huge("no-agents"))
	// Only unschedulable agents: queued, they may come back.
	insertAgent(t, env, "i-maint", hostArch(), false, "4", "8589934592")
	createOK(t, env, huge("maintenance"))
	// An agent of another architecture only: refused, naming the architecture.
	insertAgent(t, env, "i-other", "riscv64", true, "1000000", "8589934592")
	res := env.Do(t, http.MethodPost, "/session", huge("other-arch"), &functionstest.User)
	require.Contains(t, problemData(t, res, http.StatusBadRequest), "architecture")

	insertAgent(t, env, "i-small", hostArch(), true, "4", "8589934592")
	res = env.Do(t, http.MethodPost, "/session", huge("too-big"), &functionstest.User)
	data := problemData(t, res, http.StatusBadRequest)
	require.Contains(t, data["config.resources.cpu"], "largest agent capacity (4)")
	require.Contains(t, res.Problem(t).Msg, "cpu: requested 999999 > at most 4")
	// A single-node cluster must fit one agent as a whole: 3 kernels × 2 cpu > 4.
	res = env.Do(t, http.MethodPost, "/session", map[string]any{"name": "cluster", "image": "python", "enqueueOnly": true,
		"clusterSize": 3, "config": map[string]any{"resources": map[string]any{"cpu": "2", "mem": "256m"}}}, &functionstest.User)
	require.Contains(t, problemData(t, res, http.StatusBadRequest), "config.resources.cpu")
	// What fits the capacity (even if not free now) is queued.
	createOK(t, env, map[string]any{"name": "fits", "image": "python", "enqueueOnly": true,
		"config": map[string]any{"resources": map[string]any{"cpu": "4", "mem": "8g"}}})
	require.Equal(t, 3, sessionCount(t, env))
}

// A key whose policy leaves max_pending_session_count unset gets the default cap (shared
// configuration, DefaultMaxPendingSessions otherwise); a policy value wins; concurrent creates
// cannot slip past it.
func TestCreatePendingCap(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx := context.Background()
	_, err := env.DB.Pool.Exec(ctx, `UPDATE keypair_resource_policies SET max_pending_session_count = NULL, max_concurrent_sessions = 0`)
	require.NoError(t, err)
	body := func(name string) map[string]any {
		return map[string]any{"name": name, "image": "python", "enqueueOnly": true}
	}
	for i := range session.DefaultMaxPendingSessions {
		createOK(t, env, body(fmt.Sprintf("pend-%03d", i)))
	}
	p := env.Do(t, http.MethodPost, "/session", body("one-too-many"), &functionstest.User).RequireProblem(t, http.StatusPreconditionFailed, "quota-exceeded")
	require.Contains(t, p.Msg, fmt.Sprintf("%d pending session", session.DefaultMaxPendingSessions))
	// Another key is not affected.
	env.Do(t, http.MethodPost, "/session", body("other-key"), &functionstest.User2).RequireStatus(t, http.StatusCreated)

	// The shared configuration changes the default; "0" lifts it.
	require.NoError(t, env.Etcd.Put(ctx, session.MaxPendingDefaultKey, "0"))
	require.Eventually(t, func() bool { v, _ := env.Shared.Get(session.MaxPendingDefaultKey); return v == "0" }, 5*time.Second, 10*time.Millisecond)
	createOK(t, env, body("uncapped"))

	// A policy's own value wins, and holds under concurrent creates.
	_, err = env.DB.Pool.Exec(ctx, `UPDATE sessions SET status = 'CANCELLED' WHERE status = 'PENDING'`)
	require.NoError(t, err)
	_, err = env.DB.Pool.Exec(ctx, `UPDATE keypair_resource_policies SET max_pending_session_count = 3`)
	require.NoError(t, err)
	var wg sync.WaitGroup
	statuses := make([]int, 12)
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = env.Do(t, http.MethodPost, "/session", body(fmt.Sprintf("race-%02d", i)), &functionstest.User).Status
		})
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == http.StatusCreated {
			ok++
		} else {
			require.Equal(t, http.StatusPreconditionFailed, s)
		}
	}
	require.Equal(t, 3, ok)
}

// Preopen ports are bounded in number, range and repetition; a session name cannot be a UUID.
func TestCreateRefusesPortsAndUUIDNames(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	many := make([]int, 5000)
	for i := range many {
		many[i] = 1024 + i
	}
	for name, ports := range map[string][]int{
		"too many":  many,
		"just over": many[:session.MaxPreopenPorts+1],
		"repeated":  {8080, 8080},
		"low":       {80},
		"high":      {65536},
	} {
		res := env.Do(t, http.MethodPost, "/session", map[string]any{"name": "ports", "image": "python", "enqueueOnly": true,
			"config": map[string]any{"preopen_ports": ports}}, &functionstest.User)
		require.Contains(t, problemData(t, res, http.StatusBadRequest), "config.preopen_ports", name)
	}
	createOK(t, env, map[string]any{"name": "ports", "image": "python", "enqueueOnly": true,
		"config": map[string]any{"preopen_ports": many[:session.MaxPreopenPorts]}})

	target := createOK(t, env, map[string]any{"name": "target", "image": "python", "enqueueOnly": true})
	for _, name := range []string{target.SessionID, strings.ToUpper(target.SessionID),
		strings.ReplaceAll(target.SessionID, "-", ""), "00000000-0000-0000-0000-000000000000"} {
		res := env.Do(t, http.MethodPost, "/session", map[string]any{"name": name, "image": "python", "enqueueOnly": true}, &functionstest.User)
		require.Contains(t, problemData(t, res, http.StatusBadRequest), "name", name)
	}
	// Renaming to a UUID is refused too.
	res := env.Do(t, http.MethodPost, "/session/target/rename", map[string]any{"session_name": target.SessionID}, &functionstest.User)
	res.RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.Equal(t, 2, sessionCount(t, env))
}
