package sdk_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/dbtest"
	"github.com/hangar-run/hangar/internal/fixture"
	"github.com/hangar-run/hangar/openapi/sdk"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// hangarBinary builds cmd/hangar once per test run.
func hangarBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hangar-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		binPath = filepath.Join(dir, "hangar")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/hangar")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build hangar: %v: %s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// apiProcess runs `hangar api` as its own process against a fresh database and etcd namespace.
type apiProcess struct {
	Endpoint  string
	Namespace string
	Etcd      *config.Etcd
}

func startAPI(t *testing.T) *apiProcess {
	t.Helper()
	bin := hangarBinary(t)
	ctx := context.Background()
	d := dbtest.NewDatabase(t)
	require.NoError(t, fixture.LoadExamples(ctx, d.Pool, fixture.Options{BcryptCost: 4}))
	ns := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
	etcd, err := config.DialEtcd(ctx, functionstest.EtcdAddr(), ns, "", "")
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = etcd.DeletePrefix(context.Background(), "")
		_ = etcd.Close()
	})
	addr := freePort(t)
	cmd := exec.Command(bin, "api")
	cmd.Dir = t.TempDir() // no manager.toml here: defaults plus the environment below
	cmd.Env = append(os.Environ(),
		"HOME="+t.TempDir(),
		"BACKEND_DB_NAME="+d.Name,
		"BACKEND_NAMESPACE="+ns,
		"BACKEND_ETCD_ADDR="+functionstest.EtcdAddr(),
		"BACKEND_REDIS_ADDR="+functionstest.RedisAddr(),
		"BACKEND_SERVICE_ADDR="+addr,
	)
	var logs strings.Builder
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(p []byte) { mu.Lock(); logs.Write(p); mu.Unlock() })
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_, _ = cmd.Process.Wait()
		if t.Failed() {
			mu.Lock()
			t.Logf("hangar api output:\n%s", logs.String())
			mu.Unlock()
		}
	})
	endpoint := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(endpoint + "/")
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("hangar api did not answer on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &apiProcess{Endpoint: endpoint, Namespace: ns, Etcd: etcd}
}

type writerFunc func(p []byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

func TestSDKEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	api := startAPI(t)

	super, err := sdk.NewSigned(api.Endpoint, functionstest.Superadmin)
	require.NoError(t, err)
	user, err := sdk.NewSigned(api.Endpoint, functionstest.User)
	require.NoError(t, err)

	// Public and signed calls.
	ver, err := super.GetVersionWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, 200, ver.StatusCode())
	require.Equal(t, "v8.20240315", ver.JSON200.Version)

	e2eScenario(t, ctx, api, super, user)
}
