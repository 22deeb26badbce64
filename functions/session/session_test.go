package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/jobs"
)

const image = "cr.backend.ai/stable/python:3.9-ubuntu20.04"

// newEnv starts an API with one image (alias "python", min mem 256m) in the database.
func newEnv(t *testing.T) *functionstest.Env {
	t.Helper()
	env := functionstest.New(t)
	ctx := context.Background()
	var id string
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `INSERT INTO images (name, image, tag, registry, architecture, resources)
		VALUES ($1, 'stable/python', '3.9-ubuntu20.04', 'cr.backend.ai', $2, '{"cpu":{"min":"1"},"mem":{"min":"256m"}}')
		RETURNING id`, image, hostArch()).Scan(&id))
	_, err := env.DB.Pool.Exec(ctx, `INSERT INTO image_aliases (alias, image) VALUES ('python', $1)
		ON CONFLICT (alias) DO UPDATE SET image = EXCLUDED.image`, id)
	require.NoError(t, err)
	return env
}

func hostArch() string {
	// The server defaults to its own architecture; the test image is registered under it.
	switch a := strings.ToLower(goarch); a {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	default:
		return a
	}
}

type created struct {
	SessionID    string           `json:"sessionId"`
	SessionName  string           `json:"sessionName"`
	Status       string           `json:"status"`
	ServicePorts []map[string]any `json:"servicePorts"`
	Created      *bool            `json:"created"`
}

func createOK(t *testing.T, env *functionstest.Env, body map[string]any) created {
	t.Helper()
	res := env.Do(t, http.MethodPost, "/session", body, &functionstest.User)
	res.RequireStatus(t, http.StatusCreated)
	var out created
	res.JSON(t, &out)
	return out
}

func pendingTasks(t *testing.T, env *functionstest.Env, queue string) []*asynq.TaskInfo {
	t.Helper()
	insp := asynq.NewInspector(functionstest.RedisOpt())
	t.Cleanup(func() { _ = insp.Close() })
	tasks, err := insp.ListPendingTasks(jobs.QueueName(env.Deps.Enqueuer.Prefix(), queue))
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return nil
	}
	require.NoError(t, err)
	return tasks
}

func TestCreateEnqueueOnly(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	_, err := env.DB.Pool.Exec(context.Background(), `UPDATE keypair_resource_policies SET max_containers_per_session = 2`)
	require.NoError(t, err)
	out := createOK(t, env, map[string]any{
		"name": "my-session", "image": "python", "enqueueOnly": true, "clusterSize": 2,
		"config": map[string]any{"resources": map[string]any{"cpu": 2, "mem": "512m"}, "environ": map[string]string{"A": "b"}},
	})
	require.Equal(t, "PENDING", out.Status)
	require.Equal(t, "my-session", out.SessionName)
	require.NotNil(t, out.Created)
	require.True(t, *out.Created)
	require.Equal(t, []map[string]any{}, out.ServicePorts)

	ctx := context.Background()
	var status, sg, ak string
	var requested, history json.RawMessage
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `SELECT status::text, scaling_group_name, access_key, requested_slots, status_history
		FROM sessions WHERE id = $1`, out.SessionID).Scan(&status, &sg, &ak, &requested, &history))
	require.Equal(t, "PENDING", status)
	require.Equal(t, "default", sg)
	require.Equal(t, functionstest.User.AccessKey, ak)
	var slotsMap map[string]string
	require.NoError(t, json.Unmarshal(requested, &slotsMap))
	require.Equal(t, "4", slotsMap["cpu"])
	require.Equal(t, "1073741824", slotsMap["mem"])
	require.Contains(t, string(history), `"PENDING"`)

	rows, err := env.DB.Pool.Query(ctx, `SELECT cluster_role, cluster_idx, status::text, requested_slots->>'mem', image
		FROM kernels WHERE session_id = $1 ORDER BY cluster_role, cluster_idx`, out.SessionID)
	require.NoError(t, err)
	var kernels []string
	for rows.Next() {
		var role, st, mem, img string
		var idx int
		require.NoError(t, rows.Scan(&role, &idx, &st, &mem, &img))
		require.Equal(t, "PENDING", st)
		require.Equal(t, "536870912", mem)
		require.Equal(t, image, img)
		kernels = append(kernels, role)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"main", "sub"}, kernels)

	tasks := pendingTasks(t, env, jobs.QueueDefault)
	require.Len(t, tasks, 1)
	require.Equal(t, jobs.TypeScheduleScalingGroup, tasks[0].Type)
	require.JSONEq(t, `{"scaling_group":"default"}`, string(tasks[0].Payload))
}

