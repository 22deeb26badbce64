package session_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/functionstest"
)

func TestStreamExecuteCap(t *testing.T) {
	t.Parallel()
	env, rs := newKernelEnv(t)
	require.NoError(t, env.Etcd.Put(context.Background(), functions.MaxStreamsPerKeyKey, "1"))
	require.Eventually(t, func() bool { v, _ := env.Shared.Get(functions.MaxStreamsPerKeyKey); return v == "1" }, 5*time.Second, 10*time.Millisecond)

	first, res, err := dialStream(t, env, rs.ID, &functionstest.User)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	// A second WebSocket of the same key is refused before the upgrade.
	_, res, err = dialStream(t, env, rs.ID, &functionstest.User)
	require.Error(t, err)
	require.NotNil(t, res)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)

	// The slot comes back when the stream ends.
	require.NoError(t, first.CloseNow())
	require.Eventually(t, func() bool { _, n := env.Server.OpenStreams(functionstest.User.AccessKey); return n == 0 }, 10*time.Second, 10*time.Millisecond)
	_, res, err = dialStream(t, env, rs.ID, &functionstest.User)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
}
