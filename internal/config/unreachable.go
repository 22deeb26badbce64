package config

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// PingTimeout bounds how long the Ping helpers and DialEtcd wait for a service to answer.
const PingTimeout = 2 * time.Second

// StartHint tells the operator how to start the local services.
const StartHint = "is the halfstack up? run `go tool task halfstack:up`"

// UnreachableError reports that a required service did not answer. Its message is one
// line naming the service, its address, a short cause and how to start the halfstack.
type UnreachableError struct {
	Service string
	Addr    string
	Err     error
}

// Unreachable returns an *UnreachableError for service at addr caused by err.
func Unreachable(service, addr string, err error) error {
	return &UnreachableError{Service: service, Addr: addr, Err: err}
}

// Error returns the one-line message.
func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach %s at %s: %s; %s", e.Service, e.Addr, shortCause(e.Err), StartHint)
}

// Unwrap returns the underlying cause.
func (e *UnreachableError) Unwrap() error { return e.Err }

// shortCause condenses a connection error to a few words.
func shortCause(err error) string {
	if err == nil {
		return "no answer"
	}
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return fmt.Sprintf("no answer within %s", PingTimeout)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("cannot resolve host %q", dnsErr.Name)
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	const maxLen = 160
	if len(msg) > maxLen {
		msg = msg[:maxLen] + "..."
	}
	return msg
}

func isTimeout(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	if s, ok := status.FromError(err); ok {
		return s.Code() == codes.DeadlineExceeded || s.Code() == codes.Unavailable
	}
	return false
}

// PostgresAuthHint tells the operator where the database credentials are set.
const PostgresAuthHint = "set [db] user and password in manager.toml (or BACKEND_DB_USER and BACKEND_DB_PASSWORD)"

// IsPostgresAuthCode reports whether a SQLSTATE says the server refused the login:
// 28P01 (invalid password) or 28000 (invalid authorization, e.g. no pg_hba.conf entry).
func IsPostgresAuthCode(code string) bool { return code == "28P01" || code == "28000" }

// PingPostgres connects to the database named by dsn and runs a trivial query, waiting at
// most PingTimeout. A server that does not answer yields an *UnreachableError; a server that
// answers with an error (unknown database, bad password) yields a one-line error naming it.
func PingPostgres(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("database URL: %w", err)
	}
	addr := net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))
	ctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	cfg.ConnectTimeout = PingTimeout
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		defer conn.Close(context.WithoutCancel(ctx))
		err = conn.Ping(ctx)
	}
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if IsPostgresAuthCode(pgErr.Code) {
			return fmt.Errorf("PostgreSQL at %s: %s (SQLSTATE %s); %s", addr, pgErr.Message, pgErr.Code, PostgresAuthHint)
		}
		return fmt.Errorf("PostgreSQL at %s: %s (SQLSTATE %s)", addr, pgErr.Message, pgErr.Code)
	}
	return Unreachable("PostgreSQL", addr, err)
}

// PingRedis sends PING to the Redis server at addr, waiting at most PingTimeout.
func PingRedis(ctx context.Context, addr, password string) error {
	return PingRedisOptions(ctx, &redis.Options{Addr: addr, Password: password})
}

// PingRedisOptions sends PING to the Redis server o names, with o's credentials and TLS,
// waiting at most PingTimeout. See RedisError for the errors.
func PingRedisOptions(ctx context.Context, o *redis.Options) error {
	ctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	if err := probeTCP(ctx, o.Addr); err != nil {
		return Unreachable("Redis", o.Addr, err)
	}
	opts := *o
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = PingTimeout, PingTimeout, PingTimeout
	opts.MaxRetries, opts.DialerRetries, opts.DisableIdentity = -1, 1, true
	rdb := redis.NewClient(&opts)
	defer rdb.Close()
	return RedisError(o.Addr, rdb.Ping(ctx).Err())
}

// RedisError turns the error of a first command to Redis at addr into one line: refused
// credentials name the keys to set, other error replies are quoted, and a server that does
// not answer yields an *UnreachableError. A nil err gives nil.
func RedisError(addr string, err error) error {
	if err == nil {
		return nil
	}
	if isRedisReply(err) || isRedisAuthError(err) {
		if isRedisAuthError(err) {
			return fmt.Errorf("Redis at %s refused the credentials (%s): set [redis] password (and username, for an ACL user) in the configuration file, or BACKEND_REDIS_PASSWORD", addr, shortCause(err))
		}
		return fmt.Errorf("Redis at %s: %s", addr, shortCause(err))
	}
	return Unreachable("Redis", addr, err)
}

// isRedisAuthError reports whether err is Redis refusing the connection's credentials.
func isRedisAuthError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"NOAUTH", "WRONGPASS", "ERR AUTH", "ERR invalid password", "ERR Client sent AUTH"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// isRedisReply reports whether err is an error reply from a Redis server that answered.
func isRedisReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, context.DeadlineExceeded)
}

// PingEtcd asks the etcd server at endpoint for its status, waiting at most PingTimeout.
func PingEtcd(ctx context.Context, endpoint, user, password string) error {
	cli, err := newEtcdClient(endpoint, user, password, nil)
	if err != nil {
		return Unreachable("etcd", endpoint, err)
	}
	defer cli.Close()
	return checkEtcd(ctx, cli, endpoint)
}

func newEtcdClient(endpoint, user, password string, tlsCfg *tls.Config) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: PingTimeout,
		Username:    user,
		Password:    password,
		TLS:         tlsCfg,
		Logger:      zap.NewNop(),
	})
}

// checkEtcd fails fast when the server does not answer within PingTimeout.
func checkEtcd(ctx context.Context, cli *clientv3.Client, endpoint string) error {
	ctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	// The client retries refused connections until the deadline; a plain dial tells the
	// operator at once that nothing listens.
	if err := probeTCP(ctx, strings.TrimPrefix(strings.TrimPrefix(endpoint, "http://"), "https://")); err != nil {
		return Unreachable("etcd", endpoint, err)
	}
	if _, err := cli.Status(ctx, endpoint); err != nil {
		if s, ok := status.FromError(err); ok && s.Code() != codes.Unavailable && s.Code() != codes.DeadlineExceeded {
			return fmt.Errorf("etcd at %s: %s", endpoint, s.Message())
		}
		return Unreachable("etcd", endpoint, err)
	}
	return nil
}

// probeTCP opens and closes a TCP connection to addr.
func probeTCP(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return conn.Close()
}
