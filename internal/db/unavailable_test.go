package db_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/dbtest"
)

// closedPort returns a local TCP port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

func TestTranslateUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ConnectionRefused", func(t *testing.T) {
		t.Parallel()
		pool, err := pgxpool.New(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/hangar?connect_timeout=2", closedPort(t)))
		require.NoError(t, err)
		defer pool.Close()
		_, err = db.Q.KeypairGetForAuth(ctx, pool, "AKIANOPE")
		require.Error(t, err)
		var ce *pgconn.ConnectError
		require.ErrorAs(t, err, &ce, "a real connect failure")
		require.ErrorIs(t, db.Translate(err), db.ErrUnavailable)
		require.True(t, db.IsUnavailable(err))
		require.True(t, db.IsUnavailable(fmt.Errorf("wrapped: %w", err)))
		// Through a transaction as well.
		err = db.InTx(ctx, pool, func(pgx.Tx) error { return nil })
		require.ErrorIs(t, err, db.ErrUnavailable)
	})

	t.Run("AcquireDeadline", func(t *testing.T) {
		t.Parallel()
		d := dbtest.NewDatabase(t)
		cfg := d.Pool.Config()
		cfg.MaxConns = 1
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		require.NoError(t, err)
		defer pool.Close()
		held, err := pool.Acquire(ctx)
		require.NoError(t, err)
		defer held.Release()
		actx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err = db.Q.KeypairGetForAuth(actx, pool, "AKIANOPE")
		require.Error(t, err)
		require.ErrorIs(t, db.Translate(err), db.ErrUnavailable)

		// A caller that went away is not an outage.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err = db.Q.KeypairGetForAuth(cctx, pool, "AKIANOPE")
		require.Error(t, err)
		require.False(t, db.IsUnavailable(err))
	})

	t.Run("AdminShutdown", func(t *testing.T) {
		t.Parallel()
		d := dbtest.NewDatabase(t)
		conn, err := d.Pool.Acquire(ctx)
		require.NoError(t, err)
		defer conn.Release()
		var pid int
		require.NoError(t, conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid))
		_, err = d.Pool.Exec(ctx, "SELECT pg_terminate_backend($1)", pid)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, "SELECT 1")
		require.Error(t, err)
		require.ErrorIs(t, db.Translate(err), db.ErrUnavailable, "%v", err)
	})

	t.Run("NoSuchDatabaseIsNotAnOutage", func(t *testing.T) {
		t.Parallel()
		dsn, err := db.WithDatabase(dbtest.URL(), "hangar_no_such_database")
		require.NoError(t, err)
		pool, err := pgxpool.New(ctx, dsn)
		require.NoError(t, err)
		defer pool.Close()
		err = pool.Ping(ctx)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
		require.Equal(t, "3D000", pgErr.Code)
		require.False(t, db.IsUnavailable(err))
	})

	t.Run("Codes", func(t *testing.T) {
		t.Parallel()
		for code, want := range map[string]bool{
			"57P01": true, "57P02": true, "57P03": true, "53300": true, "08006": true, "08001": true, "08P01": true,
			"28P01": false, "3D000": false, "42P01": false, "23505": false, "40001": false,
		} {
			err := fmt.Errorf("query: %w", &pgconn.PgError{Code: code, Message: "m"})
			require.Equal(t, want, db.IsUnavailable(err), code)
		}
		require.False(t, db.IsUnavailable(errors.New("something else")))
		require.False(t, db.IsUnavailable(nil))
		// Invalid text (a NUL, invalid UTF-8) is the caller's mistake.
		require.ErrorIs(t, db.Translate(&pgconn.PgError{Code: "22021"}), db.ErrCheck)
	})
}
