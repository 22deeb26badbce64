package image_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/dbtest"
	"github.com/hangar-run/hangar/internal/halfstack"
	"github.com/hangar-run/hangar/internal/registry"
	"github.com/hangar-run/hangar/internal/registry/registrytest"
	"github.com/hangar-run/hangar/internal/worker"
	"github.com/hangar-run/hangar/jobs"
	"github.com/hangar-run/hangar/jobs/image"
)

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// row is what the tests check of an images row.
type row struct {
	Name, Image, Tag, Registry, Architecture, ConfigDigest string
	SizeBytes                                              int64
	Accelerators                                           *string
	Labels                                                 map[string]string
	Resources                                              map[string]map[string]*string
	Missing                                                bool
}

// rows reads the images table keyed by "name@architecture".
func rows(t testing.TB, pool *pgxpool.Pool) map[string]row {
	t.Helper()
	list, err := db.Q.ImageList(testCtx(t), pool, nil)
	require.NoError(t, err)
	out := map[string]row{}
	for _, r := range list {
		x := row{Name: r.Name, Image: r.Image, Tag: r.Tag, Registry: r.Registry, Architecture: r.Architecture,
			ConfigDigest: r.ConfigDigest, SizeBytes: r.SizeBytes, Accelerators: r.Accelerators, Missing: r.MissingSince != nil}
		require.NoError(t, json.Unmarshal(r.Labels, &x.Labels))
		require.NoError(t, json.Unmarshal(r.Resources, &x.Resources))
		out[r.Name+"@"+r.Architecture] = x
	}
	return out
}

