package admin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/hangar-run/hangar/functions/admin"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/fixture"
)

func TestUserCreate(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)

	res := env.Do(t, http.MethodPost, "/admin/users", map[string]any{
		"email": "alice@example.com", "password": "alice-secret-pw", "full_name": "Alice",
		"group_ids": []string{fixture.DefaultProjectID}, "allowed_client_ip": []string{"127.0.0.1", "10.0.0.0/8"},
	}, sa)
	res.RequireStatus(t, 201)
	require.NotContains(t, string(res.Body), `"password"`)
	require.NotContains(t, string(res.Body), "alice-secret-pw")
	var u admin.UserCreated
	res.JSON(t, &u)
	require.Equal(t, "alice@example.com", u.Email)
	require.Equal(t, "alice", *u.Username)
	require.Equal(t, "Alice", *u.FullName)
	require.Equal(t, "active", u.Status)
	require.Equal(t, "user", u.Role)
	require.Equal(t, "default", u.DomainName)
	require.Equal(t, "default", u.ResourcePolicy)
	require.False(t, u.NeedPasswordChange)
	require.NotNil(t, u.PasswordChangedAt)
	require.Equal(t, []string{"127.0.0.1", "10.0.0.0/8"}, u.AllowedClientIP)
	// The projects given, and the domain's model store (Backend.AI's create_user joins it).
	require.ElementsMatch(t, []admin.UserGroup{
		{ID: mustUUID(t, fixture.DefaultProjectID), Name: "default"},
		{ID: mustUUID(t, fixture.ModelStoreProjectID), Name: "model-store"},
	}, u.Groups)

	// The generated keypair: the main one, shown with its secret this once.
	k := u.Keypair
	require.Len(t, k.AccessKey, 20)
	require.True(t, strings.HasPrefix(k.AccessKey, "AKIA"))
	require.Len(t, k.SecretKey, 40)
	require.Equal(t, k.AccessKey, *u.MainAccessKey)
	require.True(t, k.IsMain)
	require.True(t, k.IsActive)
	require.False(t, k.IsAdmin)
	require.Equal(t, "default", k.ResourcePolicy)
	require.EqualValues(t, 30000, k.RateLimit)
	require.Equal(t, u.UUID, k.User)
	require.Equal(t, "alice@example.com", k.UserID)

	// Nobody but the owner sees the secret again.
	res = env.Do(t, http.MethodGet, "/admin/keypairs/"+k.AccessKey, nil, sa)
	res.RequireStatus(t, 200)
	require.NotContains(t, string(res.Body), "secret_key")
	require.NotContains(t, string(res.Body), k.SecretKey)
	res = env.Do(t, http.MethodGet, "/admin/keypairs?user=alice@example.com", nil, sa)
	res.RequireStatus(t, 200)
	require.NotContains(t, string(res.Body), k.SecretKey)
	res = env.Do(t, http.MethodGet, "/admin/users/alice@example.com", nil, sa)
	res.RequireStatus(t, 200)
	require.NotContains(t, string(res.Body), k.SecretKey)
	require.NotContains(t, string(res.Body), `"password"`)

	// The password is stored as a bcrypt hash at the configured cost.
	var hash string
	queryRow(t, env, `SELECT password FROM users WHERE email = $1`, []any{"alice@example.com"}, &hash)
	require.NotEqual(t, "alice-secret-pw", hash)
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(hash), []byte("alice-secret-pw")))
	cost, err := bcrypt.Cost([]byte(hash))
	require.NoError(t, err)
	require.Equal(t, 4, cost)

	// The new user signs requests right away with the returned keypair.
	res = env.Do(t, http.MethodGet, "/keypairs/me", nil, creds(k))
	res.RequireStatus(t, 200)
	var me admin.Keypair
	res.JSON(t, &me)
	require.Equal(t, k.AccessKey, me.AccessKey)
	require.Equal(t, k.SecretKey, me.SecretKey)
	require.True(t, me.IsMain)
	// A plain user cannot reach admin routes.
	env.Do(t, http.MethodGet, "/admin/users", nil, creds(k)).RequireProblem(t, 401, "auth-failed")

	// Everything given; an admin gets an is_admin keypair.
	u2 := createUser(t, env, map[string]any{
		"email": "bob@example.com", "username": "bobby", "password": "bob-password", "description": "Bob",
		"status": "inactive", "role": "admin", "need_password_change": true, "resource_policy": "default",
	})
	require.Equal(t, "bobby", *u2.Username)
	require.Equal(t, "inactive", u2.Status)
	require.Equal(t, "admin", u2.Role)
	require.True(t, u2.NeedPasswordChange)
	require.True(t, u2.Keypair.IsAdmin)
	require.False(t, u2.Keypair.IsActive, "inactive users get an inactive keypair")
	require.Equal(t, []string{}, u2.AllowedClientIP)
	require.Equal(t, []admin.UserGroup{{ID: mustUUID(t, fixture.ModelStoreProjectID), Name: "model-store"}}, u2.Groups)
	env.Do(t, http.MethodGet, "/keypairs/me", nil, creds(u2.Keypair)).RequireProblem(t, 401, "auth-failed")

	// Duplicates.
	env.Do(t, http.MethodPost, "/admin/users", map[string]any{"email": "alice@example.com", "username": "alice2", "password": "long-enough"}, sa).
		RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPost, "/admin/users", map[string]any{"email": "alice@elsewhere.com", "password": "long-enough"}, sa).
		RequireProblem(t, 400, "invalid-api-params")

	// Bad input; nothing is left behind.
	for _, body := range []map[string]any{
		{"email": "not-an-email", "password": "long-enough"},
		{"email": "Carol <carol@example.com>", "password": "long-enough"},
		{"email": "carol@example.com"},
		{"email": "carol@example.com", "password": "short"},
		{"email": "carol@example.com", "password": "long-enough", "role": "king"},
		{"email": "carol@example.com", "password": "long-enough", "status": "asleep"},
		{"email": "carol@example.com", "password": "long-enough", "domain_name": "nope"},
		{"email": "carol@example.com", "password": "long-enough", "resource_policy": "nope"},
		{"email": "carol@example.com", "password": "long-enough", "group_ids": []string{"nope"}},
		{"email": "carol@example.com", "password": "long-enough", "group_ids": []string{"00000000-0000-0000-0000-000000000001"}},
		{"email": "carol@example.com", "password": "long-enough", "allowed_client_ip": []string{"localhost"}},
		{"email": "carol@example.com", "password": "long-enough", "is_active": true},
	} {
		env.Do(t, http.MethodPost, "/admin/users", body, sa).RequireProblem(t, 400, "invalid-api-params")
	}
	env.Do(t, http.MethodGet, "/admin/users/carol@example.com", nil, sa).RequireProblem(t, 404, "object-not-found")
	var n int
	queryRow(t, env, `SELECT count(*) FROM keypairs WHERE user_id = 'carol@example.com'`, nil, &n)
	require.Zero(t, n)
}

