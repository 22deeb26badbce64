package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/redis/go-redis/v9"
)

// Halfstack defaults: the addresses of the local development services.
const (
	DefaultEtcdAddr    = "127.0.0.1:8120"
	DefaultDBAddr      = "127.0.0.1:8100"
	DefaultRedisAddr   = "127.0.0.1:8110"
	DefaultServiceAddr = "0.0.0.0:8081"
	DefaultNamespace   = "local"
	DefaultDBName      = "hangar"
	DefaultDBUser      = "postgres"
	// DefaultDBPassword is the halfstack PostgreSQL's password for DefaultDBUser (the one
	// Backend.AI's halfstack uses). It applies only when the database address is
	// DefaultDBAddr and neither manager.toml nor the environment names a password.
	DefaultDBPassword = "develove"
	// DefaultRedisPassword is the halfstack Redis's requirepass. It applies only when the
	// Redis address is the default one and no password is named anywhere.
	DefaultRedisPassword = "develove"
)

// FileName is the name of the local configuration file.
const FileName = "manager.toml"

// HostPort is a network address written in manager.toml either as an inline table
// {host = "...", port = N} or as a "host:port" string.
type HostPort struct {
	Host string
	Port int
}

// ParseHostPort parses a "host:port" string; IPv6 hosts must be bracketed.
func ParseHostPort(s string) (HostPort, error) {
	host, port, err := net.SplitHostPort(strings.TrimSpace(s))
	if err != nil {
		return HostPort{}, fmt.Errorf("address %q: want host:port: %w", s, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return HostPort{}, fmt.Errorf("address %q: invalid port %q", s, port)
	}
	return HostPort{Host: host, Port: p}, nil
}

// IsZero reports whether the address was never set.
func (h HostPort) IsZero() bool { return h.Host == "" && h.Port == 0 }

// String returns the address as "host:port".
func (h HostPort) String() string { return net.JoinHostPort(h.Host, strconv.Itoa(h.Port)) }

// UnmarshalTOML accepts either a {host, port} table or a "host:port" string.
func (h *HostPort) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		hp, err := ParseHostPort(v)
		if err != nil {
			return err
		}
		*h = hp
		return nil
	case map[string]any:
		var out HostPort
		for k, val := range v {
			switch k {
			case "host":
				s, ok := val.(string)
				if !ok {
					return fmt.Errorf("address host: want a string, got %T", val)
				}
				out.Host = s
			case "port":
				switch p := val.(type) {
				case int64:
					out.Port = int(p)
				case string:
					n, err := strconv.Atoi(p)
					if err != nil {
						return fmt.Errorf("address port %q: %w", p, err)
					}
					out.Port = n
				default:
					return fmt.Errorf("address port: want an integer, got %T", val)
				}
			}
		}
		if out.Port < 0 || out.Port > 65535 {
			return fmt.Errorf("address port %d out of range", out.Port)
		}
		*h = out
		return nil
	default:
		return fmt.Errorf("address: want {host, port} or \"host:port\", got %T", v)
	}
}

// EtcdSection is manager.toml's [etcd] section. User and Password authenticate to an etcd
// with auth enabled (Backend.AI's keys); the ssl-* keys of TLSOptions are Hangar additions.
type EtcdSection struct {
	Namespace string   `toml:"namespace"`
	Addr      HostPort `toml:"addr"`
	User      string   `toml:"user"`
	Password  string   `toml:"password"`
	TLSOptions
}

// DBSection is manager.toml's [db] section. The ssl-* keys are Hangar additions that map to
// libpq's sslmode, sslrootcert, sslcert and sslkey.
type DBSection struct {
	Type     string   `toml:"type"`
	Addr     HostPort `toml:"addr"`
	Name     string   `toml:"name"`
	User     string   `toml:"user"`
	Password string   `toml:"password"`
	PoolSize int      `toml:"pool-size"`
	// SSLMode is libpq's sslmode: disable (the default), allow, prefer, require, verify-ca
	// or verify-full.
	SSLMode string `toml:"ssl-mode"`
	// SSLCA is the PEM file of CA certificates for verify-ca and verify-full.
	SSLCA string `toml:"ssl-ca"`
	// SSLCert and SSLKey are a client certificate and its key.
	SSLCert string `toml:"ssl-cert"`
	SSLKey  string `toml:"ssl-key"`
}

