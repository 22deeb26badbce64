package session_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/cache"
	"github.com/hangar-run/hangar/internal/db"
)

// TestCreateLookupsFollowChanges: with the API's lookup cache on (TTL far beyond the test) and
// its notification listener, the create path sees each change to what it caches (keypair
// policy, scaling group options, project membership, image alias) as soon as the change's
// notification arrives, and sees the change reverted too. Without notifications every step
// would keep the cached answer for the TTL.
func TestCreateLookupsFollowChanges(t *testing.T) {
	t.Parallel()
	var c *cache.Cache
	env := functionstest.New(t, func(s *functions.Server) {
		c = cache.New(cache.Options{TTL: time.Hour})
		s.Deps().Cache = c
	})
	ctx, cancel := context.WithCancel(context.Background())
	synced, done := make(chan struct{}, 1), make(chan struct{})
	go func() {
		defer close(done)
		db.Listener{Channel: cache.NotifyChannel, Notify: c.Invalidate, Lost: c.Flush, Synced: func() {
			c.Flush()
			select {
			case synced <- struct{}{}:
			default:
			}
		}}.Listen(ctx, env.DB.Pool)
	}()
	t.Cleanup(func() { cancel(); <-done })
	<-synced

	n := 0
	create := func(extra map[string]any) *functionstest.Response {
		n++
		body := map[string]any{"image": "python", "name": fmt.Sprintf("cached-%d", n), "enqueueOnly": true}
		for k, v := range extra {
			body[k] = v
		}
		return env.Do(t, http.MethodPost, "/session", body, &functionstest.User)
	}
	exec := func(sql string) {
		t.Helper()
		_, err := env.DB.Pool.Exec(t.Context(), sql)
		require.NoError(t, err)
	}
	// until polls create until it answers status with a body holding want, within a bound
	// far below the TTL.
	until := func(what string, status int, want string, extra map[string]any) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			res := create(extra)
			if res.Status == status && strings.Contains(string(res.Body), want) {
				return
			}
			require.True(t, time.Now().Before(deadline), "%s: still %d %s", what, res.Status, res.Body)
			time.Sleep(5 * time.Millisecond)
		}
	}
	two := map[string]any{"cluster_size": 2}
	exec(`UPDATE keypair_resource_policies SET max_containers_per_session = 0, max_pending_session_count = 100000`)
	create(two).RequireStatus(t, http.StatusCreated) // everything is cached now
	create(two).RequireStatus(t, http.StatusCreated)

	exec(`UPDATE keypair_resource_policies SET max_containers_per_session = 1`)
	until("keypair policy change", http.StatusPreconditionFailed, "more than 1 containers", two)
	exec(`UPDATE keypair_resource_policies SET max_containers_per_session = 0`)
	until("keypair policy revert", http.StatusCreated, "", two)

	exec(`UPDATE scaling_groups SET scheduler_opts = '{"allowed_session_types":["batch"]}'`)
	until("scaling group options change", http.StatusNotFound, "No scaling group allows this session type", nil)
	exec(`UPDATE scaling_groups SET scheduler_opts = '{}'`)
	until("scaling group options revert", http.StatusCreated, "", nil)

	exec(`UPDATE image_aliases SET alias = 'python-renamed' WHERE alias = 'python'`)
	until("image alias removal", http.StatusNotFound, "object-not-found", nil)
	exec(`UPDATE image_aliases SET alias = 'python' WHERE alias = 'python-renamed'`)
	until("image alias revert", http.StatusCreated, "", nil)

	exec(`DELETE FROM association_groups_users`)
	until("project membership removal", http.StatusBadRequest, "Invalid group", nil)
}
