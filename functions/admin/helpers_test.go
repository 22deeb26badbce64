package admin_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/admin"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
)

// The example callers.
var (
	sa   = &functionstest.Superadmin  //nolint:gochecknoglobals
	da   = &functionstest.DomainAdmin //nolint:gochecknoglobals
	user = &functionstest.User        //nolint:gochecknoglobals
)

// otherDomain is the second domain tests create to check domain admin limits.
const otherDomain = "other"

// createOtherDomain creates otherDomain with a project and a user in it, as the superadmin.
func createOtherDomain(t *testing.T, env *functionstest.Env) (project admin.Project, u admin.UserCreated) {
	t.Helper()
	env.Do(t, http.MethodPost, "/admin/domains", map[string]any{"name": otherDomain}, sa).RequireStatus(t, 201)
	res := env.Do(t, http.MethodPost, "/admin/projects", map[string]any{"name": "other-project", "domain_name": otherDomain}, sa)
	res.RequireStatus(t, 201)
	res.JSON(t, &project)
	res = env.Do(t, http.MethodPost, "/admin/users", map[string]any{
		"email": "someone@other.example", "password": "other-password", "domain_name": otherDomain,
	}, sa)
	res.RequireStatus(t, 201)
	res.JSON(t, &u)
	return project, u
}

// createUser creates a user with body as the superadmin and returns the answer.
func createUser(t *testing.T, env *functionstest.Env, body map[string]any) admin.UserCreated {
	t.Helper()
	res := env.Do(t, http.MethodPost, "/admin/users", body, sa)
	res.RequireStatus(t, 201)
	var u admin.UserCreated
	res.JSON(t, &u)
	return u
}

// creds returns the credentials of a keypair shown with its secret.
func creds(k admin.Keypair) *auth.Credentials {
	return &auth.Credentials{AccessKey: k.AccessKey, SecretKey: k.SecretKey}
}

// queryRow scans one row of a query on the env's database.
func queryRow(t *testing.T, env *functionstest.Env, sql string, args []any, dest ...any) {
	t.Helper()
	require.NoError(t, env.DB.Pool.QueryRow(context.Background(), sql, args...).Scan(dest...))
}

// requireUnauthorized checks that plain users and monitors get 401 on an admin operation.
func requireUnauthorized(t *testing.T, env *functionstest.Env, method, path string, body any) {
	t.Helper()
	env.Do(t, method, path, body, user).RequireProblem(t, 401, "auth-failed")
	env.Do(t, method, path, body, &functionstest.Monitor).RequireProblem(t, 401, "auth-failed")
	env.Do(t, method, path, body, nil).RequireProblem(t, 400, "invalid-auth-params")
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	require.NoError(t, err)
	return id
}