// ManagerSection is manager.toml's [manager] section (the keys Hangar uses).
type ManagerSection struct {
	NumProc                        int      `toml:"num-proc"`
	ID                             string   `toml:"id"`
	ServiceAddr                    HostPort `toml:"service-addr"`
	HeartbeatTimeout               float64  `toml:"heartbeat-timeout"`
	HideAgents                     bool     `toml:"hide-agents"`
	AgentSelectionResourcePriority []string `toml:"agent-selection-resource-priority"`
	DistributedLock                string   `toml:"distributed-lock"`
	PIDFile                        string   `toml:"pid-file"`
	// TrustedProxies (Hangar's own key) lists the addresses or CIDR ranges of the reverse
	// proxies whose X-Forwarded-For / X-Real-IP / Forwarded headers are believed; none by
	// default. See TrustedProxyPrefixes.
	TrustedProxies []string `toml:"trusted-proxies"`
}

// RedisSection is manager.toml's [redis] section, a Hangar addition: Backend.AI keeps the
// Redis address only in etcd (config/redis/addr).
type RedisSection struct {
	Addr HostPort `toml:"addr"`
	// Username is the Redis ACL user (a Hangar key); empty means Redis's default user.
	Username string `toml:"username"`
	// Password is requirepass, or the ACL user's password.
	Password string `toml:"password"`
	TLSOptions
	// QueuePrefix (Hangar's own key) is put in front of every job queue name and of the
	// lifecycle events channel, so that several deployments (or test runs) can share one Redis.
	// API, workers and agents of one deployment must agree on it. Empty by default.
	QueuePrefix string `toml:"queue-prefix"`
}

// LoggingSection is manager.toml's [logging] section (the keys Hangar uses).
type LoggingSection struct {
	Level string `toml:"level"`
}

// DebugSection is manager.toml's [debug] section (the keys Hangar uses).
type DebugSection struct {
	Enabled bool `toml:"enabled"`
}

// Manager is the local configuration of one Hangar manager process (manager.toml plus
// environment overrides).
type Manager struct {
	Etcd    EtcdSection    `toml:"etcd"`
	DB      DBSection      `toml:"db"`
	Manager ManagerSection `toml:"manager"`
	Redis   RedisSection   `toml:"redis"`
	Logging LoggingSection `toml:"logging"`
	Debug   DebugSection   `toml:"debug"`

	// Ignored lists the dotted keys of the file that Hangar does not use (a whole table when
	// none of it is used), for a debug log.
	Ignored []string `toml:"-"`

	// redisSet records whether the file or the environment named a Redis address.
	redisSet bool
	// dbPasswordSet and redisPasswordSet record whether the file or the environment named
	// a password (possibly an empty one), so that the halfstack's are not used.
	dbPasswordSet, redisPasswordSet bool
}

// Default returns the configuration used when no manager.toml exists: the local halfstack.
func Default() *Manager {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return &Manager{
		Etcd: EtcdSection{
			Namespace: DefaultNamespace,
			Addr:      mustHostPort(DefaultEtcdAddr),
		},
		DB: DBSection{
			Type:     "postgresql",
			Addr:     mustHostPort(DefaultDBAddr),
			Name:     DefaultDBName,
			User:     DefaultDBUser,
			PoolSize: 8,
		},
		Manager: ManagerSection{
			NumProc:                        runtime.NumCPU(),
			ID:                             "i-" + host,
			ServiceAddr:                    mustHostPort(DefaultServiceAddr),
			HeartbeatTimeout:               40.0,
			AgentSelectionResourcePriority: []string{"cuda", "rocm", "tpu", "cpu", "mem"},
			DistributedLock:                "pg_advisory",
		},
		Redis:   RedisSection{Addr: mustHostPort(DefaultRedisAddr)},
		Logging: LoggingSection{Level: "INFO"},
	}
}

