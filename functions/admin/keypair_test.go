package admin_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/admin"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/fixture"
)

func TestKeypairCRUD(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)

	// Create for a user by e-mail: shown once with its secret, not the main key.
	res := env.Do(t, http.MethodPost, "/admin/keypairs", map[string]any{"user": "user@lablup.com", "rate_limit": 500}, sa)
	res.RequireStatus(t, 201)
	var k admin.Keypair
	res.JSON(t, &k)
	require.Len(t, k.AccessKey, 20)
	require.Len(t, k.SecretKey, 40)
	require.Equal(t, "user@lablup.com", k.UserID)
	require.Equal(t, fixture.UserUUID, k.User.String())
	require.True(t, k.IsActive)
	require.False(t, k.IsAdmin)
	require.False(t, k.IsMain)
	require.Equal(t, "default", k.ResourcePolicy)
	require.EqualValues(t, 500, k.RateLimit)
	var stored string
	queryRow(t, env, `SELECT secret_key FROM keypairs WHERE access_key = $1`, []any{k.AccessKey}, &stored)
	require.Equal(t, k.SecretKey, stored)

	// A second key is not the main key, so it does not authenticate.
	env.Do(t, http.MethodGet, "/keypairs/me", nil, creds(k)).RequireProblem(t, 401, "auth-failed")

	// By uuid, with everything.
	res = env.Do(t, http.MethodPost, "/admin/keypairs", map[string]any{
		"user": fixture.User2UUID, "is_active": false, "is_admin": true, "resource_policy": "default", "rate_limit": 10,
	}, sa)
	res.RequireStatus(t, 201)
	var k2 admin.Keypair
	res.JSON(t, &k2)
	require.False(t, k2.IsActive)
	require.True(t, k2.IsAdmin)
	require.Equal(t, "user2@lablup.com", k2.UserID)

	// Bad input and unknown references.
	env.Do(t, http.MethodPost, "/admin/keypairs", map[string]any{"user": "ghost@lablup.com"}, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodPost, "/admin/keypairs", map[string]any{"user": "user@lablup.com", "resource_policy": "nope"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/admin/keypairs", map[string]any{"user": "user@lablup.com", "rate_limit": 0}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/admin/keypairs", map[string]any{}, sa).RequireProblem(t, 400, "invalid-api-params")

	// Lists never show secrets.
	var list admin.KeypairList
	res = env.Do(t, http.MethodGet, "/admin/keypairs?user=user@lablup.com", nil, sa)
	res.RequireStatus(t, 200)
	require.NotContains(t, string(res.Body), "secret_key")
	res.JSON(t, &list)
	require.EqualValues(t, 2, list.TotalCount)
	mains := map[string]bool{}
	for _, it := range list.Items {
		mains[it.AccessKey] = it.IsMain
	}
	require.Equal(t, map[string]bool{fixture.UserAccessKey: true, k.AccessKey: false}, mains)
	list = admin.KeypairList{}
	env.Do(t, http.MethodGet, "/admin/keypairs", nil, sa).JSON(t, &list)
	require.EqualValues(t, 7, list.TotalCount)
	list = admin.KeypairList{}
	env.Do(t, http.MethodGet, "/admin/keypairs?is_active=false", nil, sa).JSON(t, &list)
	require.EqualValues(t, 1, list.TotalCount)
	require.Equal(t, k2.AccessKey, list.Items[0].AccessKey)
	list = admin.KeypairList{}
	env.Do(t, http.MethodGet, "/admin/keypairs?limit=2&offset=6", nil, sa).JSON(t, &list)
	require.EqualValues(t, 7, list.TotalCount)
	require.Len(t, list.Items, 1)
	env.Do(t, http.MethodGet, "/admin/keypairs?user=ghost@lablup.com", nil, sa).RequireProblem(t, 404, "object-not-found")

	// Get: the secret only for its owner.
	var got admin.Keypair
	res = env.Do(t, http.MethodGet, "/admin/keypairs/"+k.AccessKey, nil, sa)
	res.RequireStatus(t, 200)
	require.NotContains(t, string(res.Body), "secret_key")
	res.JSON(t, &got)
	require.Equal(t, k.AccessKey, got.AccessKey)
	got = admin.Keypair{}
	env.Do(t, http.MethodGet, "/admin/keypairs/"+fixture.SuperadminAccessKey, nil, sa).JSON(t, &got)
	require.Equal(t, fixture.SuperadminSecretKey, got.SecretKey)
	require.True(t, got.IsMain)
	env.Do(t, http.MethodGet, "/admin/keypairs/AKIANOSUCHKEY0000000", nil, sa).RequireProblem(t, 404, "object-not-found")

	// Partial update.
	res = env.Do(t, http.MethodPatch, "/admin/keypairs/"+k.AccessKey, map[string]any{"rate_limit": 42, "is_admin": true}, sa)
	res.RequireStatus(t, 200)
	got = admin.Keypair{}
	res.JSON(t, &got)
	require.EqualValues(t, 42, got.RateLimit)
	require.True(t, got.IsAdmin)
	require.True(t, got.IsActive)
	require.Empty(t, got.SecretKey)
	env.Do(t, http.MethodPatch, "/admin/keypairs/"+k.AccessKey, map[string]any{"is_admin": false}, sa).RequireStatus(t, 200)
	env.Do(t, http.MethodPatch, "/admin/keypairs/"+k.AccessKey, map[string]any{"resource_policy": "nope"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPatch, "/admin/keypairs/"+k.AccessKey, map[string]any{"secret_key": "x"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPatch, "/admin/keypairs/AKIANOSUCHKEY0000000", map[string]any{"rate_limit": 1}, sa).RequireProblem(t, 404, "object-not-found")

	// The main key cannot be deleted; after switching, the old one can.
	p := env.Do(t, http.MethodDelete, "/admin/keypairs/"+fixture.UserAccessKey, nil, sa).RequireProblem(t, 400, "invalid-api-params")
	require.Contains(t, p.Msg, "main access key")
	env.Do(t, http.MethodPost, "/admin/keypairs/"+k2.AccessKey+"/main", nil, sa).RequireProblem(t, 400, "invalid-api-params")
	res = env.Do(t, http.MethodPost, "/admin/keypairs/"+k.AccessKey+"/main", nil, sa)
	res.RequireStatus(t, 200)
	got = admin.Keypair{}
	res.JSON(t, &got)
	require.True(t, got.IsMain)
	env.Do(t, http.MethodGet, "/keypairs/me", nil, user).RequireProblem(t, 401, "auth-failed")
	var me admin.Keypair
	env.Do(t, http.MethodGet, "/keypairs/me", nil, creds(k)).JSON(t, &me)
	require.Equal(t, k.AccessKey, me.AccessKey)
	require.Equal(t, k.SecretKey, me.SecretKey)
	env.Do(t, http.MethodDelete, "/admin/keypairs/"+fixture.UserAccessKey, nil, sa).RequireStatus(t, 204)
	env.Do(t, http.MethodGet, "/admin/keypairs/"+fixture.UserAccessKey, nil, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodDelete, "/admin/keypairs/"+fixture.UserAccessKey, nil, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodPost, "/admin/keypairs/AKIANOSUCHKEY0000000/main", nil, sa).RequireProblem(t, 404, "object-not-found")
}

func TestKeypairForUserWithoutMainKey(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	u := createUser(t, env, map[string]any{"email": "hank@example.com", "password": "hank-password"})
	// Purging the only keypair is refused while it is the main one, so clear it by hand.
	_, err := env.DB.Pool.Exec(t.Context(), `UPDATE users SET main_access_key = NULL WHERE uuid = $1`, u.UUID)
	require.NoError(t, err)
	env.Do(t, http.MethodDelete, "/admin/keypairs/"+u.Keypair.AccessKey, nil, sa).RequireStatus(t, 204)

	// The user's next keypair becomes the main one and signs at once.
	res := env.Do(t, http.MethodPost, "/admin/keypairs", map[string]any{"user": "hank@example.com"}, sa)
	res.RequireStatus(t, 201)
	var k admin.Keypair
	res.JSON(t, &k)
	require.True(t, k.IsMain)
	env.Do(t, http.MethodGet, "/keypairs/me", nil, creds(k)).RequireStatus(t, 200)
}

func TestMyKeypair(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	res := env.Do(t, http.MethodGet, "/keypairs/me", nil, user)
	res.RequireStatus(t, 200)
	var me admin.Keypair
	res.JSON(t, &me)
	require.Equal(t, fixture.UserAccessKey, me.AccessKey)
	require.Equal(t, fixture.UserSecretKey, me.SecretKey)
	require.Equal(t, "user@lablup.com", me.UserID)
	require.True(t, me.IsMain)
	require.True(t, me.IsActive)
	require.False(t, me.IsAdmin)
	env.Do(t, http.MethodGet, "/keypairs/me", nil, nil).RequireProblem(t, 400, "invalid-auth-params")
}

func TestKeypairPrivileges(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	_, stranger := createOtherDomain(t, env)
	foreign := "/admin/keypairs/" + stranger.Keypair.AccessKey
	super := "/admin/keypairs/" + fixture.SuperadminAccessKey

	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/admin/keypairs", nil},
		{http.MethodPost, "/admin/keypairs", map[string]any{"user": "user@lablup.com"}},
		{http.MethodGet, "/admin/keypairs/" + fixture.UserAccessKey, nil},
		{http.MethodPatch, "/admin/keypairs/" + fixture.UserAccessKey, map[string]any{"rate_limit": 1}},
		{http.MethodDelete, "/admin/keypairs/" + fixture.User2AccessKey, nil},
		{http.MethodPost, "/admin/keypairs/" + fixture.UserAccessKey + "/main", nil},
	} {
		requireUnauthorized(t, env, c.method, c.path, c.body)
	}

	// A domain admin reads the keypairs of their own domain's users (secrets only their own)...
	res := env.Do(t, http.MethodGet, "/admin/keypairs/"+fixture.User2AccessKey, nil, da)
	res.RequireStatus(t, 200)
	require.NotContains(t, string(res.Body), "secret_key")
	var own admin.Keypair
	env.Do(t, http.MethodGet, "/admin/keypairs/"+fixture.DomainAdminAccessKey, nil, da).JSON(t, &own)
	require.Equal(t, fixture.DomainAdminSecretKey, own.SecretKey)
	var list admin.KeypairList
	env.Do(t, http.MethodGet, "/admin/keypairs", nil, da).JSON(t, &list)
	require.EqualValues(t, 5, list.TotalCount)
	for _, it := range list.Items {
		require.NotEqual(t, stranger.Keypair.AccessKey, it.AccessKey)
	}
	env.Do(t, http.MethodGet, "/admin/keypairs?user="+stranger.Email, nil, da).RequireProblem(t, 403, "insufficient-privilege")
	env.Do(t, http.MethodGet, foreign, nil, da).RequireProblem(t, 403, "insufficient-privilege")

	// ...but keypairs are written by superadmins only (Backend.AI's allowed roles): refused as
	// every superadmin operation is, in their own domain, of their own users and of admins alike.
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/admin/keypairs", map[string]any{"user": "user2@lablup.com"}},
		{http.MethodPost, "/admin/keypairs", map[string]any{"user": "domain-admin@lablup.com", "is_admin": true}},
		{http.MethodPost, "/admin/keypairs", map[string]any{"user": stranger.Email}},
		{http.MethodPost, "/admin/keypairs", map[string]any{"user": "admin@lablup.com"}},
		{http.MethodPatch, "/admin/keypairs/" + fixture.User2AccessKey, map[string]any{"rate_limit": 7}},
		{http.MethodPatch, "/admin/keypairs/" + fixture.UserAccessKey, map[string]any{"is_admin": true}},
		{http.MethodPost, "/admin/keypairs/" + fixture.User2AccessKey + "/main", nil},
		{http.MethodDelete, "/admin/keypairs/" + fixture.User2AccessKey, nil},
		{http.MethodPatch, foreign, map[string]any{"is_active": false}},
		{http.MethodDelete, foreign, nil},
		{http.MethodPost, foreign + "/main", nil},
		{http.MethodPatch, super, map[string]any{"is_active": false}},
		{http.MethodPost, super + "/main", nil},
	} {
		env.Do(t, c.method, c.path, c.body, da).RequireProblem(t, 401, "auth-failed")
	}
	var after admin.KeypairList
	env.Do(t, http.MethodGet, "/admin/keypairs", nil, da).JSON(t, &after)
	require.Equal(t, list.TotalCount, after.TotalCount)
	requireKeypair(t, env, fixture.User2AccessKey, true, false)
	res = env.Do(t, http.MethodGet, super, nil, da)
	res.RequireStatus(t, 200)
	require.NotContains(t, string(res.Body), fixture.SuperadminSecretKey)
	requireKeypair(t, env, fixture.SuperadminAccessKey, true, true)
	requireKeypair(t, env, stranger.Keypair.AccessKey, true, false)
	env.Do(t, http.MethodGet, "/keypairs/me", nil, creds(stranger.Keypair)).RequireStatus(t, 200)

	// A superadmin may give anyone an admin keypair.
	env.Do(t, http.MethodPost, "/admin/keypairs", map[string]any{"user": "user@lablup.com", "is_admin": true}, sa).RequireStatus(t, 201)
}
