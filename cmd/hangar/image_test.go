package main

import (
	"context"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/dbtest"
	"github.com/hangar-run/hangar/internal/registry/registrytest"
)

// resetImageCLIFlags puts the image subcommands' flags back to their defaults.
func resetImageCLIFlags() {
	for _, c := range rootCmd.Commands() {
		if c.Name() != "image" {
			continue
		}
		for _, sub := range c.Commands() {
			sub.Flags().VisitAll(func(f *pflag.Flag) {
				_ = f.Value.Set(f.DefValue)
				f.Changed = false
			})
		}
	}
}

func TestImageCommands(t *testing.T) {
	c := newEtcdCLI(t)
	d := dbtest.NewDatabase(t)
	for _, n := range []string{"DB_NAME", "DB_ADDR", "DB_USER", "DB_PASSWORD"} {
		t.Setenv("HANGAR_"+n, "")
		t.Setenv("BACKEND_"+n, "")
	}
	t.Setenv("BACKEND_DB_NAME", d.Name)
	t.Cleanup(resetImageCLIFlags)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := registrytest.Start(t, registrytest.Options{Username: "hangar", Password: "s3cret"})
	amd, err := registrytest.NewImage(128, "amd64", registrytest.KernelLabels(nil))
	require.NoError(t, err)
	arm, err := registrytest.NewImage(128, "arm64", registrytest.KernelLabels(nil))
	require.NoError(t, err)
	_, err = srv.PushIndex(ctx, "stable/python:3.11", map[string]v1.Image{"amd64": amd, "arm64": arm})
	require.NoError(t, err)
	_, err = srv.PushImage(ctx, "stable/plain:1", "amd64", map[string]string{})
	require.NoError(t, err)
	key := "config/docker/registry/" + config.Quote("local")
	require.NoError(t, c.store.Put(ctx, key, srv.URL))
	require.NoError(t, c.store.Put(ctx, key+"/username", "hangar"))
	require.NoError(t, c.store.Put(ctx, key+"/password", "s3cret"))

	out := c.mustRun("", "image", "rescan", "local")
	require.Contains(t, out, "[local] 2 repositories")
	require.Contains(t, out, "[local] tag 2/2")
	require.Contains(t, out, "local: 2 added, 0 updated, 0 unchanged, 1 skipped, 0 errors, 0 marked missing")
	require.Contains(t, out, "skipped local/stable/plain:1 (x86_64): no ai.backend.kernelspec label")
	require.Contains(t, out, "images/s)")

	out = c.mustRun("", "image", "rescan", "-q", "local/stable/python:3.11")
	require.NotContains(t, out, "[local]")
	require.Contains(t, out, "local: 0 added, 0 updated, 2 unchanged")

	_, err = c.run("", "image", "rescan", "elsewhere")
	require.ErrorContains(t, err, "unknown registry")

	_, err = c.run("", "image", "alias", "python", "local/stable/python:3.11")
	require.ErrorContains(t, err, "name the architecture")
	require.Contains(t, c.mustRun("", "image", "alias", "python", "local/stable/python:3.11", "arm64"), "(aarch64)")
	list := c.mustRun("", "image", "list")
	require.Contains(t, list, "local/stable/python:3.11  aarch64")
	require.Regexp(t, `local/stable/python:3.11\s+aarch64\s+\S+\s+[\d.]+ KiB\s+ok\s+python`, list)
	require.Contains(t, c.mustRun("", "image", "dealias", "python"), "alias python removed")
	_, err = c.run("", "image", "dealias", "python")
	require.ErrorContains(t, err, `no alias "python"`)

	// Wrong credentials: the registry is reported, the command fails.
	require.NoError(t, c.store.Put(ctx, key+"/password", "wrong"))
	out, err = c.run("", "image", "rescan", "-q")
	require.ErrorContains(t, err, "incomplete")
	require.Contains(t, out, "local: FAILED")
	require.Contains(t, out, "401")
}