func mustHostPort(s string) HostPort {
	hp, err := ParseHostPort(s)
	if err != nil {
		panic(err)
	}
	return hp
}

// SearchPaths returns the places Load looks for manager.toml, in order.
func SearchPaths() []string {
	paths := []string{FileName}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		paths = append(paths, filepath.Join(home, ".config", "backend.ai", FileName))
	}
	return append(paths, filepath.Join("/etc", "backend.ai", FileName))
}

// Load reads the local configuration. A non-empty explicitPath must name an existing file;
// otherwise the first file found among SearchPaths is read (path is then absolute), and
// when none exists the defaults are used and path is "". Environment overrides apply in every case.
func Load(explicitPath string) (*Manager, string, error) {
	path := ""
	if explicitPath != "" {
		if _, err := os.Stat(explicitPath); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, "", fmt.Errorf("config file %s does not exist", explicitPath)
			}
			return nil, "", fmt.Errorf("config file %s: %w", explicitPath, err)
		}
		path = explicitPath
	} else {
		for _, p := range SearchPaths() {
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				path = p
				if abs, err := filepath.Abs(p); err == nil {
					path = abs
				}
				break
			}
		}
	}

	m := Default()
	if path != "" {
		if err := m.decodeFile(path); err != nil {
			return nil, "", err
		}
	}
	if err := m.applyEnv(os.Getenv); err != nil {
		return nil, "", err
	}
	if err := m.normalize(); err != nil {
		if path != "" {
			return nil, "", fmt.Errorf("config file %s: %w", path, err)
		}
		return nil, "", err
	}
	return m, path, nil
}

func (m *Manager) decodeFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config file: %w", err)
	}
	// A [redis] section overrides the default only when it names an address.
	m.Redis.Addr = HostPort{}
	md, err := toml.Decode(string(data), m)
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	if !m.Redis.Addr.IsZero() {
		m.redisSet = true
	} else {
		m.Redis.Addr = mustHostPort(DefaultRedisAddr)
	}
	m.dbPasswordSet = md.IsDefined("db", "password")
	m.redisPasswordSet = md.IsDefined("redis", "password")
	m.Ignored = topKeys(md.Undecoded())
	return nil
}

// topKeys returns the dotted names of keys, leaving out those whose enclosing table is
// itself listed.
func topKeys(keys []toml.Key) []string {
	listed := make(map[string]bool, len(keys))
	for _, k := range keys {
		listed[k.String()] = true
	}
	var out []string
	for _, k := range keys {
		covered := false
		for i := 1; i < len(k); i++ {
			if listed[k[:i].String()] {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, k.String())
		}
	}
	return out
}

