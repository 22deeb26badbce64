package logctx_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/logctx"
)

func TestHandlerAddsBagAttributes(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(logctx.NewHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))).With("component", "test")

	ctx := logctx.New(context.Background(), "request_id", "r1")
	require.True(t, logctx.Add(ctx, "session_id", "s1"))
	require.True(t, logctx.Add(ctx, "session_id", "s2")) // replaces
	logger.InfoContext(ctx, "hello", "n", 1)
	require.Equal(t, "level=INFO msg=hello component=test n=1 request_id=r1 session_id=s2\n", buf.String())

	buf.Reset()
	logger.Info("no context")
	require.Equal(t, "level=INFO msg=\"no context\" component=test\n", buf.String())

	child := logctx.New(ctx, "task", "x")
	logctx.Add(child, "extra", true)
	v, ok := logctx.Value(child, "request_id")
	require.True(t, ok)
	require.Equal(t, "r1", v.String())
	_, ok = logctx.Value(ctx, "extra")
	require.False(t, ok, "the child's attributes stay out of the parent")

	require.False(t, logctx.Add(context.Background(), "k", "v"))
	require.Nil(t, logctx.Attrs(context.Background()))
}
