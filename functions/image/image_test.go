package image_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/jobs"
)

func TestRescanEnqueues(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Nothing configured.
	env.Do(t, http.MethodPost, "/admin/images/rescan", map[string]any{}, &functionstest.Superadmin).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	require.NoError(t, env.Etcd.Put(ctx, "config/docker/registry/cr.example.com", "https://cr.example.com"))
	require.NoError(t, env.Shared.Sync(ctx))

	env.Do(t, http.MethodPost, "/admin/images/rescan", map[string]any{"registry": "elsewhere"}, &functionstest.Superadmin).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	// Domain admins may queue rescans too; users may not.
	env.Do(t, http.MethodPost, "/admin/images/rescan", map[string]any{"registry": "cr.example.com"}, &functionstest.User).
		RequireStatus(t, http.StatusUnauthorized)
	env.Do(t, http.MethodPost, "/admin/images/rescan", map[string]any{"registry": "cr.example.com"}, &functionstest.DomainAdmin).
		RequireStatus(t, http.StatusAccepted)

	var out struct {
		TaskID string `json:"task_id"`
		Queued bool   `json:"queued"`
	}
	res := env.Do(t, http.MethodPost, "/admin/images/rescan", map[string]any{"registry": "cr.example.com/stable/python:3.11"}, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusAccepted)
	res.JSON(t, &out)
	require.Equal(t, "image:rescan:cr.example.com/stable/python:3.11", out.TaskID)
	require.True(t, out.Queued)
	// The same rescan while it is queued is not queued twice.
	res = env.Do(t, http.MethodPost, "/admin/images/rescan", map[string]any{"registry": "cr.example.com/stable/python:3.11"}, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusAccepted)
	res.JSON(t, &out)
	require.False(t, out.Queued)

	insp := asynq.NewInspector(functionstest.RedisOpt())
	defer func() { _ = insp.Close() }()
	info, err := insp.GetTaskInfo(jobs.QueueName(env.Deps.Enqueuer.Prefix(), jobs.QueueLow), out.TaskID)
	require.NoError(t, err)
	require.Equal(t, jobs.TypeImageRescan, info.Type)
	var p jobs.ImageRescanPayload
	require.NoError(t, json.Unmarshal(info.Payload, &p))
	require.Equal(t, "cr.example.com/stable/python:3.11", p.Target)
}

func TestListAndAliases(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	_, err := env.DB.Pool.Exec(context.Background(), `DELETE FROM images;
		INSERT INTO images (name, image, tag, registry, architecture, config_digest, size_bytes, labels, resources, missing_since)
		VALUES ('r/a/b:1', 'a/b', '1', 'r', 'x86_64', 'sha256:aa', 10, '{"ai.backend.kernelspec":"1"}', '{}', NULL),
		       ('r/a/b:1', 'a/b', '1', 'r', 'aarch64', 'sha256:bb', 20, '{}', '{}', now()),
		       ('q/c:2', 'c', '2', 'q', 'x86_64', 'sha256:cc', 30, '{}', '{}', NULL)`)
	require.NoError(t, err)

	type item struct {
		Name         string          `json:"name"`
		Architecture string          `json:"architecture"`
		Digest       string          `json:"digest"`
		Labels       json.RawMessage `json:"labels"`
		Aliases      []string        `json:"aliases"`
		MissingSince *time.Time      `json:"missing_since"`
	}
	list := func(query string) []item {
		t.Helper()
		res := env.Do(t, http.MethodGet, "/admin/images"+query, nil, &functionstest.Superadmin)
		res.RequireStatus(t, http.StatusOK)
		var out struct {
			Items []item `json:"items"`
		}
		res.JSON(t, &out)
		return out.Items
	}
	items := list("")
	require.Len(t, items, 3)
	require.Equal(t, "q/c:2", items[0].Name)
	require.Equal(t, "aarch64", items[1].Architecture)
	require.NotNil(t, items[1].MissingSince)
	require.Equal(t, "sha256:aa", items[2].Digest)
	require.JSONEq(t, `{"ai.backend.kernelspec":"1"}`, string(items[2].Labels))
	require.Len(t, list("?registry=r"), 2)

	env.Do(t, http.MethodPost, "/admin/images/aliases", map[string]any{"alias": "ab", "target": "r/a/b:1"}, &functionstest.Superadmin).
		RequireProblem(t, http.StatusBadRequest, "invalid-api-params")
	env.Do(t, http.MethodPost, "/admin/images/aliases", map[string]any{"alias": "ab", "target": "r/nope:1"}, &functionstest.Superadmin).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
	res := env.Do(t, http.MethodPost, "/admin/images/aliases", map[string]any{"alias": "ab", "target": "r/a/b:1", "architecture": "amd64"}, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusCreated)
	var a struct {
		Architecture string `json:"architecture"`
	}
	res.JSON(t, &a)
	require.Equal(t, "x86_64", a.Architecture)
	require.Equal(t, []string{"ab"}, list("?registry=r")[1].Aliases)
	// Re-pointing an alias.
	env.Do(t, http.MethodPost, "/admin/images/aliases", map[string]any{"alias": "ab", "target": "q/c:2"}, &functionstest.Superadmin).
		RequireStatus(t, http.StatusCreated)
	require.Equal(t, []string{"ab"}, list("?registry=q")[0].Aliases)
	require.Empty(t, list("?registry=r")[1].Aliases)

	env.Do(t, http.MethodDelete, "/admin/images/aliases/ab", nil, &functionstest.Superadmin).RequireStatus(t, http.StatusNoContent)
	env.Do(t, http.MethodDelete, "/admin/images/aliases/ab", nil, &functionstest.Superadmin).
		RequireProblem(t, http.StatusNotFound, "object-not-found")
	env.Do(t, http.MethodGet, "/admin/images", nil, &functionstest.User).RequireStatus(t, http.StatusUnauthorized)
}