// applyEnv applies Backend.AI's environment overrides and their HANGAR_ spellings.
func (m *Manager) applyEnv(getenv func(string) string) error {
	lookup := func(name string) (string, bool) {
		if v := getenv("HANGAR_" + name); v != "" {
			return v, true
		}
		if v := getenv("BACKEND_" + name); v != "" {
			return v, true
		}
		return "", false
	}
	addr := func(name string, dst *HostPort) (bool, error) {
		v, ok := lookup(name)
		if !ok {
			return false, nil
		}
		hp, err := ParseHostPort(v)
		if err != nil {
			return false, fmt.Errorf("environment BACKEND_%s: %w", name, err)
		}
		*dst = hp
		return true, nil
	}
	str := func(name string, dst *string) bool {
		v, ok := lookup(name)
		if ok {
			*dst = v
		}
		return ok
	}

	str("NAMESPACE", &m.Etcd.Namespace)
	if _, err := addr("ETCD_ADDR", &m.Etcd.Addr); err != nil {
		return err
	}
	str("ETCD_USER", &m.Etcd.User)
	str("ETCD_PASSWORD", &m.Etcd.Password)
	if _, err := addr("DB_ADDR", &m.DB.Addr); err != nil {
		return err
	}
	str("DB_NAME", &m.DB.Name)
	str("DB_USER", &m.DB.User)
	m.dbPasswordSet = str("DB_PASSWORD", &m.DB.Password) || m.dbPasswordSet
	set, err := addr("REDIS_ADDR", &m.Redis.Addr)
	if err != nil {
		return err
	}
	m.redisSet = m.redisSet || set
	m.redisPasswordSet = str("REDIS_PASSWORD", &m.Redis.Password) || m.redisPasswordSet
	str("REDIS_USERNAME", &m.Redis.Username)
	str("DB_SSL_MODE", &m.DB.SSLMode)
	str("QUEUE_PREFIX", &m.Redis.QueuePrefix)
	if _, err := addr("SERVICE_ADDR", &m.Manager.ServiceAddr); err != nil {
		return err
	}
	if v, ok := lookup("MANAGER_NPROC"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("environment BACKEND_MANAGER_NPROC: %q is not an integer", v)
		}
		m.Manager.NumProc = n
	}
	str("PID_FILE", &m.Manager.PIDFile)
	if v, ok := lookup("TRUSTED_PROXIES"); ok {
		m.Manager.TrustedProxies = strings.Split(v, ",")
	}
	if v, ok := lookup("HEARTBEAT_TIMEOUT"); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			return fmt.Errorf("environment BACKEND_HEARTBEAT_TIMEOUT: %q is not a positive number of seconds", v)
		}
		m.Manager.HeartbeatTimeout = f
	}
	return nil
}

// normalize fills derived defaults and checks the values Hangar depends on.
func (m *Manager) normalize() error {
	if m.Etcd.Namespace == "" {
		return errors.New("etcd.namespace must not be empty")
	}
	if _, err := m.TrustedProxyPrefixes(); err != nil {
		return err
	}
	if m.DB.Type == "" {
		m.DB.Type = "postgresql"
	}
	if m.DB.Type != "postgresql" {
		return fmt.Errorf("db.type %q is not supported (only postgresql)", m.DB.Type)
	}
	if m.DB.Name == "" {
		return errors.New("db.name must not be empty")
	}
	if m.Manager.NumProc <= 0 {
		m.Manager.NumProc = runtime.NumCPU()
	}
	if m.Manager.ID == "" {
		m.Manager.ID = Default().Manager.ID
	}
	if len(m.Manager.AgentSelectionResourcePriority) == 0 {
		m.Manager.AgentSelectionResourcePriority = Default().Manager.AgentSelectionResourcePriority
	}
	if m.Manager.HeartbeatTimeout <= 0 {
		m.Manager.HeartbeatTimeout = 40.0
	}
	switch m.Manager.DistributedLock {
	case "":
		m.Manager.DistributedLock = "pg_advisory"
	case "pg_advisory", "filelock", "redlock", "etcd":
	default:
		return fmt.Errorf("manager.distributed-lock %q is not one of pg_advisory, filelock, redlock, etcd", m.Manager.DistributedLock)
	}
	if !m.dbPasswordSet && m.DB.Password == "" && m.DB.Addr == mustHostPort(DefaultDBAddr) {
		m.DB.Password = DefaultDBPassword
	}
	switch m.DB.SSLMode {
	case "":
		m.DB.SSLMode = "disable"
	case "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
	default:
		return fmt.Errorf("db.ssl-mode %q is not one of disable, allow, prefer, require, verify-ca, verify-full", m.DB.SSLMode)
	}
	if _, err := m.Etcd.Config("etcd"); err != nil {
		return err
	}
	if _, err := m.Redis.Config("redis"); err != nil {
		return err
	}
	if m.DB.PoolSize <= 0 {
		m.DB.PoolSize = 8
	}
	if m.Logging.Level == "" {
		m.Logging.Level = "INFO"
	}
	return nil
}

