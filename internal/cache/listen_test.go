package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/cache"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/dbtest"
	"github.com/hangar-run/hangar/internal/fixture"
)

// listen runs a db.Listener on the cache channel of d's database; it returns the channels of
// payloads and of (re)connections, after the first connection.
func listen(t *testing.T, d *dbtest.Database) (payloads <-chan string, synced <-chan struct{}) {
	t.Helper()
	p, s := make(chan string, 256), make(chan struct{}, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		db.Listener{Channel: cache.NotifyChannel, MinBackoff: 10 * time.Millisecond,
			Notify: func(payload string) { p <- payload },
			Synced: func() { s <- struct{}{} },
		}.Listen(ctx, d.Pool)
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-s:
	case <-time.After(10 * time.Second):
		t.Fatal("listener did not connect")
	}
	return p, s
}

func expectPayload(t *testing.T, payloads <-chan string, want string) {
	t.Helper()
	select {
	case got := <-payloads:
		require.Equal(t, want, got)
	case <-time.After(5 * time.Second):
		t.Fatalf("no notification %q", want)
	}
}

// TestTriggersNotifyCachedTables: a write to any table the API caches lookups of is announced
// on the cache channel with the table's name; a schedule pass's roundrobin_index update of a
// scaling group is not.
func TestTriggersNotifyCachedTables(t *testing.T) {
	t.Parallel()
	d := dbtest.NewDatabase(t)
	ctx := t.Context()
	require.NoError(t, fixture.LoadExamples(ctx, d.Pool, fixture.Options{BcryptCost: 4}))
	payloads, _ := listen(t, d)
	for _, table := range []string{"domains", "users", "keypairs", "keypair_resource_policies",
		"user_resource_policies", "project_resource_policies", "groups", "association_groups_users",
		"images", "image_aliases", "scaling_groups", "sgroups_for_domains", "sgroups_for_groups",
		"sgroups_for_keypairs"} {
		col := map[string]string{"association_groups_users": "user_id", "sgroups_for_domains": "domain",
			"sgroups_for_groups": "scaling_group", "sgroups_for_keypairs": "access_key", "image_aliases": "alias",
			"images": "name", "scaling_groups": "description"}[table]
		if col == "" {
			col = "name"
		}
		if table == "users" || table == "keypairs" {
			col = "modified_at"
		}
		_, err := d.Pool.Exec(ctx, "UPDATE "+table+" SET "+col+" = "+col)
		require.NoError(t, err, table)
		if table == "scaling_groups" {
			// A same-value update changes nothing; make a real change.
			_, err = d.Pool.Exec(ctx, "UPDATE scaling_groups SET description = coalesce(description, '') || 'x'")
			require.NoError(t, err)
		}
		expectPayload(t, payloads, table)
	}
	_, err := d.Pool.Exec(ctx, "DELETE FROM image_aliases")
	require.NoError(t, err)
	expectPayload(t, payloads, "image_aliases")

	_, err = d.Pool.Exec(ctx, "UPDATE scaling_groups SET roundrobin_index = roundrobin_index + 1")
	require.NoError(t, err)
	_, err = d.Pool.Exec(ctx, "UPDATE domains SET description = description") // a marker after it
	require.NoError(t, err)
	expectPayload(t, payloads, "domains") // nothing for scaling_groups came first
}

// TestListenerResyncsAfterConnectionLoss: when the listener's connection is killed it
// reconnects, reports Synced again (its owner flushes), and delivers later notifications.
func TestListenerResyncsAfterConnectionLoss(t *testing.T) {
	t.Parallel()
	d := dbtest.NewDatabase(t)
	ctx := t.Context()
	payloads, synced := listen(t, d)
	var n int
	require.NoError(t, d.Pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%'`).Scan(&n))
	require.Equal(t, 1, n)
	select {
	case <-synced:
	case <-time.After(10 * time.Second):
		t.Fatal("listener did not reconnect")
	}
	_, err := d.Pool.Exec(ctx, "UPDATE domains SET description = description")
	require.NoError(t, err)
	expectPayload(t, payloads, "domains")
}
