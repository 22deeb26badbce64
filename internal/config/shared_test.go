package config

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testShared returns a store, a Shared view of its namespace and a second, independent
// client on the same namespace to write through.
func testShared(t *testing.T) (*Shared, *Etcd) {
	t.Helper()
	e := testEtcd(t)
	ctx := testCtx(t, 5*time.Second)
	s, err := NewShared(ctx, e)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	other, err := DialEtcd(ctx, DefaultEtcdAddr, e.Namespace(), "", "")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, other.Close()) })
	return s, other
}

// waitSignal waits for one signal on ch or fails the test.
func waitSignal(ctx context.Context, t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatal("no change notification before the deadline")
	}
}

func TestShared(t *testing.T) {
	t.Parallel()

	t.Run("LoadsExistingKeys", func(t *testing.T) {
		t.Parallel()
		e := testEtcd(t)
		ctx := testCtx(t, 10*time.Second)
		require.NoError(t, e.Put(ctx, "config/system/timezone", "UTC"))
		s, err := NewShared(ctx, e)
		require.NoError(t, err)
		defer func() { require.NoError(t, s.Close()) }()
		v, ok := s.Get("config/system/timezone")
		require.True(t, ok)
		require.Equal(t, "UTC", v)
		require.Positive(t, s.Revision())
	})

	t.Run("SeesWritesFromAnotherClient", func(t *testing.T) {
		t.Parallel()
		s, other := testShared(t)
		ctx := testCtx(t, 10*time.Second)
		ch, cancel := s.Subscribe("manager")
		defer cancel()
		before := s.Revision()

		require.NoError(t, other.Put(ctx, "manager/status", "frozen"))
		waitSignal(ctx, t, ch)
		require.Equal(t, "frozen", s.ManagerStatus())
		require.Greater(t, s.Revision(), before)

		require.NoError(t, other.Delete(ctx, "manager/status"))
		waitSignal(ctx, t, ch)
		_, ok := s.Get("manager/status")
		require.False(t, ok)
		require.Equal(t, "running", s.ManagerStatus())
	})

	t.Run("SubscribeFiltersByPrefix", func(t *testing.T) {
		t.Parallel()
		s, other := testShared(t)
		ctx := testCtx(t, 10*time.Second)
		idle, cancelIdle := s.Subscribe("config/idle")
		defer cancelIdle()
		all, cancelAll := s.Subscribe("")
		defer cancelAll()

		require.NoError(t, other.Put(ctx, "config/idlex", "not idle"))
		waitSignal(ctx, t, all)
		select {
		case <-idle:
			t.Fatal("config/idle subscriber woke for config/idlex")
		default:
		}

		require.NoError(t, other.Put(ctx, "config/idle/checkers/timeout/threshold", "10m"))
		waitSignal(ctx, t, idle)
		require.Equal(t, 10*time.Minute, s.Duration("config/idle/checkers/timeout/threshold", 0))

		cancelIdle()
		require.NoError(t, other.Put(ctx, "config/idle/enabled", "timeout"))
		waitSignal(ctx, t, all)
		select {
		case <-idle:
			t.Fatal("cancelled subscriber was signalled")
		default:
		}
	})

	t.Run("OnChangeReportsKeys", func(t *testing.T) {
		t.Parallel()
		s, other := testShared(t)
		ctx := testCtx(t, 10*time.Second)
		keys := make(chan string, 16)
		stop := s.OnChange(func(key string) { keys <- key })
		defer stop()
		require.NoError(t, other.PutJSON(ctx, "config/redis", []byte(`{"addr":"127.0.0.1:6379","password":"pw"}`)))
		got := map[string]bool{}
		for len(got) < 2 {
			select {
			case k := <-keys:
				got[k] = true
			case <-ctx.Done():
				t.Fatalf("saw only %v before the deadline", got)
			}
		}
		require.Equal(t, map[string]bool{"config/redis/addr": true, "config/redis/password": true}, got)
	})

	t.Run("SyncWaitsForEarlierWrites", func(t *testing.T) {
		t.Parallel()
		s, other := testShared(t)
		ctx := testCtx(t, 10*time.Second)
		require.NoError(t, other.Put(ctx, "volumes/default_host", "local:volume1"))
		require.NoError(t, s.Sync(ctx))
		v, ok := s.Get("volumes/default_host")
		require.True(t, ok)
		require.Equal(t, "local:volume1", v)

		// WaitRevision follows a write's revision.
		resp, err := other.Client().Put(ctx, other.Key("volumes/exposed_volume_info"), "percentage")
		require.NoError(t, err)
		require.NoError(t, s.WaitRevision(ctx, resp.Header.Revision))
		require.Equal(t, "percentage", s.String("volumes/exposed_volume_info", ""))

		short, cancel := context.WithCancel(ctx)
		cancel()
		require.Error(t, s.WaitRevision(short, s.Revision()+1000))
	})

	t.Run("TypedAccessors", func(t *testing.T) {
		t.Parallel()
		s, other := testShared(t)
		ctx := testCtx(t, 10*time.Second)

		require.Equal(t, "running", s.ManagerStatus())
		enabled, msg := s.Announcement()
		require.False(t, enabled)
		require.Empty(t, msg)
		require.Equal(t, map[string]string{"cpu": "count", "mem": "bytes"}, s.ResourceSlots())
		require.Equal(t, []string{"user"}, s.VFolderTypes())
		require.Empty(t, s.DockerRegistries())
		require.Equal(t, time.Hour, s.Duration("config/session/hang-tolerance/threshold/PREPARING", time.Hour))

		configs := upstreamConfigs(t)
		require.NoError(t, other.Put(ctx, "manager/announcement", `{"enabled":true,"message":"maintenance at 5"}`))
		require.NoError(t, other.PutPrefix(ctx, "config/resource_slots", map[string]any{"cuda.device": "count", "mem": "bytes"}))
		require.NoError(t, other.PutJSON(ctx, "volumes", mustRead(t, configs, "sample.etcd.volumes.json")))
		require.NoError(t, other.PutJSON(ctx, "config", mustRead(t, configs, "sample.etcd.config.json")))
		require.NoError(t, other.Put(ctx, "config/docker/registry/localhost%3A5000", "http://localhost:5000"))
		require.NoError(t, other.Put(ctx, "config/docker/registry/no-url/type", "docker"))
		require.NoError(t, other.Put(ctx, "config/api/allow-graphql-schema-introspection", "True"))
		require.NoError(t, other.Put(ctx, "config/agent/max-container-count", "12"))
		require.NoError(t, s.Sync(ctx))

		enabled, msg = s.Announcement()
		require.True(t, enabled)
		require.Equal(t, "maintenance at 5", msg)
		require.Equal(t, map[string]string{"cpu": "count", "mem": "bytes", "cuda.device": "count"}, s.ResourceSlots())
		require.Equal(t, []string{"group", "user"}, s.VFolderTypes())
		require.Equal(t, map[string]string{
			"cr.backend.ai":  "https://cr.backend.ai",
			"localhost:5000": "http://localhost:5000",
		}, s.DockerRegistries())
		require.Equal(t, time.Hour, s.Duration("config/session/hang-tolerance/threshold/PREPARING", 0))
		require.Equal(t, 30*time.Minute, s.Duration("config/session/hang-tolerance/threshold/TERMINATING", 0))
		require.Equal(t, 5*time.Minute, s.Duration("config/idle/app-streaming-packet-timeout", 0))
		require.Equal(t, 7*time.Second, s.Duration("config/system/timezone", 7*time.Second), "unparsable falls back")
		require.True(t, s.Bool("config/api/allow-graphql-schema-introspection", false))
		require.True(t, s.Bool("config/api/missing", true))
		require.Equal(t, 12, s.Int("config/agent/max-container-count", 0))
		require.Equal(t, 3, s.Int("config/plugins/scheduler/fifo/num_retries_to_skip", 0))
		require.Equal(t, "UTC", s.String("config/system/timezone", "x"))
		require.Equal(t, map[string]any{"addr": "127.0.0.1:6379", "password": "REDIS_PASSWORD"}, s.GetPrefix("config/redis"))
		require.Equal(t, "local:volume1", s.Snapshot()["volumes/default_host"])

		m := Default()
		addr, pw := m.RedisFrom(s)
		require.Equal(t, "127.0.0.1:6379", addr)
		require.Equal(t, "REDIS_PASSWORD", pw)
		m.Redis.Addr = HostPort{Host: "10.0.0.9", Port: 6380}
		m.redisSet = true
		addr, _ = m.RedisFrom(s)
		require.Equal(t, "10.0.0.9:6380", addr)
		addr, _ = Default().RedisFrom(nil)
		require.Equal(t, DefaultRedisAddr, addr)

		require.NoError(t, other.Put(ctx, "manager/announcement", "not json"))
		require.NoError(t, s.Sync(ctx))
		enabled, _ = s.Announcement()
		require.False(t, enabled)
	})
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"10m":   10 * time.Minute,
		"1h":    time.Hour,
		"30s":   30 * time.Second,
		"2d":    48 * time.Hour,
		"1w":    7 * 24 * time.Hour,
		"90":    90 * time.Second,
		"1.5":   1500 * time.Millisecond,
		"1.5h":  90 * time.Minute,
		"250ms": 250 * time.Millisecond,
		"1h30m": 90 * time.Minute,
		" 5m ":  5 * time.Minute,
		"0":     0,
	} {
		got, err := ParseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "abc", "-5m", "-1", "10x", "1e400", "m"} {
		_, err := ParseDuration(bad)
		require.Error(t, err, bad)
	}
}