func TestUserReadUpdateDelete(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	u := createUser(t, env, map[string]any{"email": "dave@example.com", "password": "dave-password"})
	path := "/admin/users/" + u.UUID.String()

	// Get by id and by e-mail; unknown users are 404.
	var byID, byEmail admin.User
	env.Do(t, http.MethodGet, path, nil, sa).JSON(t, &byID)
	env.Do(t, http.MethodGet, "/admin/users/dave@example.com", nil, sa).JSON(t, &byEmail)
	require.Equal(t, byID, byEmail)
	require.Equal(t, u.User, byID)
	env.Do(t, http.MethodGet, "/admin/users/ghost@example.com", nil, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodGet, "/admin/users/00000000-0000-0000-0000-000000000001", nil, sa).RequireProblem(t, 404, "object-not-found")

	// List and filters.
	var list admin.UserList
	env.Do(t, http.MethodGet, "/admin/users", nil, sa).JSON(t, &list)
	require.EqualValues(t, 6, list.TotalCount)
	require.Equal(t, "admin@lablup.com", list.Items[0].Email)
	list = admin.UserList{}
	env.Do(t, http.MethodGet, "/admin/users?role=user&limit=2", nil, sa).JSON(t, &list)
	require.EqualValues(t, 3, list.TotalCount)
	require.Equal(t, []string{"dave@example.com", "user2@lablup.com"}, userEmails(list))
	list = admin.UserList{}
	env.Do(t, http.MethodGet, "/admin/users?role=user&status=active&domain_name=default&group_id="+fixture.DefaultProjectID, nil, sa).JSON(t, &list)
	require.Equal(t, []string{"user2@lablup.com", "user@lablup.com"}, userEmails(list))
	env.Do(t, http.MethodGet, "/admin/users?role=king", nil, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodGet, "/admin/users?group_id=nope", nil, sa).RequireProblem(t, 400, "invalid-api-params")

	// Partial update; a new password is re-hashed.
	res := env.Do(t, http.MethodPatch, path, map[string]any{
		"full_name": "Dave", "password": "dave-new-password", "need_password_change": true,
		"group_ids": []string{fixture.DefaultProjectID, fixture.ModelStoreProjectID}, "allowed_client_ip": []string{"192.168.0.0/16"},
	}, sa)
	res.RequireStatus(t, 200)
	require.NotContains(t, string(res.Body), `"password"`)
	var got admin.User
	res.JSON(t, &got)
	require.Equal(t, "Dave", *got.FullName)
	require.Equal(t, "dave", *got.Username)
	require.True(t, got.NeedPasswordChange)
	require.Len(t, got.Groups, 2)
	require.Equal(t, []string{"192.168.0.0/16"}, got.AllowedClientIP)
	require.True(t, got.PasswordChangedAt.After(*u.PasswordChangedAt) || got.PasswordChangedAt.Equal(*u.PasswordChangedAt))
	var hash string
	queryRow(t, env, `SELECT password FROM users WHERE uuid = $1`, []any{u.UUID}, &hash)
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(hash), []byte("dave-new-password")))
	require.Error(t, bcrypt.CompareHashAndPassword([]byte(hash), []byte("dave-password")))

	// The client IP restriction applies: the test client is 127.0.0.1.
	env.Do(t, http.MethodGet, "/keypairs/me", nil, creds(u.Keypair)).RequireProblem(t, 401, "auth-failed")
	got = admin.User{}
	env.Do(t, http.MethodPatch, path, map[string]any{"allowed_client_ip": []string{}, "group_ids": []string{}}, sa).JSON(t, &got)
	require.Equal(t, []string{}, got.AllowedClientIP)
	require.Equal(t, []admin.UserGroup{}, got.Groups)
	env.Do(t, http.MethodGet, "/keypairs/me", nil, creds(u.Keypair)).RequireStatus(t, 200)

	// Promotion makes the keypairs admin keypairs; demotion undoes it.
	got = admin.User{}
	env.Do(t, http.MethodPatch, path, map[string]any{"role": "admin"}, sa).JSON(t, &got)
	require.Equal(t, "admin", got.Role)
	requireKeypair(t, env, u.Keypair.AccessKey, true, true)
	env.Do(t, http.MethodGet, "/admin/users", nil, creds(u.Keypair)).RequireStatus(t, 200)
	env.Do(t, http.MethodPatch, path, map[string]any{"role": "monitor"}, sa).RequireStatus(t, 200)
	requireKeypair(t, env, u.Keypair.AccessKey, true, false)
	env.Do(t, http.MethodGet, "/admin/users", nil, creds(u.Keypair)).RequireProblem(t, 401, "auth-failed")

	// Leaving active deactivates the keypairs; returning reactivates the main one.
	got = admin.User{}
	env.Do(t, http.MethodPatch, path, map[string]any{"status": "inactive"}, sa).JSON(t, &got)
	require.Equal(t, "inactive", got.Status)
	require.Equal(t, "admin-requested", *got.StatusInfo)
	requireKeypair(t, env, u.Keypair.AccessKey, false, false)
	env.Do(t, http.MethodGet, "/keypairs/me", nil, creds(u.Keypair)).RequireProblem(t, 401, "auth-failed")
	env.Do(t, http.MethodPatch, path, map[string]any{"status": "active"}, sa).RequireStatus(t, 200)
	requireKeypair(t, env, u.Keypair.AccessKey, true, false)
	env.Do(t, http.MethodGet, "/keypairs/me", nil, creds(u.Keypair)).RequireStatus(t, 200)

	// Moving to another domain ends memberships outside it.
	createOtherDomain(t, env)
	env.Do(t, http.MethodPatch, path, map[string]any{"group_ids": []string{fixture.DefaultProjectID}}, sa).RequireStatus(t, 200)
	got = admin.User{}
	env.Do(t, http.MethodPatch, path, map[string]any{"domain_name": otherDomain}, sa).JSON(t, &got)
	require.Equal(t, otherDomain, got.DomainName)
	require.Equal(t, []admin.UserGroup{}, got.Groups)

	// Bad updates.
	env.Do(t, http.MethodPatch, path, map[string]any{"group_ids": []string{fixture.DefaultProjectID}}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPatch, path, map[string]any{"username": "admin"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPatch, path, map[string]any{"domain_name": "nope"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPatch, path, map[string]any{"status": "asleep"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPatch, path, map[string]any{"password": "short"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPatch, path, map[string]any{"email": "new@example.com"}, sa).RequireProblem(t, 400, "invalid-api-params")
	env.Do(t, http.MethodPatch, "/admin/users/ghost@example.com", map[string]any{"full_name": "x"}, sa).RequireProblem(t, 404, "object-not-found")

	// Soft delete: status deleted, keypairs off.
	env.Do(t, http.MethodDelete, path, nil, sa).RequireStatus(t, 204)
	got = admin.User{}
	env.Do(t, http.MethodGet, path, nil, sa).JSON(t, &got)
	require.Equal(t, "deleted", got.Status)
	requireKeypair(t, env, u.Keypair.AccessKey, false, false)
	env.Do(t, http.MethodGet, "/keypairs/me", nil, creds(u.Keypair)).RequireProblem(t, 401, "auth-failed")

	// Purge: gone with the keypairs.
	env.Do(t, http.MethodDelete, path+"?purge=true", nil, sa).RequireStatus(t, 204)
	env.Do(t, http.MethodGet, path, nil, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodGet, "/admin/keypairs/"+u.Keypair.AccessKey, nil, sa).RequireProblem(t, 404, "object-not-found")
	env.Do(t, http.MethodDelete, path+"?purge=true", nil, sa).RequireProblem(t, 404, "object-not-found")

	// Nobody deletes themselves.
	env.Do(t, http.MethodDelete, "/admin/users/admin@lablup.com", nil, sa).RequireProblem(t, 400, "invalid-api-params")
}

func TestUserPrivileges(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	_, stranger := createOtherDomain(t, env)
	strangerPath := "/admin/users/" + stranger.Email

	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/admin/users", nil},
		{http.MethodPost, "/admin/users", map[string]any{"email": "x@example.com", "password": "long-enough"}},
		{http.MethodGet, "/admin/users/user@lablup.com", nil},
		{http.MethodPatch, "/admin/users/user@lablup.com", map[string]any{"full_name": "x"}},
		{http.MethodDelete, "/admin/users/user2@lablup.com", nil},
	} {
		requireUnauthorized(t, env, c.method, c.path, c.body)
	}

	// A domain admin reads the users of their own domain...
	env.Do(t, http.MethodGet, "/admin/users/user@lablup.com", nil, da).RequireStatus(t, 200)
	var list admin.UserList
	env.Do(t, http.MethodGet, "/admin/users", nil, da).JSON(t, &list)
	require.EqualValues(t, 5, list.TotalCount)
	require.NotContains(t, userEmails(list), stranger.Email)
	env.Do(t, http.MethodGet, "/admin/users?domain_name="+otherDomain, nil, da).RequireProblem(t, 403, "insufficient-privilege")
	env.Do(t, http.MethodGet, strangerPath, nil, da).RequireProblem(t, 403, "insufficient-privilege")

	// ...but users are written by superadmins only (Backend.AI's allowed roles), refused as
	// every superadmin operation is: not even plain users of the admin's own domain.
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/admin/users", map[string]any{"email": "f@example.com", "password": "long-enough", "role": "monitor"}},
		{http.MethodPost, "/admin/users", map[string]any{"email": "f@example.com", "password": "long-enough", "domain_name": otherDomain}},
		{http.MethodPost, "/admin/users", map[string]any{"email": "f@example.com", "password": "long-enough", "role": "admin"}},
		{http.MethodPost, "/admin/users", map[string]any{"email": "f@example.com", "password": "long-enough", "role": "superadmin"}},
		{http.MethodPatch, "/admin/users/user2@lablup.com", map[string]any{"full_name": "x"}},
		{http.MethodDelete, "/admin/users/user2@lablup.com?purge=true", nil},
		{http.MethodPatch, strangerPath, map[string]any{"full_name": "x"}},
		{http.MethodDelete, strangerPath, nil},
		{http.MethodPatch, "/admin/users/admin@lablup.com", map[string]any{"full_name": "x"}},
		{http.MethodDelete, "/admin/users/admin@lablup.com", nil},
		{http.MethodPatch, "/admin/users/user@lablup.com", map[string]any{"role": "superadmin"}},
		{http.MethodPatch, "/admin/users/user@lablup.com", map[string]any{"role": "admin"}},
		{http.MethodPatch, "/admin/users/user@lablup.com", map[string]any{"domain_name": otherDomain}},
	} {
		env.Do(t, c.method, c.path, c.body, da).RequireProblem(t, 401, "auth-failed")
	}
	var still admin.User
	env.Do(t, http.MethodGet, "/admin/users/user@lablup.com", nil, sa).JSON(t, &still)
	require.Equal(t, "user", still.Role)
	require.Equal(t, "default", still.DomainName)
	env.Do(t, http.MethodGet, "/admin/users/f@example.com", nil, sa).RequireProblem(t, 404, "object-not-found")

	// A superadmin may do all of it.
	createUser(t, env, map[string]any{"email": "g@example.com", "password": "long-enough", "role": "superadmin", "domain_name": otherDomain})
	env.Do(t, http.MethodPatch, strangerPath, map[string]any{"role": "admin"}, sa).RequireStatus(t, 200)
}

// requireKeypair checks a keypair's is_active and is_admin flags in the database.
func requireKeypair(t *testing.T, env *functionstest.Env, accessKey string, active, isAdmin bool) {
	t.Helper()
	var a, ad bool
	queryRow(t, env, `SELECT is_active, is_admin FROM keypairs WHERE access_key = $1`, []any{accessKey}, &a, &ad)
	require.Equal(t, active, a, "is_active")
	require.Equal(t, isAdmin, ad, "is_admin")
}
