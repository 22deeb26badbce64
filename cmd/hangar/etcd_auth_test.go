package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/etcdtest"
)

// `hangar etcd` reaches an etcd with authentication enabled with the credentials of
// BACKEND_ETCD_USER/BACKEND_ETCD_PASSWORD (manager.toml's [etcd] user/password), and says in
// one line what to set when they are missing or wrong.
func TestEtcdCommandWithAuthentication(t *testing.T) {
	c := newEtcdCLI(t) // a fresh namespace; its checking store is on the halfstack etcd
	srv := etcdtest.Start(t)
	ns := c.store.Namespace()
	srv.EnableAuth(t, "manager", "etcd-pw", config.RootPrefix+ns+"/")
	t.Setenv("BACKEND_ETCD_ADDR", srv.Endpoint)

	_, err := c.run("", "etcd", "put", "config/system/timezone", "Asia/Seoul")
	require.EqualError(t, err, "etcd at "+srv.Endpoint+" requires authentication: set [etcd] user and password in manager.toml (or BACKEND_ETCD_USER and BACKEND_ETCD_PASSWORD)")

	t.Setenv("BACKEND_ETCD_USER", "manager")
	t.Setenv("BACKEND_ETCD_PASSWORD", "wrong")
	_, err = c.run("", "etcd", "get", "config/system/timezone")
	require.EqualError(t, err, "etcd at "+srv.Endpoint+`: authentication failed for user "manager": check [etcd] user and password`)

	t.Setenv("BACKEND_ETCD_PASSWORD", "etcd-pw")
	require.Empty(t, c.mustRun("", "etcd", "put", "config/system/timezone", "Asia/Seoul"))
	require.Equal(t, "Asia/Seoul\n", c.mustRun("", "etcd", "get", "config/system/timezone"))
	c.mustRun(`{"addr":"127.0.0.1:8111","password":"r"}`, "etcd", "put-json", "config/redis", "-")
	require.JSONEq(t, `{"addr":"127.0.0.1:8111","password":"r"}`, c.mustRun("", "etcd", "get", "config/redis", "--prefix"))
	c.mustRun("", "etcd", "delete", "config", "--prefix")
	require.Equal(t, "{}\n", c.mustRun("", "etcd", "get", "config", "--prefix"))
}
