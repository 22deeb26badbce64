package agent

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/jobs"
)

func testHost(env map[string]string) Host {
	return Host{
		Hostname: "node1",
		NumCPU:   8,
		MemTotal: 16 << 30,
		Getenv:   func(k string) string { return env[k] },
	}
}

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse(nil, testHost(nil))
	require.NoError(t, err)
	require.Equal(t, "i-node1", cfg.Agent.ID)
	require.Equal(t, "default", cfg.Agent.ScalingGroup)
	require.Equal(t, "local", cfg.Agent.Region)
	require.Equal(t, "tcp://0.0.0.0:6001", cfg.ListenEndpoint())
	require.Equal(t, RuntimeDummy, cfg.Agent.Runtime)
	require.Equal(t, 3*time.Second, cfg.HeartbeatEvery())
	require.Equal(t, "127.0.0.1:8110", cfg.Redis.Addr.String())
	require.Equal(t, "./scratches", cfg.Container.ScratchRoot)
	// One CPU and 1 GiB are reserved for the host by default.
	require.Equal(t, map[string]jobs.AgentSlot{
		"cpu": {Type: "count", Amount: "7"},
		"mem": {Type: "bytes", Amount: "16106127360"},
	}, cfg.Slots)
}

func TestParseFileAndEnv(t *testing.T) {
	doc := `
[etcd]
namespace = "local"
[agent]
mode = "docker"
id = "i-from-file"
region = "eu"
scaling-group = "gpu"
rpc-listen-addr = { host = "127.0.0.1", port = 7001 }
runtime = "process"
[container]
scratch-root = "/var/scratch"
[resource]
reserved-cpu = 2
reserved-mem = "2G"
slots = { cpu = "4", mem = "8g", "cuda.shares" = "1.5" }
[debug]
heartbeat-interval = 20.0
[redis]
addr = "10.0.0.1:6379"
queue-prefix = "p-"
`
	cfg, err := Parse([]byte(doc), testHost(map[string]string{"BACKEND_AGENT_ID": "i-from-env", "HANGAR_SCALING_GROUP": "cpu"}))
	require.NoError(t, err)
	require.Equal(t, "i-from-env", cfg.Agent.ID)
	require.Equal(t, "cpu", cfg.Agent.ScalingGroup)
	require.Equal(t, "eu", cfg.Agent.Region)
	require.Equal(t, "tcp://127.0.0.1:7001", cfg.ListenEndpoint())
	require.Equal(t, RuntimeProcess, cfg.Agent.Runtime)
	require.Equal(t, "/var/scratch", cfg.Container.ScratchRoot)
	require.Equal(t, 20*time.Second, cfg.HeartbeatEvery())
	require.Equal(t, "10.0.0.1:6379", cfg.Redis.Addr.String())
	require.Equal(t, "p-", cfg.Redis.QueuePrefix)
	require.Equal(t, map[string]jobs.AgentSlot{
		"cpu":         {Type: "count", Amount: "4"},
		"mem":         {Type: "bytes", Amount: "8589934592"},
		"cuda.shares": {Type: "count", Amount: "1.5"},
	}, cfg.Slots)
	require.Equal(t, "tcp://127.0.0.1:9", cfg.advertise(9))

	// Reserved amounts apply to the detected capacities only.
	cfg, err = Parse([]byte("[resource]\nreserved-cpu = 2\nreserved-mem = \"2G\"\n"), testHost(nil))
	require.NoError(t, err)
	require.Equal(t, "6", cfg.Slots["cpu"].Amount)
	require.Equal(t, "15032385536", cfg.Slots["mem"].Amount)

	// [agent] heartbeat-interval wins over [debug]'s.
	cfg, err = Parse([]byte("[agent]\nheartbeat-interval = \"500ms\"\n[debug]\nheartbeat-interval = 20\n"), testHost(nil))
	require.NoError(t, err)
	require.Equal(t, 500*time.Millisecond, cfg.HeartbeatEvery())
}

func TestParseErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"runtime":  "[agent]\nruntime = \"docker\"\n",
		"slot":     "[resource]\nslots = { mem = \"lots\" }\n",
		"infinite": "[resource]\nslots = { cpu = \"inf\" }\n",
		"addr":     "[agent]\nrpc-listen-addr = \"nohost\"\n",
		"syntax":   "[agent\n",
		"reserved": "[resource]\nreserved-cpu = -1\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(doc), testHost(nil))
			require.Error(t, err)
		})
	}
	_, err := Parse(nil, testHost(map[string]string{"BACKEND_REDIS_ADDR": "bad"}))
	require.ErrorContains(t, err, "BACKEND_REDIS_ADDR")
}

func TestLoadPath(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "agent.toml")
	require.NoError(t, os.WriteFile(p, []byte("[agent]\nid = \"i-file\"\n"), 0o600))
	t.Setenv("BACKEND_AGENT_ID", "")
	t.Setenv("HANGAR_AGENT_ID", "")
	cfg, err := Load(p)
	require.NoError(t, err)
	require.Equal(t, "i-file", cfg.Agent.ID)
	require.Equal(t, p, cfg.Path)
	require.NotEmpty(t, cfg.Slots["cpu"].Amount)

	_, err = Load(filepath.Join(dir, "missing.toml"))
	require.ErrorContains(t, err, "does not exist")
}

func TestMemTotal(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meminfo")
	require.NoError(t, os.WriteFile(p, []byte("MemTotal:       16318412 kB\nMemFree:  1 kB\n"), 0o600))
	n, err := memTotal(p)
	require.NoError(t, err)
	require.Equal(t, int64(16318412*1024), n)

	require.NoError(t, os.WriteFile(p, []byte("MemFree:  1 kB\n"), 0o600))
	_, err = memTotal(p)
	require.Error(t, err)
}

func TestNewRuntime(t *testing.T) {
	root := filepath.Join(t.TempDir(), "scratch")
	cfg, err := Parse([]byte("[agent]\nruntime = \"process\"\n[container]\nscratch-root = \""+root+"\"\n"), testHost(nil))
	require.NoError(t, err)
	prt, err := NewRuntime(cfg)
	require.NoError(t, err)
	// The process runtime starts its warm interpreters in the background: end them before the
	// scratch root is removed.
	if c, ok := prt.(interface{ Close() error }); ok {
		t.Cleanup(func() { _ = c.Close() })
	}
	require.Equal(t, RuntimeProcess, prt.Name())
	require.DirExists(t, root)

	cfg, err = Parse(nil, testHost(nil))
	require.NoError(t, err)
	rt, err := NewRuntime(cfg)
	require.NoError(t, err)
	require.Equal(t, RuntimeDummy, rt.Name())
}
