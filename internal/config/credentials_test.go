package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/etcdtest"
)

// requireOneLine checks that err is a single-line error that is not an *UnreachableError
// (the server answered: the credentials are the problem) and contains every part.
func requireOneLine(t *testing.T, err error, parts ...string) {
	t.Helper()
	require.Error(t, err)
	var ue *UnreachableError
	require.False(t, errors.As(err, &ue), "credentials error reported as unreachable: %v", err)
	require.NotContains(t, err.Error(), "\n")
	for _, p := range parts {
		require.Contains(t, err.Error(), p)
	}
}

// The halfstack's PostgreSQL trusts no TCP connection: without the password, or with a
// wrong one, it refuses, and the error names PostgreSQL and the cause on one line.
func TestHalfstackPostgresRequiresPassword(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	dsn := func(userinfo string) string {
		return fmt.Sprintf("postgres://%s@%s/postgres?sslmode=disable", userinfo, DefaultDBAddr)
	}
	require.NoError(t, PingPostgres(ctx, dsn(DefaultDBUser+":"+DefaultDBPassword)))
	requireOneLine(t, PingPostgres(ctx, dsn(DefaultDBUser+":wrong")), "PostgreSQL at "+DefaultDBAddr, "password authentication failed")
	_, err := db.Open(ctx, dsn(DefaultDBUser+":wrong"))
	requireOneLine(t, err, "PostgreSQL at "+DefaultDBAddr, "password authentication failed", "[db] user and password")
	t.Setenv("PGPASSWORD", "")
	t.Setenv("PGPASSFILE", filepath.Join(t.TempDir(), "none"))
	requireOneLine(t, PingPostgres(ctx, dsn(DefaultDBUser)), "PostgreSQL at "+DefaultDBAddr, "password")
}

// The halfstack's Redis requires its password: a client without one gets NOAUTH, with a
// wrong one WRONGPASS, each as one line naming Redis and the key to set.
func TestHalfstackRedisRequiresPassword(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 10*time.Second)
	require.NoError(t, PingRedis(ctx, DefaultRedisAddr, DefaultRedisPassword))
	requireOneLine(t, PingRedis(ctx, DefaultRedisAddr, ""), "Redis at "+DefaultRedisAddr, "NOAUTH", "[redis] password")
	requireOneLine(t, PingRedis(ctx, DefaultRedisAddr, "wrong"), "Redis at "+DefaultRedisAddr, "WRONGPASS")
}

// A Redis whose only user is an ACL user (the default user switched off) is reached with
// [redis] username and password.
func TestRedisACLUser(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("no redis-server binary")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--user", "default", "off", "--user", "hangar", "on", ">acl-secret", "~*", "&*", "+@all")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ctx := testCtx(t, 20*time.Second)
	for probeTCP(ctx, addr) != nil {
		require.NoError(t, ctx.Err(), "redis-server did not come up")
		time.Sleep(10 * time.Millisecond)
	}

	require.NoError(t, PingRedisOptions(ctx, &redis.Options{Addr: addr, Username: "hangar", Password: "acl-secret"}))
	requireOneLine(t, PingRedisOptions(ctx, &redis.Options{Addr: addr, Password: "acl-secret"}), "Redis at "+addr, "refused the credentials")
	requireOneLine(t, PingRedisOptions(ctx, &redis.Options{Addr: addr, Username: "hangar", Password: "nope"}), "WRONGPASS")

	// manager.toml's [redis] username reaches the client options.
	cwd, _ := isolate(t)
	writeFile(t, filepath.Join(cwd, "manager.toml"), fmt.Sprintf("[redis]\naddr = %q\nusername = \"hangar\"\npassword = \"acl-secret\"\n", addr))
	m, _, err := Load("")
	require.NoError(t, err)
	opts, err := m.RedisOptions(nil)
	require.NoError(t, err)
	require.NoError(t, PingRedisOptions(ctx, opts))
}

// Against an etcd with authentication enabled, the store, the shared configuration and the
// leader election work with [etcd] user and password; without them, with a wrong password
// or outside the user's permissions, DialEtcd fails at once with one line saying so.
func TestEtcdAuthentication(t *testing.T) {
	srv := etcdtest.Start(t)
	ns := testNamespace(t)
	srv.EnableAuth(t, "hangar", "etcd-secret", RootPrefix+ns+"/")
	ctx := testCtx(t, 30*time.Second)

	_, err := DialEtcd(ctx, srv.Endpoint, ns, "", "")
	requireOneLine(t, err, "etcd at "+srv.Endpoint+" requires authentication", "[etcd] user and password", "BACKEND_ETCD_USER")
	_, err = DialEtcd(ctx, srv.Endpoint, ns, "hangar", "wrong")
	requireOneLine(t, err, "etcd at "+srv.Endpoint, `authentication failed for user "hangar"`)
	_, err = DialEtcd(ctx, srv.Endpoint, ns+"x", "hangar", "etcd-secret")
	requireOneLine(t, err, "etcd at "+srv.Endpoint, `user "hangar" may not read`)

	e, err := DialEtcd(ctx, srv.Endpoint, ns, "hangar", "etcd-secret")
	require.NoError(t, err)
	defer e.Close()
	require.NoError(t, e.Put(ctx, "config/redis/addr", "10.0.0.9:6379"))
	v, ok, err := e.Get(ctx, "config/redis/addr")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "10.0.0.9:6379", v)

	shared, err := NewShared(ctx, e)
	require.NoError(t, err)
	defer shared.Close()
	v, _ = shared.Get("config/redis/addr")
	require.Equal(t, "10.0.0.9:6379", v)
	changed, unsubscribe := shared.Subscribe("config/redis/password")
	defer unsubscribe()
	require.NoError(t, e.Put(ctx, "config/redis/password", "from-etcd"))
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatal("the shared configuration did not see a change through the authenticated watch")
	}
	addr, pw := (&Manager{}).RedisFrom(shared)
	require.Equal(t, "10.0.0.9:6379", addr)
	require.Equal(t, "from-etcd", pw)

	l, err := Campaign(ctx, e, "scheduler", "mgr-auth", 5)
	require.NoError(t, err)
	defer l.Close()
	waitLeader(ctx, t, l, true)
	leader, err := l.Leader(ctx)
	require.NoError(t, err)
	require.Equal(t, "mgr-auth", leader)
	require.NoError(t, l.Resign(ctx))

	// The manager's configuration carries the credentials from manager.toml and the environment.
	cwd, _ := isolate(t)
	host, port, _ := strings.Cut(srv.Endpoint, ":")
	writeFile(t, filepath.Join(cwd, "manager.toml"), fmt.Sprintf("[etcd]\nnamespace = %q\naddr = { host = %q, port = %s }\nuser = \"hangar\"\n", ns, host, port))
	t.Setenv("BACKEND_ETCD_PASSWORD", "etcd-secret")
	m, _, err := Load("")
	require.NoError(t, err)
	c, err := m.EtcdDialConfig()
	require.NoError(t, err)
	e2, err := DialEtcdConfig(context.Background(), c)
	require.NoError(t, err)
	require.NoError(t, e2.Close())
}