// TestImageWritesRefusedWhileFrozen: rescans and alias changes are refused with 503
// server-frozen while the manager is frozen (the administration service makes the check) and
// nothing changes.
func TestImageWritesRefusedWhileFrozen(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	ctx := context.Background()
	require.NoError(t, env.Etcd.Put(ctx, "config/docker/registry/cr.example.com", "https://cr.example.com"))
	_, err := env.DB.Pool.Exec(ctx, `INSERT INTO images (name, image, tag, registry, architecture)
		VALUES ('cr.example.com/a:1', 'a', '1', 'cr.example.com', 'x86_64')`)
	require.NoError(t, err)
	env.Do(t, http.MethodPost, "/admin/images/aliases", map[string]any{"alias": "kept", "target": "cr.example.com/a:1"}, &functionstest.Superadmin).
		RequireStatus(t, http.StatusCreated)
	require.NoError(t, env.Etcd.Put(ctx, "manager/status", "frozen"))
	require.Eventually(t, func() bool { return env.Shared.ManagerStatus() == "frozen" }, 5*time.Second, 10*time.Millisecond)

	env.Do(t, http.MethodPost, "/admin/images/rescan", map[string]any{"registry": "cr.example.com"}, &functionstest.Superadmin).
		RequireProblem(t, http.StatusServiceUnavailable, "server-frozen")
	env.Do(t, http.MethodPost, "/admin/images/rescan", map[string]any{"registry": "cr.example.com"}, &functionstest.DomainAdmin).
		RequireProblem(t, http.StatusServiceUnavailable, "server-frozen")
	env.Do(t, http.MethodPost, "/admin/images/aliases", map[string]any{"alias": "new", "target": "cr.example.com/a:1"}, &functionstest.Superadmin).
		RequireProblem(t, http.StatusServiceUnavailable, "server-frozen")
	env.Do(t, http.MethodDelete, "/admin/images/aliases/kept", nil, &functionstest.Superadmin).
		RequireProblem(t, http.StatusServiceUnavailable, "server-frozen")

	var out struct {
		Items []struct {
			Aliases []string `json:"aliases"`
		} `json:"items"`
	}
	res := env.Do(t, http.MethodGet, "/admin/images?registry=cr.example.com", nil, &functionstest.Superadmin)
	res.RequireStatus(t, http.StatusOK)
	res.JSON(t, &out)
	require.Len(t, out.Items, 1)
	require.Equal(t, []string{"kept"}, out.Items[0].Aliases)
	insp := asynq.NewInspector(functionstest.RedisOpt())
	defer func() { _ = insp.Close() }()
	_, err = insp.GetTaskInfo(jobs.QueueName(env.Deps.Enqueuer.Prefix(), jobs.QueueLow), jobs.ImageRescanTaskID("cr.example.com"))
	require.Error(t, err, "no rescan was queued")
}
