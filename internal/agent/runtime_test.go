package agent

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/agentrpc"
)

func TestDummyRuntime(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC)
	rt := NewDummyRuntime(func() time.Time { return at })

	ks, err := rt.ListKernels(ctx)
	require.NoError(t, err)
	require.Empty(t, ks)

	k1, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "k-2", SessionID: "s", ResourceSlots: map[string]string{"cpu": "1"}})
	require.NoError(t, err)
	require.Equal(t, "k-2", k1.KernelID)
	require.NotEmpty(t, k1.ContainerID)
	_, err = rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "k-1", SessionID: "s"})
	require.NoError(t, err)
	// Creating an existing kernel again returns it unchanged.
	again, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "k-2", SessionID: "other"})
	require.NoError(t, err)
	require.Equal(t, k1.ContainerID, again.ContainerID)

	_, err = rt.CreateKernel(ctx, &agentrpc.KernelConfig{})
	require.Error(t, err)

	ks, err = rt.ListKernels(ctx)
	require.NoError(t, err)
	require.Len(t, ks, 2)
	require.Equal(t, "k-1", ks[0].KernelID)
	require.Equal(t, Kernel{KernelID: "k-2", SessionID: "s", ContainerID: k1.ContainerID, Slots: map[string]string{"cpu": "1"}, Created: at}, ks[1])

	res, err := rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "k-1", RunID: "r1", Mode: agentrpc.ExecModeQuery, Code: "print(1)"})
	require.NoError(t, err)
	require.Equal(t, agentrpc.ExecStatusFinished, res.Status)
	require.Equal(t, "r1", res.RunID)
	require.Empty(t, res.Console)
	require.Equal(t, 0, *res.ExitCode)
	_, err = rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "nope"})
	require.ErrorIs(t, err, ErrKernelNotFound)

	require.NoError(t, rt.DestroyKernel(ctx, "k-1"))
	require.ErrorIs(t, rt.DestroyKernel(ctx, "k-1"), ErrKernelNotFound)
	ks, err = rt.ListKernels(ctx)
	require.NoError(t, err)
	require.Len(t, ks, 1)
	require.NoError(t, rt.Close())
}