// DSN returns the PostgreSQL connection URL for the [db] section.
func (m *Manager) DSN() string {
	q := url.Values{}
	q.Set("sslmode", m.DB.SSLMode)
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
	}
	for k, v := range map[string]string{"sslrootcert": m.DB.SSLCA, "sslcert": m.DB.SSLCert, "sslkey": m.DB.SSLKey} {
		if v != "" {
			q.Set(k, v)
		}
	}
	u := url.URL{
		Scheme:   "postgres",
		Host:     m.DB.Addr.String(),
		Path:     "/" + m.DB.Name,
		RawQuery: q.Encode(),
	}
	switch {
	case m.DB.User != "" && m.DB.Password != "":
		u.User = url.UserPassword(m.DB.User, m.DB.Password)
	case m.DB.User != "":
		u.User = url.User(m.DB.User)
	}
	return u.String()
}

// EtcdEndpoint returns the etcd endpoint as "host:port".
func (m *Manager) EtcdEndpoint() string { return m.Etcd.Addr.String() }

// EtcdDialConfig returns what DialEtcdConfig needs to reach the configured etcd: endpoint,
// namespace, user, password and TLS.
func (m *Manager) EtcdDialConfig() (EtcdConfig, error) {
	tlsCfg, err := m.Etcd.Config("etcd")
	if err != nil {
		return EtcdConfig{}, err
	}
	return EtcdConfig{
		Endpoint:  m.EtcdEndpoint(),
		Namespace: m.Etcd.Namespace,
		User:      m.Etcd.User,
		Password:  m.Etcd.Password,
		TLS:       tlsCfg,
	}, nil
}

// ServiceAddr returns the address the API listens on (manager.service-addr) as "host:port".
func (m *Manager) ServiceAddr() string { return m.Manager.ServiceAddr.String() }

// RedisAddr returns the Redis address named by manager.toml or the environment, or the
// halfstack default. Use RedisFrom to fall back to etcd's config/redis/addr first.
func (m *Manager) RedisAddr() string { return m.Redis.Addr.String() }

// RedisConfigured reports whether manager.toml or the environment named a Redis address.
func (m *Manager) RedisConfigured() bool { return m.redisSet }

// RedisFrom resolves the Redis address and password: manager.toml or the environment first,
// then etcd's config/redis/addr and config/redis/password (as Backend.AI keeps them), then
// the halfstack default (with the halfstack's password, DefaultRedisPassword, unless a
// password is named). A password named in manager.toml or the environment always wins.
// shared may be nil.
func (m *Manager) RedisFrom(shared *Shared) (addr, password string) {
	if m.redisSet {
		return m.RedisAddr(), m.Redis.Password
	}
	if shared != nil {
		if a, ok := shared.Get("config/redis/addr"); ok && a != "" {
			if m.redisPasswordSet {
				return a, m.Redis.Password
			}
			p, _ := shared.Get("config/redis/password")
			return a, p
		}
	}
	if m.redisPasswordSet {
		return m.RedisAddr(), m.Redis.Password
	}
	return m.RedisAddr(), DefaultRedisPassword
}

// RedisOptions returns the go-redis options for the Redis RedisFrom resolves, with the
// [redis] username and TLS settings.
func (m *Manager) RedisOptions(shared *Shared) (*redis.Options, error) {
	addr, password := m.RedisFrom(shared)
	tlsCfg, err := m.Redis.Config("redis")
	if err != nil {
		return nil, err
	}
	return &redis.Options{Addr: addr, Username: m.Redis.Username, Password: password, TLSConfig: tlsCfg}, nil
}
