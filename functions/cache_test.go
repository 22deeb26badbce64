package functions_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/cache"
	"github.com/hangar-run/hangar/internal/db"
)

// cachedEnv starts an API whose lookups are cached with ttl on the server's clock; with listen,
// the cache follows the database's notifications (as `hangar api` runs it), and cachedEnv
// returns once the listener is in step.
func cachedEnv(t *testing.T, ttl time.Duration, listen bool) (*functionstest.Env, *cache.Cache) {
	t.Helper()
	var c *cache.Cache
	env := functionstest.New(t, testOps, func(s *functions.Server) {
		c = cache.New(cache.Options{TTL: ttl, Now: s.Deps().Clock})
		s.Deps().Cache = c
	})
	if listen {
		ctx, cancel := context.WithCancel(context.Background())
		synced := make(chan struct{}, 1)
		done := make(chan struct{})
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
		select {
		case <-synced:
		case <-time.After(10 * time.Second):
			t.Fatal("the notification listener did not connect")
		}
	}
	return env, c
}

// eventually polls cond every few milliseconds until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCachedAuthRevocation: with the access-key cache on (and a TTL far beyond the test), a
// keypair deactivated through the admin API is refused, and an admin keypair whose is_admin
// was withdrawn loses admin operations, as soon as the change's notification arrives. Without
// the notification listener both would keep working for the TTL.
func TestCachedAuthRevocation(t *testing.T) {
	t.Parallel()
	env, _ := cachedEnv(t, time.Hour, true)
	sa, user, da := &functionstest.Superadmin, &functionstest.User, &functionstest.DomainAdmin
	for range 2 { // the second answer comes from the cache
		env.Do(t, http.MethodGet, "/t/echo?name=x", nil, user).RequireStatus(t, http.StatusOK)
		env.Do(t, http.MethodGet, "/t/admin", nil, da).RequireStatus(t, http.StatusOK)
	}

	env.Do(t, http.MethodPatch, "/admin/keypairs/"+user.AccessKey, map[string]any{"is_active": false}, sa).RequireStatus(t, http.StatusOK)
	eventually(t, 5*time.Second, "deactivated keypair refused", func() bool {
		return env.Do(t, http.MethodGet, "/t/echo?name=x", nil, user).Status == http.StatusUnauthorized
	})
	env.Do(t, http.MethodGet, "/t/echo?name=x", nil, user).RequireProblem(t, http.StatusUnauthorized, "auth-failed")

	env.Do(t, http.MethodPatch, "/admin/keypairs/"+da.AccessKey, map[string]any{"is_admin": false}, sa).RequireStatus(t, http.StatusOK)
	eventually(t, 5*time.Second, "demoted keypair refused admin operations", func() bool {
		return env.Do(t, http.MethodGet, "/t/admin", nil, da).Status == http.StatusUnauthorized
	})
	env.Do(t, http.MethodGet, "/t/echo?name=x", nil, da).RequireStatus(t, http.StatusOK)

	// A change made directly in the database (the triggers fire for any writer) counts too.
	_, err := env.DB.Pool.Exec(t.Context(), "UPDATE keypairs SET is_active = true WHERE access_key = $1", user.AccessKey)
	require.NoError(t, err)
	eventually(t, 5*time.Second, "reactivated keypair accepted", func() bool {
		return env.Do(t, http.MethodGet, "/t/echo?name=x", nil, user).Status == http.StatusOK
	})
}

// TestCachedAuthNewKeypairAtOnce: unknown access keys are not cached, so a keypair created a
// moment after its key was refused works at once, even without notifications.
func TestCachedAuthNewKeypairAtOnce(t *testing.T) {
	t.Parallel()
	env, _ := cachedEnv(t, time.Hour, false) // no listener: only what is not cached can pass
	creds := &auth.Credentials{AccessKey: "AKIANEWKEYEXAMPLE001", SecretKey: "n3wS3cretKeyForTheCacheTestOnly000000000"}
	env.Do(t, http.MethodGet, "/t/echo?name=x", nil, creds).RequireProblem(t, http.StatusUnauthorized, "auth-failed")
	_, err := env.DB.Pool.Exec(t.Context(), `WITH k AS (
			INSERT INTO keypairs (user_id, access_key, secret_key, resource_policy, "user")
			SELECT email, $1, $2, 'default', uuid FROM users WHERE email = 'user2@lablup.com'
			RETURNING access_key, "user")
		UPDATE users SET main_access_key = k.access_key FROM k WHERE users.uuid = k."user"`, creds.AccessKey, creds.SecretKey)
	require.NoError(t, err)
	env.Do(t, http.MethodGet, "/t/echo?name=x", nil, creds).RequireStatus(t, http.StatusOK)
}

// TestCachedAuthTTLBound: when notifications are lost (here: no listener at all), a cached
// access key is served for at most the TTL on the server's clock; after it the change shows.
func TestCachedAuthTTLBound(t *testing.T) {
	t.Parallel()
	const ttl = 5 * time.Second
	env, c := cachedEnv(t, ttl, false)
	start := time.Now()
	env.Clock.Set(start)
	user := &functionstest.User
	env.Do(t, http.MethodGet, "/t/echo?name=x", nil, user).RequireStatus(t, http.StatusOK)
	_, err := env.DB.Pool.Exec(t.Context(), "UPDATE keypairs SET is_active = false WHERE access_key = $1", user.AccessKey)
	require.NoError(t, err)

	// Stale, within the bound: the cache answers.
	env.Clock.Set(start.Add(ttl - time.Millisecond))
	env.Do(t, http.MethodGet, "/t/echo?name=x", nil, user).RequireStatus(t, http.StatusOK)
	// At the bound the entry is gone.
	env.Clock.Set(start.Add(ttl))
	env.Do(t, http.MethodGet, "/t/echo?name=x", nil, user).RequireProblem(t, http.StatusUnauthorized, "auth-failed")
	require.Equal(t, ttl, c.TTL())
}
