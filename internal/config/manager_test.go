package config

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// envNames lists every environment override so tests can start from a clean environment.
var envNames = []string{
	"NAMESPACE", "ETCD_ADDR", "ETCD_USER", "ETCD_PASSWORD", "DB_ADDR", "DB_NAME", "DB_USER",
	"DB_PASSWORD", "REDIS_ADDR", "REDIS_PASSWORD", "SERVICE_ADDR", "MANAGER_NPROC", "PID_FILE",
	"QUEUE_PREFIX", "HEARTBEAT_TIMEOUT", "REDIS_USERNAME", "DB_SSL_MODE",
}

// isolate points the working directory and HOME at empty temporary directories and clears
// the environment overrides. It returns (cwd, home).
func isolate(t *testing.T) (string, string) {
	t.Helper()
	if _, err := os.Stat("/etc/backend.ai/manager.toml"); err == nil {
		t.Skip("/etc/backend.ai/manager.toml exists on this machine")
	}
	for _, n := range envNames {
		t.Setenv("BACKEND_"+n, "")
		t.Setenv("HANGAR_"+n, "")
	}
	cwd, home := t.TempDir(), t.TempDir()
	t.Chdir(cwd)
	t.Setenv("HOME", home)
	return cwd, home
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
}

func TestLoad(t *testing.T) {
	t.Run("DefaultsWithoutFile", func(t *testing.T) {
		isolate(t)
		m, path, err := Load("")
		require.NoError(t, err)
		require.Empty(t, path)
		host, err := os.Hostname()
		require.NoError(t, err)

		require.Equal(t, "local", m.Etcd.Namespace)
		require.Equal(t, "127.0.0.1:8120", m.EtcdEndpoint())
		require.Equal(t, "127.0.0.1:8100", m.DB.Addr.String())
		require.Equal(t, "postgres://postgres:develove@127.0.0.1:8100/hangar?sslmode=disable", m.DSN())
		require.Equal(t, "127.0.0.1:8110", m.RedisAddr())
		require.False(t, m.RedisConfigured())
		addr, pw := m.RedisFrom(nil)
		require.Equal(t, "127.0.0.1:8110", addr)
		require.Equal(t, "develove", pw)
		require.Empty(t, m.Etcd.User)
		require.Empty(t, m.Etcd.Password)
		require.Equal(t, "0.0.0.0:8081", m.ServiceAddr())
		require.Equal(t, "i-"+host, m.Manager.ID)
		require.Equal(t, runtime.NumCPU(), m.Manager.NumProc)
		require.InDelta(t, 40.0, m.Manager.HeartbeatTimeout, 0)
		require.Equal(t, []string{"cuda", "rocm", "tpu", "cpu", "mem"}, m.Manager.AgentSelectionResourcePriority)
		require.Equal(t, "pg_advisory", m.Manager.DistributedLock)
		require.Equal(t, 8, m.DB.PoolSize)
		require.Equal(t, "INFO", m.Logging.Level)
		require.Empty(t, m.Ignored)
	})

	t.Run("ExplicitPathMustExist", func(t *testing.T) {
		cwd, _ := isolate(t)
		missing := filepath.Join(cwd, "nope.toml")
		_, _, err := Load(missing)
		require.EqualError(t, err, "config file "+missing+" does not exist")
	})

	t.Run("ExplicitPathWins", func(t *testing.T) {
		cwd, home := isolate(t)
		writeFile(t, filepath.Join(cwd, "manager.toml"), `[etcd]`+"\n"+`namespace = "cwd"`)
		writeFile(t, filepath.Join(home, ".config/backend.ai/manager.toml"), `[etcd]`+"\n"+`namespace = "home"`)
		explicit := filepath.Join(t.TempDir(), "other.toml")
		writeFile(t, explicit, `[etcd]`+"\n"+`namespace = "explicit"`)
		m, path, err := Load(explicit)
		require.NoError(t, err)
		require.Equal(t, explicit, path)
		require.Equal(t, "explicit", m.Etcd.Namespace)
	})

	t.Run("SearchOrder", func(t *testing.T) {
		cwd, home := isolate(t)
		homeFile := filepath.Join(home, ".config", "backend.ai", "manager.toml")
		writeFile(t, homeFile, `[etcd]`+"\n"+`namespace = "home"`)
		m, path, err := Load("")
		require.NoError(t, err)
		require.Equal(t, homeFile, path)
		require.Equal(t, "home", m.Etcd.Namespace)

		writeFile(t, filepath.Join(cwd, "manager.toml"), `[etcd]`+"\n"+`namespace = "cwd"`)
		m, path, err = Load("")
		require.NoError(t, err)
		require.Equal(t, filepath.Join(cwd, "manager.toml"), path)
		require.Equal(t, "cwd", m.Etcd.Namespace)
	})

	t.Run("AddressFormsAndIgnoredKeys", func(t *testing.T) {
		cwd, _ := isolate(t)
		writeFile(t, filepath.Join(cwd, "manager.toml"), `
[etcd]
namespace = "ns1"
addr = "10.0.0.1:2379"

[db]
addr = { host = "db.example", port = 5433 }
name = "backend"
user = "postgres"
password = "p@ss/word"
pool-size = 4
pool-recycle = 50

[manager]
num-proc = 3
id = "i-custom"
service-addr = { host = "127.0.0.1", port = 9090 }
secret = "XXXX"
hide-agents = true
distributed-lock = "etcd"

[redis]
addr = "[::1]:7000"
password = "rpw"

[logging]
level = "DEBUG"
drivers = ["console"]

[logging.console]
colored = true

[debug]
enabled = true
`)
		m, _, err := Load("")
		require.NoError(t, err)
		require.Equal(t, "10.0.0.1:2379", m.EtcdEndpoint())
		require.Equal(t, HostPort{Host: "db.example", Port: 5433}, m.DB.Addr)
		require.Equal(t, "postgres://postgres:p%40ss%2Fword@db.example:5433/backend?sslmode=disable", m.DSN())
		require.Equal(t, 4, m.DB.PoolSize)
		require.Equal(t, 3, m.Manager.NumProc)
		require.Equal(t, "i-custom", m.Manager.ID)
		require.Equal(t, "127.0.0.1:9090", m.Manager.ServiceAddr.String())
		require.True(t, m.Manager.HideAgents)
		require.Equal(t, "etcd", m.Manager.DistributedLock)
		require.Equal(t, "[::1]:7000", m.RedisAddr())
		require.True(t, m.RedisConfigured())
		require.Equal(t, "rpw", m.Redis.Password)
		require.Equal(t, "DEBUG", m.Logging.Level)
		require.True(t, m.Debug.Enabled)
		require.ElementsMatch(t, []string{
			"db.pool-recycle", "manager.secret", "logging.drivers", "logging.console",
		}, m.Ignored)
	})

	t.Run("InvalidValues", func(t *testing.T) {
		cwd, _ := isolate(t)
		for name, content := range map[string]string{
			"BadAddr":    "[etcd]\naddr = \"no-port\"",
			"BadPort":    "[db]\naddr = { host = \"x\", port = 70000 }",
			"BadType":    "[db]\ntype = \"mysql\"",
			"BadLock":    "[manager]\ndistributed-lock = \"zookeeper\"",
			"EmptyNS":    "[etcd]\nnamespace = \"\"",
			"NotTOML":    "[etcd\n",
			"WrongType":  "[manager]\nnum-proc = \"many\"",
			"BadSSLMode": "[db]\nssl-mode = \"sometimes\"",
			"MissingCA":  "[etcd]\nssl-ca = \"/nonexistent/ca.pem\"",
			"CertNoKey":  "[redis]\nssl-cert = \"/nonexistent/cert.pem\"",
		} {
			t.Run(name, func(t *testing.T) {
				writeFile(t, filepath.Join(cwd, "manager.toml"), content)
				_, _, err := Load("")
				require.Error(t, err)
				require.Contains(t, err.Error(), "manager.toml")
			})
		}
	})

	t.Run("Credentials", func(t *testing.T) {
		cwd, _ := isolate(t)
		// A file naming other servers but no passwords sends none: the halfstack's passwords
		// are defaults of the halfstack's addresses only.
		writeFile(t, filepath.Join(cwd, "manager.toml"), "[db]\naddr = \"db.example:5432\"\n[redis]\naddr = \"redis.example:6379\"\n")
		m, _, err := Load("")
		require.NoError(t, err)
		require.Equal(t, "postgres://postgres@db.example:5432/hangar?sslmode=disable", m.DSN())
		addr, pw := m.RedisFrom(nil)
		require.Equal(t, "redis.example:6379", addr)
		require.Empty(t, pw)

		// Backend.AI's keys, and Hangar's username and TLS keys.
		writeFile(t, filepath.Join(cwd, "manager.toml"), `
[etcd]
namespace = "prod"
addr = { host = "etcd.example", port = 2379 }
user = "manager"
password = "etcd-pw"
ssl-enabled = true
ssl-server-name = "etcd.internal"

[db]
addr = { host = "db.example", port = 5432 }
user = "backend"
password = "db-pw"
ssl-mode = "verify-full"
ssl-ca = "/etc/ssl/db-ca.pem"

[redis]
addr = "redis.example:6380"
username = "hangar"
password = "redis-pw"
ssl-enabled = true
`)
		m, _, err = Load("")
		require.NoError(t, err)
		require.Empty(t, m.Ignored)
		require.Equal(t, "postgres://backend:db-pw@db.example:5432/hangar?sslmode=verify-full&sslrootcert=%2Fetc%2Fssl%2Fdb-ca.pem", m.DSN())
		c, err := m.EtcdDialConfig()
		require.NoError(t, err)
		require.Equal(t, "etcd.example:2379", c.Endpoint)
		require.Equal(t, "manager", c.User)
		require.Equal(t, "etcd-pw", c.Password)
		require.NotNil(t, c.TLS)
		require.Equal(t, "etcd.internal", c.TLS.ServerName)
		ro, err := m.RedisOptions(nil)
		require.NoError(t, err)
		require.Equal(t, "redis.example:6380", ro.Addr)
		require.Equal(t, "hangar", ro.Username)
		require.Equal(t, "redis-pw", ro.Password)
		require.NotNil(t, ro.TLSConfig)

		// The environment wins over the file.
		t.Setenv("BACKEND_ETCD_USER", "env-user")
		t.Setenv("BACKEND_ETCD_PASSWORD", "env-etcd-pw")
		t.Setenv("BACKEND_REDIS_PASSWORD", "env-redis-pw")
		t.Setenv("HANGAR_REDIS_USERNAME", "env-redis-user")
		t.Setenv("BACKEND_DB_PASSWORD", "env-db-pw")
		t.Setenv("HANGAR_DB_SSL_MODE", "require")
		m, _, err = Load("")
		require.NoError(t, err)
		require.Equal(t, "env-user", m.Etcd.User)
		require.Equal(t, "env-etcd-pw", m.Etcd.Password)
		ro, err = m.RedisOptions(nil)
		require.NoError(t, err)
		require.Equal(t, "env-redis-user", ro.Username)
		require.Equal(t, "env-redis-pw", ro.Password)
		require.Equal(t, "postgres://backend:env-db-pw@db.example:5432/hangar?sslmode=require&sslrootcert=%2Fetc%2Fssl%2Fdb-ca.pem", m.DSN())
	})

	t.Run("RedisFromEtcd", func(t *testing.T) {
		isolate(t)
		e := testEtcd(t)
		ctx := testCtx(t, 10*time.Second)
		require.NoError(t, e.Put(ctx, "config/redis/addr", "10.9.9.9:6379"))
		require.NoError(t, e.Put(ctx, "config/redis/password", "etcd-pw"))
		shared, err := NewShared(ctx, e)
		require.NoError(t, err)
		defer shared.Close()
		m, _, err := Load("")
		require.NoError(t, err)
		// Backend.AI's config/redis/password goes with config/redis/addr, not the halfstack's.
		addr, pw := m.RedisFrom(shared)
		require.Equal(t, "10.9.9.9:6379", addr)
		require.Equal(t, "etcd-pw", pw)
		// A password named in the environment wins.
		t.Setenv("BACKEND_REDIS_PASSWORD", "env-pw")
		m, _, err = Load("")
		require.NoError(t, err)
		_, pw = m.RedisFrom(shared)
		require.Equal(t, "env-pw", pw)
	})

	t.Run("EnvironmentOverrides", func(t *testing.T) {
		cwd, _ := isolate(t)
		writeFile(t, filepath.Join(cwd, "manager.toml"), "[etcd]\nnamespace = \"file\"\n[db]\nname = \"filedb\"\n")
		t.Setenv("BACKEND_NAMESPACE", "backend-ns")
		t.Setenv("HANGAR_NAMESPACE", "hangar-ns")
		t.Setenv("BACKEND_ETCD_ADDR", "10.1.1.1:2379")
		t.Setenv("BACKEND_DB_ADDR", "10.2.2.2:5432")
		t.Setenv("HANGAR_DB_NAME", "envdb")
		t.Setenv("BACKEND_DB_USER", "u")
		t.Setenv("BACKEND_DB_PASSWORD", "pw")
		t.Setenv("BACKEND_REDIS_ADDR", "10.3.3.3:6379")
		t.Setenv("HANGAR_SERVICE_ADDR", "127.0.0.1:18081")
		t.Setenv("BACKEND_MANAGER_NPROC", "2")
		t.Setenv("BACKEND_QUEUE_PREFIX", "deploy-a:")
		t.Setenv("HANGAR_HEARTBEAT_TIMEOUT", "2.5")
		m, _, err := Load("")
		require.NoError(t, err)
		require.Equal(t, "hangar-ns", m.Etcd.Namespace)
		require.Equal(t, "10.1.1.1:2379", m.EtcdEndpoint())
		require.Equal(t, "postgres://u:pw@10.2.2.2:5432/envdb?sslmode=disable", m.DSN())
		require.Equal(t, "10.3.3.3:6379", m.RedisAddr())
		require.True(t, m.RedisConfigured())
		require.Equal(t, "127.0.0.1:18081", m.Manager.ServiceAddr.String())
		require.Equal(t, 2, m.Manager.NumProc)
		require.Equal(t, "deploy-a:", m.Redis.QueuePrefix)
		require.InDelta(t, 2.5, m.Manager.HeartbeatTimeout, 0)

		t.Setenv("BACKEND_ETCD_ADDR", "nonsense")
		_, _, err = Load("")
		require.ErrorContains(t, err, "BACKEND_ETCD_ADDR")
		t.Setenv("BACKEND_ETCD_ADDR", "10.1.1.1:2379")
		t.Setenv("HANGAR_HEARTBEAT_TIMEOUT", "soon")
		_, _, err = Load("")
		require.ErrorContains(t, err, "HEARTBEAT_TIMEOUT")
	})

	t.Run("UpstreamFiles", func(t *testing.T) {
		configs := upstreamConfigs(t)
		isolate(t)

		m, path, err := Load(filepath.Join(configs, "halfstack.toml"))
		require.NoError(t, err)
		require.Equal(t, filepath.Join(configs, "halfstack.toml"), path)
		require.Equal(t, "local", m.Etcd.Namespace)
		require.Equal(t, "127.0.0.1:8120", m.EtcdEndpoint())
		require.Equal(t, "postgres://postgres:develove@localhost:8100/backend?sslmode=disable", m.DSN())
		require.Equal(t, 4, m.Manager.NumProc)
		require.Equal(t, "0.0.0.0:8081", m.Manager.ServiceAddr.String())
		require.Equal(t, "./manager.pid", m.Manager.PIDFile)
		require.True(t, m.Manager.HideAgents)
		require.Equal(t, "127.0.0.1:8110", m.RedisAddr())
		require.False(t, m.RedisConfigured())
		require.Contains(t, m.Ignored, "docker-registry")
		require.Contains(t, m.Ignored, "logging.pkg-ns")
		require.NotContains(t, m.Ignored, "logging.pkg-ns.aiohttp")
		require.NotContains(t, m.Ignored, "etcd.addr.host")

		m, _, err = Load(filepath.Join(configs, "sample.toml"))
		require.NoError(t, err)
		require.Equal(t, "127.0.0.1:2379", m.EtcdEndpoint())
		require.Equal(t, "manager", m.Etcd.User)
		require.Equal(t, "ETCD_PASSWORD", m.Etcd.Password)
		require.Equal(t, "0.0.0.0:8080", m.Manager.ServiceAddr.String())
		require.Contains(t, m.Ignored, "manager.secret")
		require.Contains(t, m.Ignored, "manager.importer-image")
	})
}

func TestParseHostPort(t *testing.T) {
	t.Parallel()
	hp, err := ParseHostPort("localhost:8100")
	require.NoError(t, err)
	require.Equal(t, HostPort{Host: "localhost", Port: 8100}, hp)
	require.Equal(t, "localhost:8100", hp.String())

	hp, err = ParseHostPort("[::1]:80")
	require.NoError(t, err)
	require.Equal(t, "[::1]:80", hp.String())

	for _, bad := range []string{"", "host", "host:port", "host:-1", "host:65536"} {
		_, err := ParseHostPort(bad)
		require.Error(t, err, bad)
	}
}
