// Package dbtest gives tests their own PostgreSQL database, created from a migrated template
// so that parallel packages and tests never share state. Use it only from _test.go files.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/halfstack"
	"github.com/hangar-run/hangar/migrations"
)

// URL is the server tests connect to: TEST_DATABASE_URL, or the halfstack's PostgreSQL
// with its password (see internal/halfstack).
func URL() string { return halfstack.DatabaseURL() }

// templateName names the migrated template after a hash of the migrations, so a changed
// migration gets a fresh template.
func templateName() string {
	h := sha256.New()
	entries, _ := fs.ReadDir(migrations.FS, ".")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		b, _ := fs.ReadFile(migrations.FS, n)
		h.Write([]byte(n))
		h.Write(b)
	}
	return "hangar_tmpl_" + hex.EncodeToString(h.Sum(nil))[:16]
}

// ensureTemplate creates and migrates the template database once per server.
func ensureTemplate(ctx context.Context, admin *pgxpool.Pool) (string, error) {
	name := templateName()
	conn, err := admin.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7243001)"); err != nil {
		return "", err
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(7243001)") }()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return "", err
	}
	dsn, err := db.WithDatabase(URL(), building)
	if err != nil {
		return "", err
	}
	pool, err := db.Open(ctx, dsn)
	if err != nil {
		return "", err
	}
	_, err = db.Migrate(ctx, pool, nil)
	pool.Close()
	if err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+building+" RENAME TO "+name); err != nil {
		return "", err
	}
	return name, nil
}

// Database is a fresh, migrated database of the test's own.
type Database struct {
	Name string
	DSN  string
	Pool *pgxpool.Pool
}

// NewDatabase creates a migrated database for t, dropped when t ends.
func NewDatabase(t testing.TB) *Database {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := db.Open(ctx, URL())
	require.NoError(t, err)
	defer admin.Close()
	tmpl, err := ensureTemplate(ctx, admin)
	require.NoError(t, err)

	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "hangar_test_" + hex.EncodeToString(rnd[:])
	// CREATE DATABASE ... TEMPLATE fails while another session is connected to the template;
	// nobody connects to it after it is built, so one attempt normally suffices.
	var createErr error
	for range 20 {
		_, createErr = admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl))
		if createErr == nil || !strings.Contains(createErr.Error(), "being accessed by other users") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, createErr)

	dsn, err := db.WithDatabase(URL(), name)
	require.NoError(t, err)
	pool, err := db.Open(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() {
		pool.Close()
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		a, err := db.Open(cctx, URL())
		if err != nil {
			t.Logf("dbtest: drop %s: %v", name, err)
			return
		}
		defer a.Close()
		if _, err := a.Exec(cctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("dbtest: drop %s: %v", name, err)
		}
	})
	return &Database{Name: name, DSN: dsn, Pool: pool}
}
