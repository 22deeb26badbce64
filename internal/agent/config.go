package agent

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/shopspring/decimal"

	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/slots"
	"github.com/hangar-run/hangar/jobs"
)

// FileName is the name of the agent's configuration file.
const FileName = "agent.toml"

// Runtime names ([AgentSection.Runtime]).
const (
	RuntimeProcess = "process"
	RuntimeDummy   = "dummy"
)

// Defaults of the agent configuration.
const (
	DefaultRPCPort           = 6001
	DefaultScalingGroup      = "default"
	DefaultRegion            = "local"
	DefaultHeartbeatInterval = 3 * time.Second
	DefaultScratchRoot       = "./scratches"
	DefaultRuntime           = RuntimeDummy
)

// Duration is a configuration duration written as seconds (20, 2.5) or as a string with a
// unit ("3s", "500ms").
type Duration time.Duration

// UnmarshalTOML accepts a number of seconds or a duration string.
func (d *Duration) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		*d = Duration(time.Duration(v) * time.Second)
	case float64:
		*d = Duration(time.Duration(v * float64(time.Second)))
	case string:
		p, err := config.ParseDuration(v)
		if err != nil {
			return err
		}
		*d = Duration(p)
	default:
		return fmt.Errorf("duration: want seconds or a string, got %T", v)
	}
	if *d < 0 {
		return errors.New("duration must not be negative")
	}
	return nil
}

// AgentSection is agent.toml's [agent] section.
type AgentSection struct {
	// ID is the agent's id; "i-<hostname>" when empty.
	ID string `toml:"id"`
	// Region is the agent's region; "local" when empty.
	Region string `toml:"region"`
	// ScalingGroup is the resource group the agent serves; "default" when empty.
	ScalingGroup string `toml:"scaling-group"`
	// RPCListenAddr is where the RPC server binds; 0.0.0.0:6001 by default. Port 0 picks a
	// free port.
	RPCListenAddr config.HostPort `toml:"rpc-listen-addr"`
	// AdvertisedRPCAddr, when set, is the address the manager is told to connect to.
	AdvertisedRPCAddr config.HostPort `toml:"advertised-rpc-addr"`
	// Runtime is the runtime driver: "dummy" or "process" (a Hangar key).
	Runtime string `toml:"runtime"`
	// HeartbeatInterval is the period of heartbeats (a Hangar key; [debug] heartbeat-interval
	// is read too).
	HeartbeatInterval Duration `toml:"heartbeat-interval"`
}

// ContainerSection is agent.toml's [container] section.
type ContainerSection struct {
	// ScratchRoot is the directory holding the kernels' scratch directories.
	ScratchRoot string `toml:"scratch-root"`
}

// ResourceSection is agent.toml's [resource] section.
type ResourceSection struct {
	// ReservedCPU is the number of CPUs kept for the host; 1 by default.
	ReservedCPU *int `toml:"reserved-cpu"`
	// ReservedMem is the memory kept for the host as a binary size; "1G" by default.
	ReservedMem string `toml:"reserved-mem"`
	// Slots overrides the detected capacities ({cpu = "4", mem = "8g"}); a Hangar key.
	// Slots named "mem" or ending in ".mem" are bytes slots, all others count slots.
	Slots map[string]string `toml:"slots"`
}

// RedisSection is agent.toml's [redis] section: the manager's Redis, where heartbeats are
// enqueued (a Hangar section).
type RedisSection struct {
	// Addr is the Redis address; 127.0.0.1:8110 by default.
	Addr config.HostPort `toml:"addr"`
	// Username is the Redis ACL user; empty means Redis's default user.
	Username string `toml:"username"`
	// Password is the Redis password (requirepass, or the ACL user's); the halfstack's
	// (config.DefaultRedisPassword) when neither the address nor a password is set.
	Password string `toml:"password"`
	// QueuePrefix is put in front of the manager's queue names (see jobs.QueueName).
	QueuePrefix string `toml:"queue-prefix"`
	// TLSOptions (ssl-enabled, ssl-ca, ssl-cert, ssl-key, ssl-server-name) turn on TLS.
	config.TLSOptions
}