func TestCreateAliasesAndDefaults(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	out := createOK(t, env, map[string]any{
		"clientSessionToken": "alias-session", "lang": image, "groupName": "default", "domainName": "default",
		"sessionType": "batch", "startupCommand": "echo hi", "startsAt": "1h", "enqueueOnly": true,
		"cluster_size": 1, "cluster_mode": "single-node",
		"config": map[string]any{"scalingGroup": "default"},
	})
	require.Equal(t, "alias-session", out.SessionName)
	var typ, cmd string
	var cpu, mem string
	var startsAt *time.Time
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `SELECT session_type::text, startup_command,
		requested_slots->>'cpu', requested_slots->>'mem', starts_at FROM sessions WHERE id = $1`, out.SessionID).
		Scan(&typ, &cmd, &cpu, &mem, &startsAt))
	require.Equal(t, "BATCH", typ)
	require.Equal(t, "echo hi", cmd)
	require.Equal(t, "1", cpu)
	require.Equal(t, "1073741824", mem)
	require.NotNil(t, startsAt)
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	cases := []struct {
		name   string
		body   map[string]any
		status int
		slug   string
	}{
		{"bad resource", map[string]any{"name": "sess1", "image": "python", "config": map[string]any{"resources": map[string]any{"mem": "lots"}}}, 400, "invalid-api-params"},
		{"unknown slot", map[string]any{"name": "sess1", "image": "python", "config": map[string]any{"resources": map[string]any{"gpu": 1}}}, 400, "invalid-api-params"},
		{"below image min", map[string]any{"name": "sess1", "image": "python", "config": map[string]any{"resources": map[string]any{"mem": "128m"}}}, 400, "invalid-api-params"},
		{"unknown image", map[string]any{"name": "sess1", "image": "nope:1"}, 404, "object-not-found"},
		{"name too short", map[string]any{"name": "abc", "image": "python"}, 400, "invalid-api-params"},
		{"name too long", map[string]any{"name": strings.Repeat("a", 65), "image": "python"}, 400, "invalid-api-params"},
		{"reserved name", map[string]any{"name": "from-template", "image": "python"}, 400, "invalid-api-params"},
		{"missing image", map[string]any{"name": "sess1"}, 400, "invalid-api-params"},
		{"unknown key", map[string]any{"name": "sess1", "image": "python", "bogus": 1}, 400, "invalid-api-params"},
		{"unknown config key", map[string]any{"name": "sess1", "image": "python", "config": map[string]any{"bogus": 1}}, 400, "invalid-api-params"},
		{"unknown scaling group", map[string]any{"name": "sess1", "image": "python", "config": map[string]any{"scaling_group": "nope"}}, 404, "object-not-found"},
		{"batch without command", map[string]any{"name": "sess1", "image": "python", "type": "batch"}, 400, "invalid-api-params"},
		{"starts_at on interactive", map[string]any{"name": "sess1", "image": "python", "starts_at": "1h"}, 400, "invalid-api-params"},
		{"invalid group", map[string]any{"name": "sess1", "image": "python", "group": "nope"}, 400, "invalid-api-params"},
		{"foreign domain", map[string]any{"name": "sess1", "image": "python", "domain": "other"}, 400, "invalid-api-params"},
		{"owner key as user", map[string]any{"name": "sess1", "image": "python", "owner_access_key": functionstest.User2.AccessKey}, 403, "generic-forbidden"},
		{"agent list as user", map[string]any{"name": "sess1", "image": "python", "config": map[string]any{"agentList": []string{"i-1"}}}, 403, "insufficient-privilege"},
		{"cluster too large", map[string]any{"name": "sess1", "image": "python", "clusterSize": 1000}, 412, "quota-exceeded"},
		{"bad cluster mode", map[string]any{"name": "sess1", "image": "python", "clusterMode": "spread"}, 400, "invalid-api-params"},
		{"unknown dependency", map[string]any{"name": "sess1", "image": "python", "dependencies": []string{"nope-session"}}, 404, "object-not-found"},
	}
	for _, c := range cases {
		res := env.Do(t, http.MethodPost, "/session/_/create", c.body, &functionstest.User)
		res.RequireProblem(t, c.status, c.slug)
	}
	var n int
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM sessions`).Scan(&n))
	require.Zero(t, n, "a refused create leaves nothing behind")
}

func TestCreateOnBehalfAndDependencies(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	res := env.Do(t, http.MethodPost, "/session", map[string]any{
		"name": "for-user", "image": "python", "enqueueOnly": true, "owner_access_key": functionstest.User.AccessKey,
	}, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusCreated)
	var first created
	res.JSON(t, &first)
	var ak string
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `SELECT access_key FROM sessions WHERE id = $1`, first.SessionID).Scan(&ak))
	require.Equal(t, functionstest.User.AccessKey, ak)

	second := createOK(t, env, map[string]any{"name": "after-it", "image": "python", "enqueueOnly": true, "dependencies": []string{"for-user"}})
	var dep string
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `SELECT depends_on::text FROM session_dependencies WHERE session_id = $1`, second.SessionID).Scan(&dep))
	require.Equal(t, first.SessionID, dep)
}

func TestCreateReuse(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	first := createOK(t, env, map[string]any{"name": "reused", "image": "python", "enqueueOnly": true})
	res := env.Do(t, http.MethodPost, "/session", map[string]any{"name": "reused", "image": "python", "enqueueOnly": true}, &functionstest.User)
	res.RequireStatus(t, http.StatusCreated)
	var again map[string]any
	res.JSON(t, &again)
	require.Equal(t, first.SessionID, again["sessionId"])
	require.Equal(t, false, again["created"])
	require.Equal(t, "PENDING", again["status"])
	require.Contains(t, again, "service_ports")

	res = env.Do(t, http.MethodPost, "/session", map[string]any{"name": "reused", "image": "python", "reuseIfExists": false}, &functionstest.User)
	p := res.RequireProblem(t, 400, "session-already-exists")
	require.Equal(t, map[string]any{"existingSessionId": first.SessionID}, p.Data)
}

func TestCreateWaitTimeout(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	start := time.Now()
	out := createOK(t, env, map[string]any{"name": "waiting", "image": "python", "maxWaitSeconds": 1})
	require.Equal(t, "TIMEOUT", out.Status)
	require.GreaterOrEqual(t, time.Since(start), time.Second)
	require.True(t, *out.Created)
}

// whenCreated runs then in the background once a session named name exists, and returns a
// channel with its outcome. It never calls t, so that it may run beside a blocking request.
func whenCreated(env *functionstest.Env, name string, then func(ctx context.Context, id string) error) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, stop := context.WithTimeout(context.Background(), 20*time.Second)
		defer stop()
		for {
			var id string
			err := env.DB.Pool.QueryRow(ctx, `SELECT id::text FROM sessions WHERE name = $1`, name).Scan(&id)
			if err == nil {
				done <- then(ctx, id)
				return
			}
			if !db.IsNotFound(err) {
				done <- err
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return done
}

func TestCreateWaitSeesCancel(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	cancelled := whenCreated(env, "cancel-me", func(ctx context.Context, _ string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodDelete, env.HTTP.URL+"/session/cancel-me", nil)
		if err != nil {
			return err
		}
		if err := functionstest.User.SignRequest(req, functions.APIVersion, env.Clock.Now()); err != nil {
			return err
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("destroy answered %d", res.StatusCode)
		}
		return nil
	})
	start := time.Now()
	out := createOK(t, env, map[string]any{"name": "cancel-me", "image": "python", "maxWaitSeconds": 30})
	require.NoError(t, <-cancelled)
	require.Equal(t, "CANCELLED", out.Status)
	require.Less(t, time.Since(start), 20*time.Second)
}

func TestCreateWaitSeesStart(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	// Play the worker: mark the session RUNNING with service ports and announce it.
	started := whenCreated(env, "start-me", func(ctx context.Context, id string) error {
		if _, err := env.DB.Pool.Exec(ctx, `UPDATE kernels SET status = 'RUNNING',
			service_ports = '[{"name":"jupyter","protocol":"http","ports":[8080]}]' WHERE session_id = $1`, id); err != nil {
			return err
		}
		if _, err := env.DB.Pool.Exec(ctx, `UPDATE sessions SET status = 'RUNNING' WHERE id = $1`, id); err != nil {
			return err
		}
		return events.NewPublisher(env.Redis, env.Deps.Enqueuer.Prefix()).Publish(ctx,
			events.Event{Name: events.SessionStarted, SessionID: id, SessionName: "start-me", Status: "RUNNING", Time: time.Now()})
	})
	out := createOK(t, env, map[string]any{"name": "start-me", "image": "python", "maxWaitSeconds": 20})
	require.NoError(t, <-started)
	require.Equal(t, "RUNNING", out.Status)
	require.Equal(t, []map[string]any{{"name": "jupyter", "protocol": "http", "ports": []any{8080.0}}}, out.ServicePorts)
}

func TestInfoMatchAndScope(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	out := createOK(t, env, map[string]any{"name": "info-me", "image": "python", "enqueueOnly": true})

	for _, ref := range []string{"info-me", out.SessionID} {
		res := env.Do(t, http.MethodGet, "/session/"+ref, nil, &functionstest.User)
		res.RequireStatus(t, 200)
		var info map[string]any
		res.JSON(t, &info)
		require.Equal(t, "PENDING", info["status"])
		require.Equal(t, image, info["image"])
		require.Equal(t, "default", info["domainName"])
		require.Equal(t, "2de2b969-1d04-48a6-af16-0bc8adb3c831", info["groupId"])
		require.IsType(t, "", info["requestedSlots"])
		require.Contains(t, info["requestedSlots"], "1073741824")
		require.Nil(t, info["terminationTime"])
	}
	env.Do(t, http.MethodGet, "/session/nope-nope", nil, &functionstest.User).RequireProblem(t, 404, "object-not-found")
	// Someone else's session is invisible.
	env.Do(t, http.MethodGet, "/session/"+out.SessionID, nil, &functionstest.User2).RequireProblem(t, 404, "object-not-found")

	res := env.Do(t, http.MethodGet, "/session/_/match?id=info-me", nil, &functionstest.User)
	res.RequireStatus(t, 200)
	var m struct {
		Matches []map[string]string `json:"matches"`
	}
	res.JSON(t, &m)
	require.Equal(t, []map[string]string{{"id": out.SessionID, "name": "info-me", "status": "PENDING"}}, m.Matches)

	// Two sessions of the same name (a dead one is allowed to share it) → too many matched when
	// dead sessions count, as for rename.
	env.Do(t, http.MethodDelete, "/session/info-me", nil, &functionstest.User).RequireStatus(t, 200)
	createOK(t, env, map[string]any{"name": "info-me", "image": "python", "enqueueOnly": true})
	env.Do(t, http.MethodPost, "/session/info-me/rename", map[string]any{"session_name": "renamed"}, &functionstest.User).
		RequireProblem(t, 404, "too-many-sessions-matched")
}

func TestDestroy(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	out := createOK(t, env, map[string]any{"name": "kill-me", "image": "python", "enqueueOnly": true})

	// A user acting for someone else is refused by the scope check.
	env.Do(t, http.MethodDelete, "/session/kill-me?owner_access_key="+functionstest.User2.AccessKey, nil, &functionstest.User).
		RequireProblem(t, 403, "generic-forbidden")
	env.Do(t, http.MethodDelete, "/session/kill-me", nil, &functionstest.User2).RequireProblem(t, 404, "object-not-found")

	res := env.Do(t, http.MethodDelete, "/session/kill-me", nil, &functionstest.User)
	res.RequireStatus(t, 200)
	require.JSONEq(t, `{"stats":{"status":"cancelled"}}`, string(res.Body))
	var st, kst string
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `SELECT s.status::text, k.status::text FROM sessions s
		JOIN kernels k ON k.session_id = s.id WHERE s.id = $1`, out.SessionID).Scan(&st, &kst))
	require.Equal(t, "CANCELLED", st)
	require.Equal(t, "CANCELLED", kst)
	env.Do(t, http.MethodDelete, "/session/kill-me", nil, &functionstest.User).RequireProblem(t, 404, "object-not-found")

	// A running session is marked TERMINATING and its termination queued; a SCHEDULED one needs forced.
	run := createOK(t, env, map[string]any{"name": "running-one", "image": "python", "enqueueOnly": true})
	_, err := env.DB.Pool.Exec(context.Background(), `UPDATE sessions SET status = 'RUNNING' WHERE id = $1`, run.SessionID)
	require.NoError(t, err)
	res = env.Do(t, http.MethodDelete, "/session/"+run.SessionID, nil, &functionstest.Superadmin)
	res.RequireProblem(t, 404, "object-not-found") // the superadmin's own sessions only
	res = env.Do(t, http.MethodDelete, "/session/"+run.SessionID+"?owner_access_key="+functionstest.User.AccessKey, nil, &functionstest.Superadmin)
	res.RequireStatus(t, 200)
	require.JSONEq(t, `{"stats":{"status":"terminated"}}`, string(res.Body))
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `SELECT status::text FROM sessions WHERE id = $1`, run.SessionID).Scan(&st))
	require.Equal(t, "TERMINATING", st)
	tasks := pendingTasks(t, env, jobs.QueueCritical)
	require.Len(t, tasks, 1)
	require.Equal(t, jobs.TypeSessionTerminate, tasks[0].Type)
	var payload jobs.SessionTerminatePayload
	require.NoError(t, json.Unmarshal(tasks[0].Payload, &payload))
	require.Equal(t, jobs.SessionTerminatePayload{SessionID: run.SessionID, Reason: "user-requested"}, payload)

	sch := createOK(t, env, map[string]any{"name": "scheduled-one", "image": "python", "enqueueOnly": true})
	_, err = env.DB.Pool.Exec(context.Background(), `UPDATE sessions SET status = 'SCHEDULED' WHERE id = $1`, sch.SessionID)
	require.NoError(t, err)
	env.Do(t, http.MethodDelete, "/session/scheduled-one", nil, &functionstest.User).RequireProblem(t, 403, "generic-forbidden")
	res = env.Do(t, http.MethodDelete, "/session/scheduled-one", map[string]any{"forced": true}, &functionstest.User)
	res.RequireStatus(t, 200)
	require.JSONEq(t, `{"stats":{"status":"terminated"}}`, string(res.Body))
}

func TestRename(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	out := createOK(t, env, map[string]any{"name": "old-name", "image": "python", "enqueueOnly": true})
	env.Do(t, http.MethodPost, "/session/old-name/rename", map[string]any{"session_name": "new-name"}, &functionstest.User).
		RequireProblem(t, 400, "invalid-api-params") // not RUNNING
	_, err := env.DB.Pool.Exec(context.Background(), `UPDATE sessions SET status = 'RUNNING' WHERE id = $1`, out.SessionID)
	require.NoError(t, err)
	env.Do(t, http.MethodPost, "/session/old-name/rename", map[string]any{"session_name": "x"}, &functionstest.User).
		RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/session/old-name/rename", map[string]any{"session_name": "new-name"}, &functionstest.User).
		RequireStatus(t, 204)
	var name, kname string
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), `SELECT s.name, k.session_name FROM sessions s
		JOIN kernels k ON k.session_id = s.id WHERE s.id = $1`, out.SessionID).Scan(&name, &kname))
	require.Equal(t, "new-name", name)
	require.Equal(t, "new-name", kname)
}

func TestCreateWithAgentListDesignatesAgent(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	env.Do(t, http.MethodPost, "/session", map[string]any{
		"name": "pinned", "image": "python", "enqueueOnly": true,
		"config": map[string]any{"agent_list": []string{"i-unknown"}},
	}, &functionstest.Superadmin).RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	_, err := env.DB.Pool.Exec(context.Background(), `INSERT INTO agents (id, status, scaling_group, addr) VALUES ('i-pinned', 'ALIVE', 'default', 'tcp://127.0.0.1:1')`)
	require.NoError(t, err)
	res := env.Do(t, http.MethodPost, "/session", map[string]any{
		"name": "pinned", "image": "python", "enqueueOnly": true,
		"config": map[string]any{"agent_list": []string{"i-pinned"}},
	}, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusCreated)
	var out created
	res.JSON(t, &out)
	var agent string
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(),
		`SELECT COALESCE(agent, '') FROM kernels WHERE session_id = $1`, out.SessionID).Scan(&agent))
	require.Equal(t, "i-pinned", agent)
}
