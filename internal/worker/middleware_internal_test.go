package worker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/logctx"
)

func TestMiddlewareLogsSessionID(t *testing.T) {
	t.Parallel()
	m, err := newMetrics(prometheus.NewRegistry())
	require.NoError(t, err)
	var buf bytes.Buffer
	logger := slog.New(logctx.NewHandler(slog.NewTextHandler(&buf, nil)))

	var inner string
	h := m.middleware(logger)(asynq.HandlerFunc(func(ctx context.Context, _ *asynq.Task) error {
		v, _ := logctx.Value(ctx, "session_id")
		inner = v.String()
		logger.InfoContext(ctx, "inside the handler")
		return errors.New("boom")
	}))
	err = h.ProcessTask(context.Background(), asynq.NewTask("session:start", []byte(`{"session_id":"s-42"}`)))
	require.Error(t, err)
	require.Equal(t, "s-42", inner, "handlers see the session id in their context")
	out := buf.String()
	require.Contains(t, out, `msg="inside the handler" type=session:start`)
	require.Contains(t, out, `msg="task failed" type=session:start id="" session_id=s-42 retry=0`)
	require.Equal(t, 2, bytes.Count(buf.Bytes(), []byte("session_id=s-42")), "once per line:\n%s", out)

	require.Empty(t, payloadSessionID([]byte(`{"agent_id":"a"}`)))
	require.Empty(t, payloadSessionID([]byte(`not json "session_id"`)))
	require.Empty(t, payloadSessionID(nil))
}
