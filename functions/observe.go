package functions

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hangar-run/hangar/internal/logctx"
	"github.com/hangar-run/hangar/internal/metricsserver"
)

// OtherOperation labels requests that reached no operation (unrouted paths, handlers mounted
// outside huma that did not name themselves with SetOperation).
const OtherOperation = "other"

// requestState is what inner layers tell the outermost one about a request: the operation
// it was routed to, for the latency histogram.
type requestState struct {
	mu sync.Mutex
	op string
}

type requestStateKey struct{}

// SetOperation names the operation ctx's request is served by, for the
// hangar_http_request_duration_seconds histogram. The huma pipeline sets the operation id;
// handlers mounted on Mux() (dashboards) call it with a name of their own.
func SetOperation(ctx context.Context, op string) {
	if st, _ := ctx.Value(requestStateKey{}).(*requestState); st != nil {
		st.mu.Lock()
		st.op = op
		st.mu.Unlock()
	}
}

func (st *requestState) operation() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.op == "" {
		return OtherOperation
	}
	return st.op
}

// LogAttrs adds attributes (slog key-value pairs) to every later log line of ctx's request,
// including its access log line: a handler that learns the session id calls
// LogAttrs(ctx, "session_id", id). Loggers must wrap their handler with logctx.NewHandler
// (the hangar command does) for lines logged with the context to carry them.
func LogAttrs(ctx context.Context, args ...any) { logctx.Add(ctx, args...) }

// httpMetrics are the API's request metrics.
type httpMetrics struct {
	duration *prometheus.HistogramVec
}

// newHTTPMetrics registers the API's collectors on reg; with a nil reg they are kept but not
// exported.
func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hangar_http_request_duration_seconds",
		Help:    "API request latency from the first byte read to the handler's return, by operation id and status code.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"operation", "status"})
	if reg != nil {
		var err error
		if h, err = metricsserver.Register(reg, h); err != nil {
			panic(err) // a collector of the same name but another shape: a programming error
		}
	}
	return &httpMetrics{duration: h}
}

func (m *httpMetrics) observe(op string, status int, took time.Duration) {
	if status == 0 {
		status = 200 // nothing written: net/http answers 200
	}
	m.duration.WithLabelValues(op, strconv.Itoa(status)).Observe(took.Seconds())
}

// observeMiddleware is the first huma middleware: it names the operation for the latency
// histogram and puts the session named in the path into the request's log attributes.
func (s *Server) observeMiddleware(ctx huma.Context, next func(huma.Context)) {
	if op := ctx.Operation(); op != nil {
		c := ctx.Context()
		SetOperation(c, op.OperationID)
		if strings.Contains(op.Path, "{session_name}") {
			if name := ctx.Param("session_name"); name != "" {
				logctx.Add(c, "session_name", name)
			}
		}
	}
	next(ctx)
}

// accessLog writes the access log line of a request with its log attributes.
func accessLog(ctx context.Context, logger *slog.Logger, attrs ...slog.Attr) {
	if !logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	// The bag's attributes are passed explicitly (and the line logged without the context) so
	// that they appear once whether or not the handler is wrapped with logctx.NewHandler.
	logger.LogAttrs(context.Background(), slog.LevelDebug, "request", append(logctx.Attrs(ctx), attrs...)...)
}