func sizeOf(t testing.TB, img v1.Image) int64 {
	t.Helper()
	m, err := img.Manifest()
	require.NoError(t, err)
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

func strp(s string) *string { return &s }

func TestRescan(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	d := dbtest.NewDatabase(t)
	srv := registrytest.Start(t, registrytest.Options{})
	regs := []config.ContainerRegistry{srv.Registry("local")}

	py, err := srv.PushImage(ctx, "stable/python:3.11", "amd64", registrytest.KernelLabels(map[string]string{
		"ai.backend.resource.min.mem":         "256m",
		"ai.backend.resource.min.cuda.shares": "0.1",
		"ai.backend.accelerators":             "cuda",
	}))
	require.NoError(t, err)
	amd, err := registrytest.NewImage(256, "amd64", registrytest.KernelLabels(nil))
	require.NoError(t, err)
	arm, err := registrytest.NewImage(256, "arm64", registrytest.KernelLabels(nil))
	require.NoError(t, err)
	_, err = srv.PushIndex(ctx, "stable/multi:1.0", map[string]v1.Image{"amd64": amd, "arm64": arm})
	require.NoError(t, err)
	_, err = srv.PushImage(ctx, "other/plain:latest", "amd64", map[string]string{"maintainer": "someone"})
	require.NoError(t, err)
	gone, err := srv.PushImage(ctx, "stable/python:3.10", "amd64", registrytest.KernelLabels(nil))
	require.NoError(t, err)
	_ = gone

	reps, err := image.Rescan(ctx, d.Pool, regs, "", image.Options{})
	require.NoError(t, err)
	require.Len(t, reps, 1)
	rep := reps[0]
	require.NoError(t, rep.Err)
	require.Equal(t, 4, rep.Added)
	require.Len(t, rep.Skipped, 1)
	require.Equal(t, "local/other/plain:latest", rep.Skipped[0].Name)
	require.Empty(t, rep.Errors)
	require.Empty(t, rep.Missing)

	got := rows(t, d.Pool)
	require.Len(t, got, 4)
	pyDigest, err := py.ConfigName()
	require.NoError(t, err)
	require.Equal(t, row{
		Name: "local/stable/python:3.11", Image: "stable/python", Tag: "3.11", Registry: "local", Architecture: "x86_64",
		ConfigDigest: pyDigest.String(), SizeBytes: sizeOf(t, py), Accelerators: strp("cuda"),
		Labels: registrytest.KernelLabels(map[string]string{
			"ai.backend.resource.min.mem":         "256m",
			"ai.backend.resource.min.cuda.shares": "0.1",
			"ai.backend.accelerators":             "cuda",
		}),
		Resources: map[string]map[string]*string{
			"cpu": {"min": strp("1"), "max": nil}, "mem": {"min": strp("256m"), "max": nil},
			"cuda.shares": {"min": strp("0.1"), "max": nil},
		},
	}, got["local/stable/python:3.11@x86_64"])
	require.Equal(t, "aarch64", got["local/stable/multi:1.0@aarch64"].Architecture)
	require.Equal(t, sizeOf(t, arm), got["local/stable/multi:1.0@aarch64"].SizeBytes)
	require.Equal(t, sizeOf(t, amd), got["local/stable/multi:1.0@x86_64"].SizeBytes)

	t.Run("Idempotent", func(t *testing.T) {
		reps, err := image.Rescan(ctx, d.Pool, regs, "local", image.Options{})
		require.NoError(t, err)
		require.NoError(t, reps[0].Err)
		require.Equal(t, 0, reps[0].Added)
		require.Equal(t, 0, reps[0].Updated)
		require.Equal(t, 4, reps[0].Unchanged)
		require.Empty(t, reps[0].Missing)
		require.Equal(t, got, rows(t, d.Pool))
	})

	t.Run("DeletedTagIsMarkedMissing", func(t *testing.T) {
		require.NoError(t, srv.Delete(ctx, "stable/python:3.10"))
		reps, err := image.Rescan(ctx, d.Pool, regs, "local", image.Options{})
		require.NoError(t, err)
		require.Equal(t, []string{"local/stable/python:3.10@x86_64"}, reps[0].Missing)
		after := rows(t, d.Pool)
		require.Len(t, after, 4, "missing images are kept")
		require.True(t, after["local/stable/python:3.10@x86_64"].Missing)
		require.False(t, after["local/stable/python:3.11@x86_64"].Missing)

		// A missing image that comes back is seen again.
		_, err = srv.PushImage(ctx, "stable/python:3.10", "amd64", registrytest.KernelLabels(nil))
		require.NoError(t, err)
		reps, err = image.Rescan(ctx, d.Pool, regs, "local/stable/python:3.10", image.Options{})
		require.NoError(t, err)
		require.Equal(t, 1, reps[0].Updated)
		require.False(t, rows(t, d.Pool)["local/stable/python:3.10@x86_64"].Missing)
	})

	t.Run("SingleImage", func(t *testing.T) {
		newer, err := srv.PushImage(ctx, "stable/multi:1.0", "amd64", registrytest.KernelLabels(map[string]string{"ai.backend.resource.min.cpu": "2"}))
		require.NoError(t, err)
		reps, err := image.Rescan(ctx, d.Pool, regs, "local/stable/multi:1.0", image.Options{})
		require.NoError(t, err)
		require.Equal(t, 1, reps[0].Updated)
		require.Equal(t, []string{"local/stable/multi:1.0@aarch64"}, reps[0].Missing, "the tag lost its arm64 image")
		after := rows(t, d.Pool)
		digest, err := newer.ConfigName()
		require.NoError(t, err)
		require.Equal(t, digest.String(), after["local/stable/multi:1.0@x86_64"].ConfigDigest)
		require.Equal(t, "2", *after["local/stable/multi:1.0@x86_64"].Resources["cpu"]["min"])
		require.False(t, after["local/stable/python:3.11@x86_64"].Missing, "other images are not touched")
	})

	t.Run("UnknownTarget", func(t *testing.T) {
		_, err := image.Rescan(ctx, d.Pool, regs, "elsewhere/x:1", image.Options{})
		require.ErrorContains(t, err, "unknown registry")
	})
}

func TestRescanFailures(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	d := dbtest.NewDatabase(t)
	authSrv := registrytest.Start(t, registrytest.Options{Username: "hangar", Password: "s3cret"})
	_, err := authSrv.PushImage(ctx, "stable/python:3.11", "amd64", registrytest.KernelLabels(nil))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	downAddr := ln.Addr().String()
	require.NoError(t, ln.Close())

	good := authSrv.Registry("a-good")
	wrong := authSrv.Registry("b-wrong-password")
	wrong.Password = "nope"
	down := config.ContainerRegistry{Name: "c-down", URL: "http://" + downAddr, Type: "docker", SSLVerify: true}
	reps, err := image.Rescan(ctx, d.Pool, []config.ContainerRegistry{good, wrong, down}, "", image.Options{})
	require.NoError(t, err)
	require.Len(t, reps, 3)
	require.NoError(t, reps[0].Err)
	require.Equal(t, 1, reps[0].Added)
	require.ErrorContains(t, reps[1].Err, "401")
	require.ErrorContains(t, reps[2].Err, "connection refused")
	require.Len(t, rows(t, d.Pool), 1)
}

func TestHandleRescan(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	d := dbtest.NewDatabase(t)
	srv := registrytest.Start(t, registrytest.Options{})
	_, err := srv.PushImage(ctx, "stable/python:3.11", "arm64", registrytest.KernelLabels(nil))
	require.NoError(t, err)

	etcd := testEtcd(t)
	h := image.New(&worker.Deps{Pool: d.Pool, Etcd: etcd})
	task := func(target string) *asynq.Task {
		t.Helper()
		tk, err := jobs.NewImageRescanTask(jobs.ImageRescanPayload{Target: target})
		require.NoError(t, err)
		return tk
	}

	// No registry configured: a periodic rescan does nothing.
	require.NoError(t, h.HandleRescan(ctx, task("")))
	require.NoError(t, etcd.Put(ctx, "config/docker/registry/"+config.Quote(srv.Addr), srv.URL))
	require.NoError(t, h.HandleRescan(ctx, task("")))
	require.Contains(t, rows(t, d.Pool), srv.Addr+"/stable/python:3.11@aarch64")
	// Redelivery is harmless.
	require.NoError(t, h.HandleRescan(ctx, task(srv.Addr)))
	require.Len(t, rows(t, d.Pool), 1)

	err = h.HandleRescan(ctx, task("nowhere/x:1"))
	require.ErrorIs(t, err, asynq.SkipRetry)
}

// testEtcd connects to the halfstack etcd with a fresh namespace, emptied at the end.
func testEtcd(t *testing.T) *config.Etcd {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e, err := config.DialEtcd(ctx, halfstack.EtcdAddr(), "test-"+hex.EncodeToString(b), halfstack.EtcdUser(), halfstack.EtcdPassword())
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.DeletePrefix(ctx, "")
		_ = e.Close()
	})
	return e
}

// BenchmarkRescan pushes 200 single-architecture images (b.N is ignored for the push; each
// iteration rescans the whole registry) and reports images per second of a full rescan
// stored in PostgreSQL.
func BenchmarkRescan(b *testing.B) {
	ctx := testCtx(b)
	d := dbtest.NewDatabase(b)
	srv := registrytest.Start(b, registrytest.Options{})
	const n = 200
	for i := range n {
		_, err := srv.PushImage(ctx, fmt.Sprintf("bench/img%03d:%d", i/4, i%4), "amd64", registrytest.KernelLabels(nil))
		require.NoError(b, err)
	}
	regs := []config.ContainerRegistry{srv.Registry("bench")}
	images := 0
	b.ResetTimer()
	for b.Loop() {
		reps, err := image.Rescan(ctx, d.Pool, regs, "", image.Options{Scan: registry.Options{}})
		require.NoError(b, err)
		require.NoError(b, reps[0].Err)
		require.Equal(b, n, reps[0].Images())
		images += reps[0].Images()
	}
	b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
}
