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
	"github.com/hangar-run/hangar/internal/auth"
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

// e2eScenario drives the API only through the SDK: signed and unsigned calls, bad signatures,
// clock skew, admin CRUD, a user created through the API signing its own requests, and the
// frozen manager refusing writes.
func e2eScenario(t *testing.T, ctx context.Context, api *apiProcess, super, user *sdk.ClientWithResponses) {
	t.Helper()
	st, err := super.GetManagerStatusWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, 200, st.StatusCode(), string(st.Body))
	require.Equal(t, "running", string(st.JSON200.Status))

	// A bad signature is 401 auth-failed; a skewed Date is 400 invalid-auth-params.
	forged := functionstest.User
	forged.SecretKey = "forged-secret-key"
	bad, err := sdk.NewSigned(api.Endpoint, forged)
	require.NoError(t, err)
	me, err := bad.GetMyKeypairWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, 401, me.StatusCode())
	require.Equal(t, "https://api.backend.ai/probs/auth-failed", me.ApplicationproblemJSON401.Type)

	skewed, err := sdk.NewSignedAt(api.Endpoint, functionstest.User, func() time.Time { return time.Now().Add(-20 * time.Minute) })
	require.NoError(t, err)
	me, err = skewed.GetMyKeypairWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, 400, me.StatusCode())
	require.Equal(t, "https://api.backend.ai/probs/invalid-auth-params", me.ApplicationproblemJSON400.Type)

	me, err = user.GetMyKeypairWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, 200, me.StatusCode(), string(me.Body))
	require.Equal(t, functionstest.User.AccessKey, me.JSON200.AccessKey)

	// Admin CRUD, superadmin only.
	desc := "made by the e2e test"
	created, err := super.CreateDomainWithResponse(ctx, sdk.DomainCreate{Name: "e2e-domain", Description: &desc})
	require.NoError(t, err)
	require.Equal(t, 201, created.StatusCode(), string(created.Body))
	denied, err := user.CreateDomainWithResponse(ctx, sdk.DomainCreate{Name: "e2e-denied"})
	require.NoError(t, err)
	require.Equal(t, 401, denied.StatusCode())
	dup, err := super.CreateDomainWithResponse(ctx, sdk.DomainCreate{Name: "e2e-domain"})
	require.NoError(t, err)
	require.Equal(t, 400, dup.StatusCode())
	list, err := super.ListDomainsWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, 200, list.StatusCode())
	require.EqualValues(t, 2, list.JSON200.TotalCount)
	newDesc := "updated"
	upd, err := super.UpdateDomainWithResponse(ctx, "e2e-domain", sdk.DomainUpdate{Description: &newDesc})
	require.NoError(t, err)
	require.Equal(t, 200, upd.StatusCode(), string(upd.Body))
	got, err := super.GetDomainWithResponse(ctx, "e2e-domain")
	require.NoError(t, err)
	require.Equal(t, "updated", *got.JSON200.Description)
	missing, err := super.GetDomainWithResponse(ctx, "no-such-domain")
	require.NoError(t, err)
	require.Equal(t, 404, missing.StatusCode())
	require.Equal(t, "https://api.backend.ai/probs/object-not-found", missing.ApplicationproblemJSON404.Type)

	// A user created through the API signs its own requests with the keypair shown once.
	u, err := super.CreateUserWithResponse(ctx, sdk.UserCreate{Email: "e2e@example.com", Password: "e2e-password-1"})
	require.NoError(t, err)
	require.Equal(t, 201, u.StatusCode(), string(u.Body))
	require.NotNil(t, u.JSON201.Keypair.SecretKey)
	newUser, err := sdk.NewSigned(api.Endpoint, authCreds(u.JSON201.Keypair.AccessKey, *u.JSON201.Keypair.SecretKey))
	require.NoError(t, err)
	mine, err := newUser.GetMyKeypairWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, 200, mine.StatusCode(), string(mine.Body))
	require.Equal(t, u.JSON201.Keypair.AccessKey, mine.JSON200.AccessKey)

	// Frozen: writes get 503 server-frozen, reads still work, unfreezing restores writes.
	fr, err := super.UpdateManagerStatusWithResponse(ctx, sdk.UpdateManagerStatusJSONRequestBody{Status: "frozen"})
	require.NoError(t, err)
	require.Equal(t, 204, fr.StatusCode(), string(fr.Body))
	frozen, err := super.CreateDomainWithResponse(ctx, sdk.DomainCreate{Name: "e2e-frozen"})
	require.NoError(t, err)
	require.Equal(t, 503, frozen.StatusCode())
	require.Equal(t, "https://api.backend.ai/probs/server-frozen", frozen.ApplicationproblemJSON503.Type)
	st, err = user.GetManagerStatusWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, "frozen", string(st.JSON200.Status))
	fr, err = super.UpdateManagerStatusWithResponse(ctx, sdk.UpdateManagerStatusJSONRequestBody{Status: "running"})
	require.NoError(t, err)
	require.Equal(t, 204, fr.StatusCode())
	del, err := super.DeleteDomainWithResponse(ctx, "e2e-domain", &sdk.DeleteDomainParams{Purge: ptr(true)})
	require.NoError(t, err)
	require.Equal(t, 204, del.StatusCode(), string(del.Body))
}

func ptr[T any](v T) *T { return &v }

func authCreds(ak, sk string) auth.Credentials { return auth.Credentials{AccessKey: ak, SecretKey: sk} }
