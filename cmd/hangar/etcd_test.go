package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/config"
)

// etcdCLI runs `hangar etcd ...` in-process against the halfstack etcd with its own namespace.
type etcdCLI struct {
	t     *testing.T
	store *config.Etcd
}

// newEtcdCLI isolates the configuration lookup (empty working directory and HOME, no
// overrides but BACKEND_NAMESPACE) and opens a store on a fresh namespace for checks.
func newEtcdCLI(t *testing.T) *etcdCLI {
	t.Helper()
	for _, n := range []string{"NAMESPACE", "ETCD_ADDR", "ETCD_USER", "ETCD_PASSWORD"} {
		t.Setenv("BACKEND_"+n, "")
		t.Setenv("HANGAR_"+n, "")
	}
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	ns := "test-" + hex.EncodeToString(b)
	t.Setenv("BACKEND_NAMESPACE", ns)
	t.Setenv("HOME", t.TempDir())
	t.Chdir(t.TempDir())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	store, err := config.DialEtcd(ctx, config.DefaultEtcdAddr, ns, "", "")
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, store.DeletePrefix(ctx, ""))
		require.NoError(t, store.Close())
	})
	return &etcdCLI{t: t, store: store}
}

// run executes `hangar <args>` with stdin and returns stdout and the error.
func (c *etcdCLI) run(stdin string, args ...string) (string, error) {
	c.t.Helper()
	var out bytes.Buffer
	rootCmd.SetArgs(args)
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&out)
	rootCmd.SetIn(strings.NewReader(stdin))
	defer func() {
		rootCmd.SetArgs(nil)
		rootCmd.SetOut(nil)
		rootCmd.SetErr(nil)
		rootCmd.SetIn(nil)
		resetEtcdCLIFlags(rootCmd)
	}()
	// cobra keeps the first context a subcommand ran with, so never hand it one that ends.
	err := rootCmd.ExecuteContext(context.Background())
	return out.String(), err
}

// mustRun is run that fails the test on error.
func (c *etcdCLI) mustRun(stdin string, args ...string) string {
	c.t.Helper()
	out, err := c.run(stdin, args...)
	require.NoError(c.t, err, "hangar %s", strings.Join(args, " "))
	return out
}

// resetEtcdCLIFlags puts the flags of the root and etcd commands back to their defaults,
// since cobra keeps parsed values between executions.
func resetEtcdCLIFlags(root *cobra.Command) {
	reset := func(f *pflag.Flag) {
		_ = f.Value.Set(f.DefValue)
		f.Changed = false
	}
	root.PersistentFlags().VisitAll(reset)
	for _, c := range root.Commands() {
		if c.Name() != "etcd" {
			continue
		}
		c.PersistentFlags().VisitAll(reset)
		for _, sub := range c.Commands() {
			sub.Flags().VisitAll(reset)
		}
	}
}

// sampleConfigPath returns the upstream sample.etcd.config.json next to the repository.
func sampleConfigPath(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "go.mod not found")
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "backendai", "configs", "sample.etcd.config.json")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("upstream sample not available at %s", p)
	}
	return p
}

// etcdLeaves converts decoded JSON to what a prefix read returns after put-json: leaves as
// their text, empty objects dropped.
func etcdLeaves(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{}
	for k, val := range v {
		switch val := val.(type) {
		case map[string]any:
			if c := etcdLeaves(t, val); len(c) > 0 {
				out[k] = c
			}
		case string:
			out[k] = val
		default:
			b, err := json.Marshal(val)
			require.NoError(t, err)
			out[k] = string(b)
		}
	}
	return out
}

