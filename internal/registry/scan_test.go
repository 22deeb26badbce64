package registry_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/registry"
	"github.com/hangar-run/hangar/internal/registry/registrytest"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestScan(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	srv := registrytest.Start(t, registrytest.Options{})

	// A single-architecture image with resource labels and an accelerator.
	single, err := srv.PushImage(ctx, "stable/python:3.11", "amd64", registrytest.KernelLabels(map[string]string{
		"ai.backend.resource.min.mem":         "256m",
		"ai.backend.resource.min.cuda.device": "1",
		"ai.backend.accelerators":             "cuda",
		"ai.backend.service-ports":            "jupyter:http:8081,ports:tcp:[8090,8091]",
	}))
	require.NoError(t, err)
	// A two-architecture index with an attestation entry.
	amd, err := registrytest.NewImage(256, "amd64", registrytest.KernelLabels(nil))
	require.NoError(t, err)
	arm, err := registrytest.NewImage(256, "arm64", registrytest.KernelLabels(nil))
	require.NoError(t, err)
	_, err = srv.PushIndex(ctx, "stable/multi:1.0", map[string]v1.Image{"amd64": amd, "arm64": arm})
	require.NoError(t, err)
	// Images a session cannot run.
	_, err = srv.PushImage(ctx, "other/plain:latest", "amd64", map[string]string{"maintainer": "someone"})
	require.NoError(t, err)
	_, err = srv.PushImage(ctx, "stable/badports:1", "amd64", registrytest.KernelLabels(map[string]string{
		"ai.backend.service-ports": "ssh:tcp:2200",
	}))
	require.NoError(t, err)

	var progress []registry.Progress
	res, err := registry.Scan(ctx, srv.Registry("local"), registry.Target{}, registry.Options{
		Progress: func(p registry.Progress) { progress = append(progress, p) },
	})
	require.NoError(t, err)
	require.Empty(t, res.Errors)
	require.Equal(t, []string{"other/plain", "stable/badports", "stable/multi", "stable/python"}, res.Catalog)
	require.Equal(t, res.Catalog, res.Repos)
	require.Equal(t, 4, res.Tags)

	require.Len(t, res.Images, 3)
	multiARM, multiAMD, py := res.Images[0], res.Images[1], res.Images[2]
	require.Equal(t, "local/stable/multi:1.0", multiAMD.Name)
	require.Equal(t, "x86_64", multiAMD.Architecture)
	require.Equal(t, "local/stable/multi:1.0", multiARM.Name)
	require.Equal(t, "aarch64", multiARM.Architecture)
	amdCfg, err := amd.ConfigName()
	require.NoError(t, err)
	require.Equal(t, amdCfg.String(), multiAMD.ConfigDigest)

	require.Equal(t, "local/stable/python:3.11", py.Name)
	require.Equal(t, "local", py.Registry)
	require.Equal(t, "stable/python", py.Repository)
	require.Equal(t, "3.11", py.Tag)
	require.Equal(t, "x86_64", py.Architecture)
	require.Equal(t, "cuda", py.Accelerators)
	cfgName, err := single.ConfigName()
	require.NoError(t, err)
	require.Equal(t, cfgName.String(), py.ConfigDigest)
	m, err := single.Manifest()
	require.NoError(t, err)
	want := m.Config.Size
	for _, l := range m.Layers {
		want += l.Size
	}
	require.Equal(t, want, py.SizeBytes)
	require.Equal(t, map[string]registry.SlotLimit{
		"cpu": {Min: "1"}, "mem": {Min: "256m"}, "cuda.device": {Min: "1"},
	}, py.Resources)
	require.Equal(t, "1", py.Labels["ai.backend.kernelspec"])

	require.Len(t, res.Skipped, 2)
	require.Equal(t, "local/other/plain:latest", res.Skipped[0].Name)
	require.Contains(t, res.Skipped[0].Reason, "no ai.backend.kernelspec label")
	require.Equal(t, "local/stable/badports:1", res.Skipped[1].Name)
	require.Contains(t, res.Skipped[1].Reason, "port 2200 is reserved")

	last := progress[len(progress)-1]
	require.Equal(t, registry.Progress{Registry: "local", Step: "tag", Ref: last.Ref, Images: last.Images, Skipped: last.Skipped,
		ReposDone: 4, ReposTotal: 4, TagsDone: 4, TagsTotal: 4}, last)

	t.Run("SingleTag", func(t *testing.T) {
		res, err := registry.Scan(ctx, srv.Registry("local"), registry.Target{Repository: "stable/multi", Tag: "1.0"}, registry.Options{})
		require.NoError(t, err)
		require.Nil(t, res.Catalog)
		require.Empty(t, res.Repos)
		require.Equal(t, []string{"local/stable/multi:1.0"}, res.Names)
		require.Len(t, res.Images, 2)
	})

	t.Run("MissingTag", func(t *testing.T) {
		res, err := registry.Scan(ctx, srv.Registry("local"), registry.Target{Repository: "stable/multi", Tag: "nope"}, registry.Options{})
		require.NoError(t, err)
		require.Empty(t, res.Images)
		require.Empty(t, res.Errors)
		require.Empty(t, res.Failed)
	})

	t.Run("OneRepository", func(t *testing.T) {
		res, err := registry.Scan(ctx, srv.Registry("local"), registry.Target{Repository: "stable/python"}, registry.Options{})
		require.NoError(t, err)
		require.Equal(t, []string{"stable/python"}, res.Repos)
		require.Len(t, res.Images, 1)
	})
}

