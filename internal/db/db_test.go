package db_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/dbtest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.NewDatabase(t)
	res, err := db.Migrate(ctx, d.Pool, nil)
	require.NoError(t, err)
	require.Empty(t, res, "template is already migrated")
	v, err := db.SchemaVersion(ctx, d.Pool)
	require.NoError(t, err)
	require.GreaterOrEqual(t, v, int64(3))
}

func TestTranslate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.NewDatabase(t)

	_, err := db.Q.KeypairGetForAuth(ctx, d.Pool, "AKIANOPE")
	require.ErrorIs(t, db.Translate(err), db.ErrNotFound)
	require.True(t, db.IsNotFound(err), "an untranslated no-rows error")
	require.True(t, db.IsNotFound(fmt.Errorf("wrapped: %w", db.Translate(err))), "a wrapped translated one")
	require.False(t, db.IsNotFound(nil))

	_, err = d.Pool.Exec(ctx, `INSERT INTO domains (name) VALUES ('d1')`)
	require.NoError(t, err)
	_, err = d.Pool.Exec(ctx, `INSERT INTO domains (name) VALUES ('d1')`)
	var dbErr *db.Error
	require.True(t, errors.As(db.Translate(err), &dbErr))
	require.ErrorIs(t, dbErr, db.ErrConflict)
	require.Equal(t, "domains_pkey", dbErr.Constraint)

	_, err = d.Pool.Exec(ctx, `INSERT INTO groups (name, domain_name, resource_policy) VALUES ('g', 'nope', 'nope')`)
	require.ErrorIs(t, db.Translate(err), db.ErrReference)

	// The slot-accounting constraint refuses over-commitment.
	_, err = d.Pool.Exec(ctx, `INSERT INTO scaling_groups (name) VALUES ('sg')`)
	require.NoError(t, err)
	_, err = d.Pool.Exec(ctx, `INSERT INTO agents (id, scaling_group, addr) VALUES ('i-1', 'sg', 'tcp://127.0.0.1:6001')`)
	require.NoError(t, err)
	_, err = d.Pool.Exec(ctx, `INSERT INTO agent_slots (agent_id, slot, capacity) VALUES ('i-1', 'cpu', 4)`)
	require.NoError(t, err)
	_, err = d.Pool.Exec(ctx, `UPDATE agent_slots SET occupied = 5 WHERE agent_id = 'i-1'`)
	require.ErrorIs(t, db.Translate(err), db.ErrCheck)
}

func TestInTxRollsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.NewDatabase(t)
	boom := errors.New("boom")
	err := db.InTx(ctx, d.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO domains (name) VALUES ('rolled-back')`); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	var n int
	require.NoError(t, d.Pool.QueryRow(ctx, `SELECT count(*) FROM domains WHERE name = 'rolled-back'`).Scan(&n))
	require.Zero(t, n)
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	_, err := db.Open(context.Background(), "postgres://postgres@127.0.0.1:1/postgres")
	require.ErrorContains(t, err, "cannot reach PostgreSQL at 127.0.0.1:1")
	require.ErrorContains(t, err, "go tool task halfstack:up")
}
