// Package halfstack names the development halfstack's services and credentials
// (scripts/halfstack.sh: PostgreSQL :8100, Redis :8110, etcd :8120) for tests and tools, with
// the TEST_* environment overrides that point them at other servers:
//
//	TEST_DATABASE_URL                   PostgreSQL server URL (any database; tests create their own)
//	TEST_REDIS_ADDR, TEST_REDIS_PASSWORD, TEST_REDIS_USERNAME
//	TEST_ETCD_ADDR, TEST_ETCD_USER, TEST_ETCD_PASSWORD
//
// Without overrides the halfstack's defaults apply: PostgreSQL user postgres with password
// config.DefaultDBPassword, Redis with requirepass config.DefaultRedisPassword, etcd without
// authentication (scripts/halfstack.sh enables it only with HALFSTACK_ETCD_AUTH=1).
package halfstack

import (
	"net/url"
	"os"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/hangar-run/hangar/internal/config"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// DatabaseURL is the PostgreSQL server tests connect to (its postgres database):
// TEST_DATABASE_URL, or the halfstack's with its password.
func DatabaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(config.DefaultDBUser, config.DefaultDBPassword),
		Host:     config.DefaultDBAddr,
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// RedisAddr is the Redis tests use: TEST_REDIS_ADDR or the halfstack's.
func RedisAddr() string { return env("TEST_REDIS_ADDR", config.DefaultRedisAddr) }

// RedisPassword is the password for RedisAddr: TEST_REDIS_PASSWORD or the halfstack's.
func RedisPassword() string { return env("TEST_REDIS_PASSWORD", config.DefaultRedisPassword) }

// RedisUsername is the Redis ACL user for RedisAddr: TEST_REDIS_USERNAME, empty (the
// default user) when unset.
func RedisUsername() string { return os.Getenv("TEST_REDIS_USERNAME") }

// RedisOptions returns go-redis options for RedisAddr with its credentials.
func RedisOptions() *redis.Options {
	return &redis.Options{Addr: RedisAddr(), Username: RedisUsername(), Password: RedisPassword()}
}

// NewRedis returns a go-redis client of RedisAddr with its credentials.
func NewRedis() *redis.Client { return redis.NewClient(RedisOptions()) }

// AsynqRedisOpt returns the asynq connection options for RedisAddr with its credentials.
func AsynqRedisOpt() asynq.RedisClientOpt {
	return asynq.RedisClientOpt{Addr: RedisAddr(), Username: RedisUsername(), Password: RedisPassword()}
}

// EtcdAddr is the etcd tests use: TEST_ETCD_ADDR or the halfstack's.
func EtcdAddr() string { return env("TEST_ETCD_ADDR", config.DefaultEtcdAddr) }

// EtcdUser is the etcd user for EtcdAddr: TEST_ETCD_USER, empty (no authentication) when unset.
func EtcdUser() string { return os.Getenv("TEST_ETCD_USER") }

// EtcdPassword is the etcd password for EtcdAddr: TEST_ETCD_PASSWORD.
func EtcdPassword() string { return os.Getenv("TEST_ETCD_PASSWORD") }
