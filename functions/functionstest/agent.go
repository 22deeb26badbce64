package functionstest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	agentd "github.com/hangar-run/hangar/internal/agent"
	"github.com/hangar-run/hangar/internal/config"
)

// StartAgent runs an in-process agent named prefix-<random> with the (sandboxed) process
// runtime, scratch directories in a temporary directory and RPC on a free local port, until
// the test ends, and inserts its ALIVE row in scaling group "default". Its kernels are
// destroyed when the test ends. Kernel events go to enq.
func (e *Env) StartAgent(t testing.TB, prefix string, enq agentd.Enqueuer) (*agentd.Agent, *agentd.ProcessRuntime) {
	t.Helper()
	id := prefix + "-" + uuid.NewString()[:8]
	cfg, err := agentd.Parse([]byte("[resource]\nslots = { cpu = \"4\", mem = \"8g\" }\n"),
		agentd.Host{Hostname: id, NumCPU: 4, MemTotal: 8 << 30})
	require.NoError(t, err)
	cfg.Agent.ID = id
	cfg.Agent.RPCListenAddr = config.HostPort{Host: "127.0.0.1", Port: 0}
	rt, err := agentd.NewProcessRuntime(filepath.Join(t.TempDir(), "scratches"), nil)
	require.NoError(t, err)
	rt.SetKillGrace(200 * time.Millisecond)
	a, err := agentd.New(cfg, rt, enq, agentd.Options{Logger: slog.New(slog.DiscardHandler), Tick: make(chan time.Time)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	t.Cleanup(func() {
		ks, _ := rt.ListKernels(context.Background())
		for _, k := range ks {
			_ = rt.DestroyKernel(context.Background(), k.KernelID)
		}
	})
	_, err = e.DB.Pool.Exec(context.Background(), `INSERT INTO agents (id, status, scaling_group, addr, architecture)
		VALUES ($1, 'ALIVE', 'default', $2, $3)`, id, a.Addr(), HostArch())
	require.NoError(t, err)
	return a, rt
}
