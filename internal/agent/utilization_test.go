package agent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/jobs"
)

func fp(v float64) *float64 { return &v }

func TestUsageSamplerPercentages(t *testing.T) {
	t.Parallel()
	var s usageSampler
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	first := s.sample(map[string]KernelUsage{
		"k1": {CPUTime: 10 * time.Second, MemBytes: 256 << 20, CPUSlot: 2, MemSlot: 1 << 30},
		"k2": {CPUTime: time.Second, MemBytes: -1, CPUSlot: 1, MemSlot: 1 << 30},
	}, t0)
	require.Equal(t, map[string]jobs.KernelUtilization{"k1": {Mem: fp(25)}}, first,
		"no CPU without a previous reading; unknown memory is left out")

	second := s.sample(map[string]KernelUsage{
		// 10 s of CPU over 20 s on 2 cores: 25 %.
		"k1": {CPUTime: 20 * time.Second, MemBytes: 512 << 20, CPUSlot: 2, MemSlot: 1 << 30},
		// The counter went backwards (processes exited): no CPU figure this time.
		"k2": {CPUTime: 0, MemBytes: -1, CPUSlot: 1, MemSlot: 1 << 30},
		// A new kernel.
		"k3": {CPUTime: time.Second, MemBytes: 0, CPUSlot: 1, MemSlot: 1 << 30},
	}, t0.Add(20*time.Second))
	require.Equal(t, map[string]jobs.KernelUtilization{
		"k1": {CPUUtil: fp(25), Mem: fp(50)},
		"k3": {Mem: fp(0)},
	}, second)

	third := s.sample(map[string]KernelUsage{
		"k2": {CPUTime: time.Second, MemBytes: -1, CPUSlot: 1, MemSlot: 1 << 30},
	}, t0.Add(30*time.Second))
	require.Equal(t, map[string]jobs.KernelUtilization{"k2": {CPUUtil: fp(10)}}, third)
	require.Len(t, s.prev, 1, "ended kernels are forgotten")
}

func TestParseSimulatedUtilization(t *testing.T) {
	t.Parallel()
	u, err := ParseSimulatedUtilization("cpu_util=5, mem=20.5,cuda_util=1,cuda_mem=2")
	require.NoError(t, err)
	require.Equal(t, jobs.KernelUtilization{CPUUtil: fp(5), Mem: fp(20.5), CUDAUtil: fp(1), CUDAMem: fp(2)}, u)
	_, err = ParseSimulatedUtilization("disk=5")
	require.Error(t, err)
	_, err = ParseSimulatedUtilization("cpu_util")
	require.Error(t, err)
}

func TestHeartbeatCarriesUtilization(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	rt := NewSimulatedRuntime(NewDummyRuntime(nil), jobs.KernelUtilization{CPUUtil: fp(3), Mem: fp(40)})
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "k1"})
	require.NoError(t, err)
	a, err := New(localConfig(t, "i-util"), rt, newFakeEnqueuer(), Options{Logger: testLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })

	p, err := a.HeartbeatPayload(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]jobs.KernelUtilization{"k1": {CPUUtil: fp(3), Mem: fp(40)}}, p.Utilization)

	rt.SetUtilization(jobs.KernelUtilization{CPUUtil: fp(90)})
	p, err = a.HeartbeatPayload(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]jobs.KernelUtilization{"k1": {CPUUtil: fp(90)}}, p.Utilization)

	// A runtime that measures nothing sends no utilization.
	b, err := New(localConfig(t, "i-none"), NewDummyRuntime(nil), newFakeEnqueuer(), Options{Logger: testLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	p, err = b.HeartbeatPayload(ctx)
	require.NoError(t, err)
	require.Nil(t, p.Utilization)
}

func TestProcessKernelUsage(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	rt := newProcessRuntime(t)
	_, err := rt.CreateKernel(ctx, &agentrpc.KernelConfig{KernelID: "ku", SessionID: "s", Image: shellImage,
		ResourceSlots: map[string]string{"cpu": "1", "mem": "1073741824"}})
	require.NoError(t, err)
	// A busy loop that keeps running while the usage is read.
	res, err := rt.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "ku", RunID: "r", Mode: agentrpc.ExecModeQuery,
		Code: "while :; do :; done", FlushTimeout: time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, agentrpc.ExecStatusContinued, res.Status)
	t.Cleanup(func() { _ = rt.Interrupt(ctx, "ku") })

	var u KernelUsage
	for {
		usage, err := rt.KernelUsage(ctx)
		require.NoError(t, err)
		u = usage["ku"]
		if u.CPUTime > 50*time.Millisecond {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no CPU time measured: %+v", u)
		case <-time.After(20 * time.Millisecond):
		}
	}
	require.InDelta(t, 1.0, u.CPUSlot, 0)
	require.InDelta(t, float64(1<<30), u.MemSlot, 0)
	require.Positive(t, u.MemBytes)
}
