package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/metricstest"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestProcessRuntime runs hangar-agent with --runtime process and runs Python code in a
// kernel through its RPC.
func TestProcessRuntime(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	port := freePort(t)
	cfgPath := filepath.Join(dir, "agent.toml")
	require.NoError(t, os.WriteFile(cfgPath, fmt.Appendf(nil, `
[agent]
id = "i-cmd-test"
runtime = "dummy"
rpc-listen-addr = "127.0.0.1:%d"
[container]
scratch-root = %q
[resource]
slots = { cpu = "2", mem = "2g" }
[redis]
queue-prefix = "hangar-agent-cmd-test-%d"
`, port, filepath.Join(dir, "scratch"), time.Now().UnixNano()), 0o600))

	runCtx, stop := context.WithCancel(ctx)
	cmd := newCommand()
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd.SetArgs([]string{"-f", cfgPath, "--runtime", "process", "--metrics-addr", metricsAddr})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(runCtx) }()
	defer func() {
		stop()
		require.NoError(t, <-done)
	}()

	addr := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	var c *agentrpc.Client
	for {
		var err error
		if c, err = agentrpc.Dial(addr, agentrpc.ClientOptions{}); err == nil {
			if _, err = c.Ping(ctx, &agentrpc.PingRequest{}); err == nil {
				break
			}
			c.Close()
		}
		select {
		case err := <-done:
			t.Fatalf("hangar-agent ended: %v", err)
		case <-ctx.Done():
			t.Fatalf("hangar-agent did not answer before the deadline: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	defer c.Close()

	_, err := c.CreateKernels(ctx, &agentrpc.CreateKernelsRequest{SessionID: "s1", Kernels: []agentrpc.KernelConfig{{
		KernelID: "k1", Image: agentrpc.ImageRef{Canonical: "python:3", Labels: map[string]string{"ai.backend.runtime-type": "python"}},
	}}})
	require.NoError(t, err)
	res, err := c.Execute(ctx, &agentrpc.ExecuteRequest{KernelID: "k1", RunID: "r", Mode: agentrpc.ExecModeQuery, Code: "print(1)"})
	require.NoError(t, err)
	require.Equal(t, agentrpc.ExecStatusFinished, res.Status)
	require.Equal(t, [][2]string{{"stdout", "1\n"}}, res.Console)
	require.DirExists(t, filepath.Join(dir, "scratch", "k1", "work"))
	fams := metricstest.ScrapeURL(t, "http://"+metricsAddr+"/metrics")
	require.Equal(t, 1.0, fams.Value(t, "hangar_agent_kernels", map[string]string{"agent": "i-cmd-test"}))
	require.NoError(t, c.DestroyKernel(ctx, &agentrpc.DestroyKernelRequest{KernelID: "k1", SessionID: "s1"}))
	require.NoDirExists(t, filepath.Join(dir, "scratch", "k1"))

	fams = metricstest.ScrapeURL(t, "http://"+metricsAddr+"/metrics")
	require.Equal(t, 0.0, fams.Value(t, "hangar_agent_kernels", map[string]string{"agent": "i-cmd-test"}))
	require.Equal(t, 1.0, fams.Value(t, "hangar_agent_rpc_calls_total", map[string]string{"agent": "i-cmd-test", "method": "execute", "result": "ok"}))
	require.Equal(t, 1.0, fams.Value(t, "hangar_agent_rpc_duration_seconds", map[string]string{"agent": "i-cmd-test", "method": "execute"}))
	require.Equal(t, 0.0, fams.Value(t, "hangar_agent_heartbeat_failures_total", map[string]string{"agent": "i-cmd-test"}))
}

func TestBadRuntimeFlag(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agent.toml")
	require.NoError(t, os.WriteFile(cfgPath, []byte("[agent]\nid = \"i-x\"\n"), 0o600))
	cmd := newCommand()
	cmd.SetArgs([]string{"-f", cfgPath, "--runtime", "docker"})
	require.ErrorContains(t, cmd.ExecuteContext(t.Context()), `--runtime "docker"`)
}
