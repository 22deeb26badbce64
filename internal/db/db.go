// Package db opens Hangar's PostgreSQL pool, runs transactions, applies migrations and is the one
// place where database errors are translated into Hangar's sentinel errors.
package db

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	pgxdecimal "github.com/jackc/pgx-shopspring-decimal"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// Q is the sqlc query set. Every method takes the DBTX to run on (a pool or a transaction).
var Q = dbsqlc.New() //nolint:gochecknoglobals

// DBTX is what the generated queries run on: a pool, a connection or a transaction.
type DBTX = dbsqlc.DBTX

// Open connects a pool to dsn and checks that the server answers. A server that does not
// answer gives one line naming PostgreSQL, its address and how to start the halfstack.
func Open(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("invalid PostgreSQL DSN: %w", err)
	}
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		pgxdecimal.Register(conn.TypeMap())
		return nil
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 3 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("invalid PostgreSQL configuration: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		addr := net.JoinHostPort(cfg.ConnConfig.Host, fmt.Sprint(cfg.ConnConfig.Port))
		return nil, unreachable(addr, cfg.ConnConfig.Database, err)
	}
	return pool, nil
}

func unreachable(addr, database string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "3D000" {
		return fmt.Errorf("PostgreSQL at %s has no database %q; run `hangar schema oneshot` (or `go tool task dev`)", addr, database)
	}
	// 28P01 invalid password, 28000 invalid authorization: the server answered and refused.
	if errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000") {
		return fmt.Errorf("PostgreSQL at %s: %s (SQLSTATE %s); set [db] user and password in manager.toml (or BACKEND_DB_USER and BACKEND_DB_PASSWORD)", addr, pgErr.Message, pgErr.Code)
	}
	cause := err.Error()
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		cause = opErr.Err.Error()
	}
	return fmt.Errorf("cannot reach PostgreSQL at %s: %s; is the halfstack up? run `go tool task halfstack:up`", addr, cause)
}

// WithDatabase returns dsn with its database name replaced.
func WithDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("invalid PostgreSQL DSN: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// Beginner is a pool or a transaction: something a transaction (or savepoint) can start from.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// InTx runs fn in a transaction on b, committing when fn returns nil and rolling back
// otherwise. On a transaction b it runs in a savepoint. Errors are translated (see Translate).
func InTx(ctx context.Context, b Beginner, fn func(tx pgx.Tx) error) error {
	tx, err := b.Begin(ctx)
	if err != nil {
		return Translate(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(tx); err != nil {
		return Translate(err)
	}
	return Translate(tx.Commit(ctx))
}
