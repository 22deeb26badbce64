package functions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hangar-run/hangar/internal/logctx"
)

// APIVersion is the Backend.AI API version Hangar speaks; ManagerVersion the Backend.AI
// release whose behaviour it follows.
const (
	APIVersion     = "v8.20240315"
	ManagerVersion = "24.03.2"
)

// validVersions are the X-BackendAI-Version values Backend.AI 24.03 accepts.
var validVersions = map[string]bool{ //nolint:gochecknoglobals
	"v4.20181215": true, "v4.20190115": true, "v4.20190315": true, "v4.20190615": true,
	"v5.20191215": true, "v6.20200815": true, "v6.20210815": true, "v6.20220315": true,
	"v6.20220615": true, "v6.20230315": true, "v7.20230615": true, "v8.20240315": true,
}

// ValidAPIVersion reports whether v is an accepted X-BackendAI-Version value.
func ValidAPIVersion(v string) bool { return validVersions[v] }

type requestIDKey struct{}

// RequestID returns the id the access log and error logs carry for this request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WriteProblem writes p as application/problem+json.
func WriteProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.status, r.wrote = http.StatusOK, true
	}
	return r.ResponseWriter.Write(b)
}

// Flush lets streaming responses (SSE) flush through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// withRecover turns a panic into a 500 problem+json with the trace logged, never a dropped
// connection; it also assigns the request id (an incoming X-Request-Id of up to 64 printable
// characters is kept, and echoed), starts the request's log attributes (logctx), records the
// latency histogram and writes the access log.
func withRecover(logger *slog.Logger, m *httpMetrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		st := &requestState{}
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		ctx = context.WithValue(ctx, requestStateKey{}, st)
		ctx = logctx.New(ctx, "request_id", id)
		r = r.WithContext(ctx)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { //nolint:errorlint
					panic(v)
				}
				logger.LogAttrs(context.Background(), slog.LevelError, "panic while serving request",
					append(logctx.Attrs(ctx), slog.String("method", r.Method), slog.String("path", r.URL.Path),
						slog.Any("panic", v), slog.String("trace", string(debug.Stack())))...)
				if !rec.wrote {
					WriteProblem(rec, ErrInternal(""))
				}
			}
			took := time.Since(start)
			m.observe(st.operation(), rec.status, took)
			accessLog(ctx, logger, slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", rec.status), slog.Duration("took", took))
		}()
		next.ServeHTTP(rec, r)
	})
}

// validRequestID accepts a client's request id: 1 to 64 printable ASCII characters.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// withCompat applies the Backend.AI request rules that precede routing: the Server header,
// X-Method-Override, and the X-BackendAI-Version whitelist (checked before authentication).
func withCompat(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "BackendAI")
		if m := strings.ToUpper(strings.TrimSpace(r.Header.Get("X-Method-Override"))); m != "" {
			r.Method = m
		}
		v := r.Header.Get("X-BackendAI-Version")
		if v == "" {
			v = r.Header.Get("X-Sorna-Version")
		}
		if v != "" && !validVersions[v] {
			WriteProblem(w, ErrGenericBadRequest("Unsupported API version."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// withRouterErrors answers unrouted requests with Backend.AI's url-not-found and
// method-not-allowed problems instead of ServeMux's plain-text ones. Paths match strictly: an
// unclean path ("/a//b", "/x/../a") is 404, never a redirect to the cleaned path; any method on
// a path no route has is 404; only a known path with the wrong method is 405.
func withRouterErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect && r.URL.Path != cleanPath(r.URL.Path) {
			WriteProblem(w, ErrURLNotFound(r.URL.Path))
			return
		}
		h, pattern := mux.Handler(r)
		if isRootPattern(pattern) && r.URL.Path != "/" {
			// ServeMux's "/" pattern matches every path; only the root itself is routed there.
			pattern = ""
			h = http.NotFoundHandler()
		}
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		probe := &headerProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed && knownPath(mux, r) {
			if allow := probe.header.Get("Allow"); allow != "" {
				w.Header().Set("Allow", allow)
			}
			WriteProblem(w, ErrMethodNotAllowed())
			return
		}
		// Everything else, including ServeMux's redirects, is an unknown path: Backend.AI
		// matches paths strictly.
		WriteProblem(w, ErrURLNotFound(r.URL.Path))
	})
}

func isRootPattern(pattern string) bool { return pattern == "GET /" || pattern == "HEAD /" }

// routeMethods are the methods routes are registered with.
var routeMethods = []string{ //nolint:gochecknoglobals // read-only
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

// knownPath reports whether some route serves r's path with another method; the root
// pattern, which matches every path, counts for the root only.
func knownPath(mux *http.ServeMux, r *http.Request) bool {
	for _, m := range routeMethods {
		if m == r.Method {
			continue
		}
		alt := r.Clone(r.Context())
		alt.Method = m
		if _, pattern := mux.Handler(alt); pattern != "" && (!isRootPattern(pattern) || r.URL.Path == "/") {
			return true
		}
	}
	return false
}

// cleanPath is ServeMux's canonical form of p: path.Clean, keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// headerProbe captures what ServeMux's fallback handler would answer.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(code int)        { p.status = code }