// DebugSection is agent.toml's [debug] section.
type DebugSection struct {
	// HeartbeatInterval is Backend.AI's spelling of the heartbeat period.
	HeartbeatInterval Duration `toml:"heartbeat-interval"`
}

// Config is the agent's configuration, read from agent.toml and the environment.
type Config struct {
	Agent     AgentSection     `toml:"agent"`
	Container ContainerSection `toml:"container"`
	Resource  ResourceSection  `toml:"resource"`
	Redis     RedisSection     `toml:"redis"`
	Debug     DebugSection     `toml:"debug"`
	// Sandbox is how the process runtime sandboxes kernels (sandbox.go).
	Sandbox SandboxSection `toml:"sandbox"`

	// Path is the file the configuration was read from; empty when none was found.
	Path string `toml:"-"`
	// Slots are the agent's resource slot capacities: detected, minus the reserved amounts,
	// with [resource] slots applied. Filled in by Load and Parse.
	Slots map[string]jobs.AgentSlot `toml:"-"`
}

// Host describes the machine the agent runs on; Load detects it, tests supply their own.
type Host struct {
	// Hostname names the host (for the default agent id).
	Hostname string
	// NumCPU is the number of CPUs.
	NumCPU int
	// MemTotal is the memory in bytes.
	MemTotal int64
	// Getenv reads the environment.
	Getenv func(string) string
}

// DetectHost returns the running host's name, CPU count, memory (MemTotal of /proc/meminfo;
// 0 when unreadable) and environment.
func DetectHost() Host {
	name, err := os.Hostname()
	if err != nil || name == "" {
		name = "localhost"
	}
	mem, _ := memTotal("/proc/meminfo")
	return Host{Hostname: name, NumCPU: runtime.NumCPU(), MemTotal: mem, Getenv: os.Getenv}
}

// memTotal reads MemTotal (kB) from a meminfo file and returns it in bytes.
func memTotal(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			break
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: MemTotal %q: %w", path, fields[0], err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no MemTotal line", path)
}

// SearchPaths returns where Load looks for agent.toml when no path is given, in order:
// ./agent.toml, ~/.config/backend.ai/agent.toml, /etc/backend.ai/agent.toml.
func SearchPaths() []string {
	paths := []string{FileName}
	if home, err := os.UserHomeDir(); err == nil {
		paths = append(paths, filepath.Join(home, ".config", "backend.ai", FileName))
	}
	return append(paths, filepath.Join("/etc", "backend.ai", FileName))
}

// Load reads the configuration from path, or when path is empty from the first file of
// SearchPaths that exists (no file at all means all defaults), applies the environment
// overrides and fills in the defaults and slots for the running host.
func Load(path string) (*Config, error) {
	host := DetectHost()
	if path == "" {
		for _, p := range SearchPaths() {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	var data []byte
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("agent config %s does not exist", path)
			}
			return nil, fmt.Errorf("read agent config: %w", err)
		}
		data = b
	}
	cfg, err := Parse(data, host)
	if err != nil {
		if path != "" {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, err
	}
	cfg.Path = path
	return cfg, nil
}

