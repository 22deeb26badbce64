package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hangar-run/hangar/internal/logctx"
	"github.com/hangar-run/hangar/internal/metricsserver"
)

// unknownType labels tasks no handler was registered for, so stray types do not create
// label values.
const unknownType = "unknown"

// Periodic enqueue results, the values of the result label of hangar_periodic_enqueues_total.
const (
	resultEnqueued  = "enqueued"
	resultDuplicate = "duplicate"
	resultError     = "error"
)

// metrics are the worker's own collectors.
type metrics struct {
	processed *prometheus.CounterVec
	failed    *prometheus.CounterVec
	leader    prometheus.Gauge
	periodic  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	var m metrics
	var err error
	if m.processed, err = metricsserver.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hangar_jobs_processed_total",
		Help: "Tasks processed by this worker, by task type, whatever the outcome.",
	}, []string{"type"})); err != nil {
		return nil, err
	}
	if m.failed, err = metricsserver.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hangar_jobs_failed_total",
		Help: "Tasks whose handler returned an error or panicked, by task type.",
	}, []string{"type"})); err != nil {
		return nil, err
	}
	if m.leader, err = metricsserver.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hangar_leader",
		Help: "1 while this worker is the elected leader that enqueues periodic jobs, else 0.",
	})); err != nil {
		return nil, err
	}
	if m.periodic, err = metricsserver.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hangar_periodic_enqueues_total",
		Help: "Periodic enqueue attempts by this worker while leader, by job name and result (enqueued, duplicate, error).",
	}, []string{"name", "result"})); err != nil {
		return nil, err
	}
	return &m, nil
}

// middleware counts and logs every task the mux dispatches. The task's context carries log
// attributes (logctx): task type and id, and the session id of session tasks, so handlers
// logging with the context, and the lines below, name them.
func (m *metrics) middleware(logger *slog.Logger) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) (err error) {
			start := time.Now()
			id, _ := asynq.GetTaskID(ctx)
			retry, _ := asynq.GetRetryCount(ctx)
			ctx = logctx.New(ctx, "type", t.Type(), "id", id)
			if sid := payloadSessionID(t.Payload()); sid != "" {
				logctx.Add(ctx, "session_id", sid)
			}
			// Lines are logged with the attributes spelled out (not through the context) so
			// that they appear once whether or not the handler is wrapped with logctx.
			log := func(level slog.Level, msg string, attrs ...slog.Attr) {
				logger.LogAttrs(context.Background(), level, msg, append(logctx.Attrs(ctx), attrs...)...)
			}
			defer func() {
				if r := recover(); r != nil {
					m.processed.WithLabelValues(t.Type()).Inc()
					m.failed.WithLabelValues(t.Type()).Inc()
					log(slog.LevelError, "task panicked", slog.Int("retry", retry), slog.Any("panic", r))
					panic(r)
				}
			}()
			err = next.ProcessTask(ctx, t)
			typ := t.Type()
			if errors.Is(err, asynq.ErrHandlerNotFound) {
				typ = unknownType
			}
			m.processed.WithLabelValues(typ).Inc()
			if err != nil {
				m.failed.WithLabelValues(typ).Inc()
				log(slog.LevelWarn, "task failed", slog.Int("retry", retry),
					slog.Duration("duration", time.Since(start)), slog.Any("err", err))
				return err
			}
			if logger.Enabled(ctx, slog.LevelDebug) {
				log(slog.LevelDebug, "task done", slog.Duration("duration", time.Since(start)))
			}
			return nil
		})
	}
}

// payloadSessionID returns the session_id of a JSON object payload (session tasks and
// kernel events carry one), or "".
func payloadSessionID(payload []byte) string {
	if len(payload) == 0 || payload[0] != '{' || !bytes.Contains(payload, []byte(`"session_id"`)) {
		return ""
	}
	var p struct {
		SessionID string `json:"session_id"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return ""
	}
	return p.SessionID
}