func TestScanBasicAuth(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	srv := registrytest.Start(t, registrytest.Options{Username: "hangar", Password: "s3cret"})
	_, err := srv.PushImage(ctx, "stable/python:3.11", "arm64", registrytest.KernelLabels(nil))
	require.NoError(t, err)

	res, err := registry.Scan(ctx, srv.Registry("auth"), registry.Target{}, registry.Options{})
	require.NoError(t, err)
	require.Empty(t, res.Errors)
	require.Len(t, res.Images, 1)
	require.Equal(t, "aarch64", res.Images[0].Architecture)

	bad := srv.Registry("auth")
	bad.Password = "wrong"
	_, err = registry.Scan(ctx, bad, registry.Target{}, registry.Options{})
	require.ErrorContains(t, err, "registry auth: list repositories")
	require.ErrorContains(t, err, "401")

	anon := srv.Registry("auth")
	anon.Username, anon.Password = "", ""
	res, err = registry.Scan(ctx, anon, registry.Target{Repository: "stable/python", Tag: "3.11"}, registry.Options{})
	require.NoError(t, err, "a single-tag scan reports per-tag errors")
	require.Len(t, res.Errors, 1)
	require.Equal(t, []string{"auth/stable/python:3.11"}, res.Failed)
	require.ErrorContains(t, &res.Errors[0], "401")
}

func TestScanRegistryDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	reg := config.ContainerRegistry{Name: "down", URL: "http://" + addr, Type: "docker", SSLVerify: true}
	_, err = registry.Scan(testCtx(t), reg, registry.Target{}, registry.Options{Timeout: 5 * time.Second})
	require.ErrorContains(t, err, "registry down: list repositories")
	require.ErrorContains(t, err, "connection refused")
}

func TestScanUnsupportedType(t *testing.T) {
	t.Parallel()
	_, err := registry.Scan(t.Context(), config.ContainerRegistry{Name: "x", URL: "http://127.0.0.1:1", Type: "local"}, registry.Target{}, registry.Options{})
	require.ErrorContains(t, err, `type "local" is not supported`)
}

func TestParseTarget(t *testing.T) {
	t.Parallel()
	regs := []config.ContainerRegistry{{Name: "cr.backend.ai"}, {Name: "127.0.0.1:5000"}, {Name: "cr.backend.ai/stable"}}
	for _, tc := range []struct {
		arg, reg, repo, tag, err string
	}{
		{arg: "cr.backend.ai", reg: "cr.backend.ai"},
		{arg: "cr.backend.ai/lablup/python:3.11", reg: "cr.backend.ai", repo: "lablup/python", tag: "3.11"},
		{arg: "cr.backend.ai/lablup/python", reg: "cr.backend.ai", repo: "lablup/python"},
		{arg: "cr.backend.ai/stable/python:3.11", reg: "cr.backend.ai/stable", repo: "python", tag: "3.11"},
		{arg: "127.0.0.1:5000/a/b:c", reg: "127.0.0.1:5000", repo: "a/b", tag: "c"},
		{arg: "127.0.0.1:5000", reg: "127.0.0.1:5000"},
		{arg: "unknown.io/a:b", err: "unknown registry"},
		{arg: "cr.backend.ai/a:", err: "bad image reference"},
	} {
		reg, target, err := registry.ParseTarget(tc.arg, regs)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.arg)
			continue
		}
		require.NoError(t, err, tc.arg)
		require.Equal(t, tc.reg, reg.Name, tc.arg)
		require.Equal(t, registry.Target{Repository: tc.repo, Tag: tc.tag}, target, tc.arg)
	}
}

// TestScanHarbor2 puts Harbor's project API in front of a real registry: repositories are
// listed per project (paged), the rest goes over the v2 API.
func TestScanHarbor2(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	srv := registrytest.Start(t, registrytest.Options{})
	for _, ref := range []string{"stable/python:3.11", "stable/r:4", "ngc/torch:2", "other/hidden:1"} {
		_, err := srv.PushImage(ctx, ref, "amd64", registrytest.KernelLabels(nil))
		require.NoError(t, err)
	}
	target, err := url.Parse(srv.URL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	projects := map[string][]string{"stable": {"stable/python", "stable/r"}, "ngc": {"ngc/torch"}}
	harbor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/api/v2.0/projects/")
		if !ok {
			proxy.ServeHTTP(w, r)
			return
		}
		user, pass, _ := r.BasicAuth()
		if user != "robot" || pass != "pw" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		repos := projects[strings.TrimSuffix(rest, "/repositories")]
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		size, _ := strconv.Atoi(r.URL.Query().Get("page_size"))
		var items []map[string]string
		for i := (page - 1) * size; i < len(repos) && i < page*size; i++ {
			items = append(items, map[string]string{"name": repos[i]})
		}
		_ = json.NewEncoder(w).Encode(items)
	}))
	t.Cleanup(harbor.Close)

	reg := config.ContainerRegistry{Name: "cr", URL: harbor.URL, Type: "harbor2", Username: "robot", Password: "pw",
		Projects: []string{"stable", "ngc"}, SSLVerify: true}
	res, err := registry.Scan(ctx, reg, registry.Target{}, registry.Options{PageSize: 1})
	require.NoError(t, err)
	require.Equal(t, []string{"ngc/torch", "stable/python", "stable/r"}, res.Catalog)
	require.Len(t, res.Images, 3)

	reg.Password = "wrong"
	_, err = registry.Scan(ctx, reg, registry.Target{}, registry.Options{})
	require.ErrorContains(t, err, "project stable")
	require.ErrorContains(t, err, "401")
}