// Parse decodes agent.toml content (empty means all defaults), applies host's environment
// overrides and fills in the defaults and the slots for host. Unknown sections and keys of
// Backend.AI's agent.toml are ignored.
func Parse(data []byte, host Host) (*Config, error) {
	var cfg Config
	if _, err := toml.Decode(string(data), &cfg); err != nil {
		return nil, fmt.Errorf("parse agent config: %w", err)
	}
	if host.Getenv == nil {
		host.Getenv = func(string) string { return "" }
	}
	if err := cfg.applyEnv(host.Getenv); err != nil {
		return nil, err
	}
	if err := cfg.normalize(host); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// applyEnv applies the environment overrides, BACKEND_* or HANGAR_*: AGENT_ID, REGION,
// SCALING_GROUP, RPC_LISTEN_ADDR, ADVERTISED_RPC_ADDR, AGENT_RUNTIME, SCRATCH_ROOT,
// REDIS_ADDR, REDIS_USERNAME, REDIS_PASSWORD, QUEUE_PREFIX, HEARTBEAT_INTERVAL and
// WARM_INTERPRETERS.
func (c *Config) applyEnv(getenv func(string) string) error {
	lookup := func(name string) (string, bool) {
		if v := getenv("HANGAR_" + name); v != "" {
			return v, true
		}
		if v := getenv("BACKEND_" + name); v != "" {
			return v, true
		}
		return "", false
	}
	str := func(name string, dst *string) {
		if v, ok := lookup(name); ok {
			*dst = v
		}
	}
	addr := func(name string, dst *config.HostPort) error {
		v, ok := lookup(name)
		if !ok {
			return nil
		}
		hp, err := config.ParseHostPort(v)
		if err != nil {
			return fmt.Errorf("environment BACKEND_%s: %w", name, err)
		}
		*dst = hp
		return nil
	}
	str("AGENT_ID", &c.Agent.ID)
	str("REGION", &c.Agent.Region)
	str("SCALING_GROUP", &c.Agent.ScalingGroup)
	str("AGENT_RUNTIME", &c.Agent.Runtime)
	str("SCRATCH_ROOT", &c.Container.ScratchRoot)
	str("REDIS_PASSWORD", &c.Redis.Password)
	str("REDIS_USERNAME", &c.Redis.Username)
	str("QUEUE_PREFIX", &c.Redis.QueuePrefix)
	if err := errors.Join(
		addr("RPC_LISTEN_ADDR", &c.Agent.RPCListenAddr),
		addr("ADVERTISED_RPC_ADDR", &c.Agent.AdvertisedRPCAddr),
		addr("REDIS_ADDR", &c.Redis.Addr),
	); err != nil {
		return err
	}
	if v, ok := lookup("WARM_INTERPRETERS"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("environment BACKEND_WARM_INTERPRETERS %q: want a number", v)
		}
		c.Sandbox.WarmInterpreters = &n
	}
	if v, ok := lookup("HEARTBEAT_INTERVAL"); ok {
		if err := c.Agent.HeartbeatInterval.UnmarshalTOML(v); err != nil {
			return fmt.Errorf("environment BACKEND_HEARTBEAT_INTERVAL: %w", err)
		}
	}
	return nil
}

// normalize fills in the defaults and computes the slots.
func (c *Config) normalize(host Host) error {
	if c.Agent.ID == "" {
		c.Agent.ID = "i-" + host.Hostname
	}
	if len(c.Agent.ID) > 64 {
		return fmt.Errorf("agent.id %q is longer than 64 characters", c.Agent.ID)
	}
	if c.Agent.Region == "" {
		c.Agent.Region = DefaultRegion
	}
	if c.Agent.ScalingGroup == "" {
		c.Agent.ScalingGroup = DefaultScalingGroup
	}
	if c.Agent.RPCListenAddr.IsZero() {
		c.Agent.RPCListenAddr = config.HostPort{Host: "0.0.0.0", Port: DefaultRPCPort}
	}
	if c.Agent.RPCListenAddr.Host == "" {
		c.Agent.RPCListenAddr.Host = "0.0.0.0"
	}
	switch c.Agent.Runtime {
	case "":
		c.Agent.Runtime = DefaultRuntime
	case RuntimeDummy, RuntimeProcess:
	default:
		return fmt.Errorf("agent.runtime %q is not one of %s, %s", c.Agent.Runtime, RuntimeDummy, RuntimeProcess)
	}
	if c.Agent.HeartbeatInterval == 0 {
		c.Agent.HeartbeatInterval = c.Debug.HeartbeatInterval
	}
	if c.Agent.HeartbeatInterval == 0 {
		c.Agent.HeartbeatInterval = Duration(DefaultHeartbeatInterval)
	}
	if c.Container.ScratchRoot == "" {
		c.Container.ScratchRoot = DefaultScratchRoot
	}
	if c.Redis.Addr.IsZero() {
		hp, err := config.ParseHostPort(config.DefaultRedisAddr)
		if err != nil {
			return err
		}
		c.Redis.Addr = hp
		// The halfstack's Redis has a password; it is the default only for its address.
		if c.Redis.Password == "" {
			c.Redis.Password = config.DefaultRedisPassword
		}
	}
	if _, err := c.Redis.Config("redis"); err != nil {
		return err
	}
	s, err := c.computeSlots(host)
	if err != nil {
		return err
	}
	c.Slots = s
	return nil
}

