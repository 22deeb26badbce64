package adminpolicy_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
)

// sa signs requests as the example superadmin.
var sa = &functionstest.Superadmin //nolint:gochecknoglobals

// addSlotType registers a resource slot type in the env's shared configuration and waits until
// the API sees it.
func addSlotType(t *testing.T, env *functionstest.Env, slot, typ string) {
	t.Helper()
	require.NoError(t, env.Etcd.Put(context.Background(), "config/resource_slots/"+slot, typ))
	require.Eventually(t, func() bool { return env.Shared.ResourceSlots()[slot] == typ },
		5*time.Second, 10*time.Millisecond)
}

// requireDenied checks that users and domain admins get 401 on a superadmin operation.
func requireDenied(t *testing.T, env *functionstest.Env, method, path string, body any) {
	t.Helper()
	env.Do(t, method, path, body, &functionstest.User).RequireProblem(t, 401, "auth-failed")
	env.Do(t, method, path, body, &functionstest.DomainAdmin).RequireProblem(t, 401, "auth-failed")
}
