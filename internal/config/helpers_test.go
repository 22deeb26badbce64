package config

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testEtcd connects to the halfstack etcd with a fresh namespace that is emptied when the
// test ends.
func testEtcd(t *testing.T) *Etcd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e, err := DialEtcd(ctx, DefaultEtcdAddr, testNamespace(t), "", "")
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, e.DeletePrefix(ctx, ""))
		require.NoError(t, e.Close())
	})
	return e
}

// testNamespace returns a namespace no other test uses.
func testNamespace(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "test-" + hex.EncodeToString(b)
}

// testCtx returns a context that ends with the test or after d.
func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// upstreamConfigs returns the directory of the upstream sample files next to the repository,
// skipping the test when it is missing.
func upstreamConfigs(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "go.mod not found above the test directory")
		dir = parent
	}
	configs := filepath.Join(dir, "..", "shared", "backendai", "configs")
	if _, err := os.Stat(configs); err != nil {
		t.Skipf("upstream sample configs not available at %s", configs)
	}
	return configs
}

func mustRead(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	return b
}
