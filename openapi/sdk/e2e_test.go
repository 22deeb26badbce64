package sdk_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/stacktest"
	"github.com/hangar-run/hangar/openapi/sdk"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

func TestSDKEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	api := stacktest.Start(t, stacktest.Options{})

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
func e2eScenario(t *testing.T, ctx context.Context, api *stacktest.Stack, super, user *sdk.ClientWithResponses) {
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
