package config

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/nettest"
)

func requireUnreachable(t *testing.T, err error, service, addr, cause string) {
	t.Helper()
	var ue *UnreachableError
	require.True(t, errors.As(err, &ue), "want *UnreachableError, got %T: %v", err, err)
	require.Equal(t, service, ue.Service)
	require.Equal(t, addr, ue.Addr)
	msg := err.Error()
	require.NotContains(t, msg, "\n")
	require.True(t, strings.HasPrefix(msg, "cannot reach "+service+" at "+addr+": "+cause+"; "), msg)
	require.True(t, strings.HasSuffix(msg, "is the halfstack up? run `go tool task halfstack:up`"), msg)
}

func TestUnreachableMessage(t *testing.T) {
	t.Parallel()
	err := Unreachable("PostgreSQL", "127.0.0.1:8100", errors.New("line one\n  line two"))
	require.Equal(t, "cannot reach PostgreSQL at 127.0.0.1:8100: line one line two; is the halfstack up? run `go tool task halfstack:up`", err.Error())
	require.Equal(t, "cannot reach etcd at h:1: no answer within 2s; is the halfstack up? run `go tool task halfstack:up`",
		Unreachable("etcd", "h:1", context.DeadlineExceeded).Error())
	long := Unreachable("Redis", "h:1", errors.New(strings.Repeat("x", 500))).Error()
	require.Less(t, len(long), 300)
}

func TestPing(t *testing.T) {
	t.Parallel()

	t.Run("HalfstackAnswers", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 10*time.Second)
		require.NoError(t, PingPostgres(ctx, "postgres://postgres:"+DefaultDBPassword+"@127.0.0.1:8100/postgres?sslmode=disable"))
		require.NoError(t, PingRedis(ctx, DefaultRedisAddr, DefaultRedisPassword))
		require.NoError(t, PingEtcd(ctx, DefaultEtcdAddr, "", ""))
	})

	t.Run("ConnectionRefused", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 10*time.Second)
		addr := nettest.ClosedAddr(t)
		requireUnreachable(t, PingPostgres(ctx, "postgres://postgres@"+addr+"/postgres?sslmode=disable"), "PostgreSQL", addr, "connection refused")
		requireUnreachable(t, PingRedis(ctx, addr, ""), "Redis", addr, "connection refused")
		requireUnreachable(t, PingEtcd(ctx, addr, "", ""), "etcd", addr, "connection refused")
		_, err := DialEtcd(ctx, addr, "ns", "", "")
		requireUnreachable(t, err, "etcd", addr, "connection refused")
	})

	t.Run("SilentServerTimesOut", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 10*time.Second)
		addr := nettest.SilentServer(t)
		start := time.Now()
		requireUnreachable(t, PingRedis(ctx, addr, ""), "Redis", addr, "no answer within 2s")
		require.Less(t, time.Since(start), 2*PingTimeout)
	})

	t.Run("EtcdDialFailsFast", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 10*time.Second)
		addr := nettest.SilentServer(t)
		start := time.Now()
		_, err := DialEtcd(ctx, addr, "ns", "", "")
		requireUnreachable(t, err, "etcd", addr, "no answer within 2s")
		require.Less(t, time.Since(start), 2*PingTimeout)
	})

	t.Run("PostgresMissingDatabase", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 10*time.Second)
		err := PingPostgres(ctx, "postgres://postgres:"+DefaultDBPassword+"@127.0.0.1:8100/"+testNamespace(t)+"?sslmode=disable")
		require.Error(t, err)
		var ue *UnreachableError
		require.False(t, errors.As(err, &ue))
		require.Contains(t, err.Error(), "PostgreSQL at 127.0.0.1:8100: database")
		require.Contains(t, err.Error(), "does not exist (SQLSTATE 3D000)")
	})
}
