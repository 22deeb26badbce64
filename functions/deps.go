package functions

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/hangar-run/hangar/internal/agentrpc"
	"github.com/hangar-run/hangar/internal/authlimit"
	"github.com/hangar-run/hangar/internal/cache"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/jobs"
)

// SharedConfig is the live view of Backend.AI's shared configuration in etcd that handlers read.
type SharedConfig interface {
	Get(key string) (string, bool)
	GetPrefix(prefix string) map[string]any
	ManagerStatus() string
	Announcement() (enabled bool, message string)
	ResourceSlots() map[string]string
	VFolderTypes() []string
	DockerRegistries() map[string]string
}

// EtcdStore is raw access to the namespace's keys, for /config/get|set|delete and for the
// writes handlers make (manager status, announcement).
type EtcdStore interface {
	Get(ctx context.Context, key string) (string, bool, error)
	GetPrefix(ctx context.Context, prefix string) (map[string]any, error)
	Put(ctx context.Context, key, value string) error
	PutIfAbsent(ctx context.Context, key, value string) (string, error)
	PutJSON(ctx context.Context, key string, value any) error
	Delete(ctx context.Context, key string) error
	DeletePrefix(ctx context.Context, prefix string) error
}

// Deps is what every operation may use. Handlers take what they need from it; nothing here is
// request-scoped.
type Deps struct {
	Pool   *pgxpool.Pool
	Redis  redis.UniversalClient
	Shared SharedConfig
	Etcd   EtcdStore
	Logger *slog.Logger
	// Now is the clock (tests inject one); nil means time.Now.
	Now func() time.Time
	// RedisPrefix is put in front of every Redis key the API writes (tests isolate with it).
	RedisPrefix string
	// ManagerID names this API process in /manager/status (manager.toml manager.id).
	ManagerID string
	// ServiceAddr is the address this API process listens on, for /manager/status.
	ServiceAddr string
	// HeartbeatTimeout is manager.heartbeat-timeout in seconds, for /manager/status.
	HeartbeatTimeout float64
	// HideAgents is manager.toml manager.hide-agents: agent identities and addresses are kept
	// from non-superadmins (GraphQL agent summaries, image installation, container agents).
	HideAgents bool
	// GQLUnbatched turns the GraphQL loaders' time-window batching off (each lookup no list
	// prefetched is its own query); tests use it to prove that lists prefetch.
	GQLUnbatched bool
	// BcryptCost hashes new passwords (0 means 12, Backend.AI's rounds; tests use 4).
	BcryptCost int
	// Enqueuer enqueues background tasks for the workers; its prefix is also the prefix of
	// the lifecycle events channel.
	Enqueuer *jobs.Enqueuer
	// Events delivers session and kernel lifecycle events to waiting requests.
	Events *events.Hub
	// Agents reaches agents over RPC, for operations answered by an agent directly.
	Agents *agentrpc.Pool
	// Metrics receives the API's Prometheus collectors (request latency); nil keeps them
	// unexported.
	Metrics prometheus.Registerer
	// TrustedProxies are the peers whose X-Forwarded-For / X-Real-IP / Forwarded headers are
	// believed (manager.toml manager.trusted-proxies); none by default, so the client address
	// is the TCP peer's. See ClientAddr.
	TrustedProxies []netip.Prefix
	// PasswordLimits are the password-attempt limits (zero: authlimit.DefaultLimits).
	PasswordLimits authlimit.Limits
	// Cache keeps the answers of lookups that rarely change (access keys, images, projects,
	// scaling groups, policies) in this process; nil caches nothing. Whoever sets it runs its
	// invalidation listener (see internal/cache).
	Cache *cache.Cache
}

// Clock returns the current time from d.Now, or time.Now.
func (d *Deps) Clock() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Log returns d.Logger, or the default logger.
func (d *Deps) Log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}