// slotType returns the type of a slot named in [resource] slots.
func slotType(name string) string {
	if name == "mem" || strings.HasSuffix(name, ".mem") {
		return slots.TypeBytes
	}
	return slots.TypeCount
}

// computeSlots returns the detected cpu and mem capacities minus the reserved amounts,
// overridden by [resource] slots.
func (c *Config) computeSlots(host Host) (map[string]jobs.AgentSlot, error) {
	reservedCPU := 1
	if c.Resource.ReservedCPU != nil {
		reservedCPU = *c.Resource.ReservedCPU
	}
	if reservedCPU < 0 {
		return nil, errors.New("resource.reserved-cpu must not be negative")
	}
	reservedMem := decimal.NewFromInt(1 << 30)
	if c.Resource.ReservedMem != "" {
		d, err := slots.ParseBinarySize(c.Resource.ReservedMem)
		if err != nil {
			return nil, fmt.Errorf("resource.reserved-mem: %w", err)
		}
		reservedMem = d
	}
	cpu := max(host.NumCPU-reservedCPU, 1)
	mem := decimal.Max(decimal.NewFromInt(host.MemTotal).Sub(reservedMem), decimal.Zero)
	out := map[string]jobs.AgentSlot{
		"cpu": {Type: slots.TypeCount, Amount: strconv.Itoa(cpu)},
		"mem": {Type: slots.TypeBytes, Amount: slots.Format(mem)},
	}
	for name, v := range c.Resource.Slots {
		typ := slotType(name)
		amount, err := slots.NormalizeValue(v, typ)
		if err != nil {
			return nil, fmt.Errorf("resource.slots.%s: %w", name, err)
		}
		if slots.IsInfinity(amount) {
			return nil, fmt.Errorf("resource.slots.%s: an agent's capacity must be finite", name)
		}
		out[name] = jobs.AgentSlot{Type: typ, Amount: amount}
	}
	return out, nil
}

// HeartbeatEvery returns the heartbeat period.
func (c *Config) HeartbeatEvery() time.Duration { return time.Duration(c.Agent.HeartbeatInterval) }

// ListenEndpoint returns the ZeroMQ endpoint the RPC server binds ("tcp://0.0.0.0:6001").
func (c *Config) ListenEndpoint() string { return "tcp://" + c.Agent.RPCListenAddr.String() }

// advertise returns the address to advertise for a server bound at port: advertised-rpc-addr
// when set, else the listen host, or for an unspecified listen host this machine's first
// non-loopback IPv4 address (127.0.0.1 when there is none).
func (c *Config) advertise(port int) string {
	if !c.Agent.AdvertisedRPCAddr.IsZero() {
		hp := c.Agent.AdvertisedRPCAddr
		if hp.Port == 0 {
			hp.Port = port
		}
		return "tcp://" + hp.String()
	}
	host := c.Agent.RPCListenAddr.Host
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = outboundIP()
	}
	return "tcp://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// outboundIP returns the first non-loopback IPv4 address of this machine, or 127.0.0.1.
func outboundIP() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}