func TestEtcdCommand(t *testing.T) {
	sample := sampleConfigPath(t) // before newEtcdCLI changes the working directory
	c := newEtcdCLI(t)
	ctx := t.Context()

	// put / get
	require.Empty(t, c.mustRun("", "etcd", "put", "config/system/timezone", "Asia/Seoul"))
	require.Equal(t, "Asia/Seoul\n", c.mustRun("", "etcd", "get", "config/system/timezone"))
	v, ok, err := c.store.Get(ctx, "config/system/timezone")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "Asia/Seoul", v)

	_, err = c.run("", "etcd", "get", "config/system/nothing")
	require.EqualError(t, err, "key not found: config/system/nothing")

	// put-json of the upstream sample round-trips through a prefix read.
	c.mustRun("", "etcd", "put-json", "config", sample)
	data, err := os.ReadFile(sample)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(data, &doc))
	want := etcdLeaves(t, doc)
	out := c.mustRun("", "etcd", "get", "config", "--prefix")
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Equal(t, want, got, "the sample's timezone UTC replaced Asia/Seoul")
	require.Contains(t, out, "\n    \"docker\": {", "nested JSON is indented")
	require.Equal(t, "https://cr.backend.ai\n", c.mustRun("", "etcd", "get", "config/docker/registry/cr.backend.ai"))
	require.Equal(t, "1500\n", c.mustRun("", "etcd", "get", "config/network/overlay/mtu"))

	// put-json from stdin, and invalid input.
	c.mustRun(`{"addr":"127.0.0.1:8111"}`, "etcd", "put-json", "config/redis", "-")
	require.Equal(t, "127.0.0.1:8111\n", c.mustRun("", "etcd", "get", "config/redis/addr"))
	_, err = c.run(`{"addr":`, "etcd", "put-json", "config/redis", "-")
	require.EqualError(t, err, "standard input: not valid JSON")
	_, err = c.run("", "etcd", "put-json", "config/redis", filepath.Join(t.TempDir(), "missing.json"))
	require.ErrorContains(t, err, "missing.json")

	// Scopes.
	c.mustRun("", "etcd", "put", "--scope", "sgroup", "--sgroup", "gpu", "config/agent/max-container-count", "8")
	v, _, err = c.store.Get(ctx, "sgroup/gpu/config/agent/max-container-count")
	require.NoError(t, err)
	require.Equal(t, "8", v)
	c.mustRun("", "etcd", "put", "--scope", "node", "--node", "i-agent1", "config/container/port-range", "30000-31000")
	v, _, err = c.store.Get(ctx, "nodes/agents/i-agent1/config/container/port-range")
	require.NoError(t, err)
	require.Equal(t, "30000-31000", v)
	require.Equal(t, "8\n", c.mustRun("", "etcd", "get", "--scope", "sgroup", "--sgroup", "gpu", "config/agent/max-container-count"))
	out = c.mustRun("", "etcd", "get", "--scope", "node", "--node", "i-agent1", "", "--prefix")
	require.JSONEq(t, `{"config":{"container":{"port-range":"30000-31000"}}}`, out)
	_, err = c.run("", "etcd", "put", "--scope", "sgroup", "k", "v")
	require.ErrorContains(t, err, "--sgroup")
	_, err = c.run("", "etcd", "put", "--scope", "cluster", "k", "v")
	require.ErrorContains(t, err, "global, sgroup or node")
	// Scope flags do not leak into the next command.
	_, err = c.run("", "etcd", "get", "config/agent/max-container-count")
	require.EqualError(t, err, "key not found: config/agent/max-container-count")

	// delete and delete --prefix.
	c.mustRun("", "etcd", "delete", "config/docker/registry/cr.backend.ai")
	out = c.mustRun("", "etcd", "get", "config/docker", "--prefix")
	require.JSONEq(t, `{"registry":{"cr.backend.ai":{"type":"harbor2","project":"stable,ngc"}}}`, out)
	c.mustRun("", "etcd", "delete", "config", "--prefix")
	require.Equal(t, "{}\n", c.mustRun("", "etcd", "get", "config", "--prefix"))
	_, err = c.run("", "etcd", "delete", "/", "--prefix")
	require.ErrorContains(t, err, "whole namespace")
	all, err := c.store.GetPrefix(ctx, "")
	require.NoError(t, err)
	require.Len(t, all, 2, "sgroup and nodes scopes remain: %v", all)
}

func TestEtcdCommandUnreachable(t *testing.T) {
	c := newEtcdCLI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	t.Setenv("BACKEND_ETCD_ADDR", addr)

	_, err = c.run("", "etcd", "get", "config/system/timezone")
	require.EqualError(t, err, "cannot reach etcd at "+addr+": connection refused; is the halfstack up? run `go tool task halfstack:up`")
}
