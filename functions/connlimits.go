package functions

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hangar-run/hangar/internal/config"
	"github.com/hangar-run/hangar/internal/metricsserver"
)

// Connection and stream limits of the API. The HTTP server times out slow request headers
// (ReadHeaderTimeout) and idle keep-alive connections (IdleTimeout); the handler bounds the time
// a request body may take to arrive (BodyReadTimeoutKey, plus time for the bytes that did
// arrive at MinBodyRate), and, once the body is read, lifts the deadline again so that long
// polls, event streams and WebSockets are not cut short. Concurrent event streams and
// WebSockets are capped per access key and per API process.
const (
	// ReadHeaderTimeout bounds how long a client may take to send a request's headers.
	ReadHeaderTimeout = 10 * time.Second
	// IdleTimeout closes keep-alive connections idle for this long.
	IdleTimeout = 120 * time.Second
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes = 64 << 10

	// DefaultBodyReadTimeout bounds how long a request body may take to arrive (before the
	// allowance for large bodies, see MinBodyRate).
	DefaultBodyReadTimeout = 30 * time.Second
	// MinBodyRate is the slowest rate at which large bodies (uploads) still arrive in time:
	// every MinBodyRate bytes received extend the body deadline by one second.
	MinBodyRate = 16 << 10

	// DefaultMaxBodyBytes is the largest request body of an operation that does not set its own.
	DefaultMaxBodyBytes = 1 << 20

	// DefaultMaxStreamsPerKey is how many event streams and execute WebSockets one access key
	// may hold open at once on one API process.
	DefaultMaxStreamsPerKey = 32
	// DefaultMaxStreams is how many event streams and execute WebSockets one API process holds
	// open at once.
	DefaultMaxStreams = 1024
)

// Keys of the shared configuration (under /sorna/{namespace}/) that tune the limits; changes
// apply to the next request. "0" turns a limit off.
const (
	BodyReadTimeoutKey  = "config/hangar/api/body-read-timeout"
	MaxStreamsPerKeyKey = "config/hangar/api/max-streams-per-key"
	MaxStreamsKey       = "config/hangar/api/max-streams"
)

// Stream kinds, the label of the open stream gauge.
const (
	StreamSSE       = "sse"
	StreamWebSocket = "websocket"
)

// ConfigureHTTPServer sets srv's connection timeouts (slow headers, idle keep-alive
// connections) and header size limit, leaving the fields already set alone. The body deadline
// and the stream caps are applied by Server.Handler itself.
func ConfigureHTTPServer(srv *http.Server) {
	if srv.ReadHeaderTimeout == 0 {
		srv.ReadHeaderTimeout = ReadHeaderTimeout
	}
	if srv.IdleTimeout == 0 {
		srv.IdleTimeout = IdleTimeout
	}
	if srv.MaxHeaderBytes == 0 {
		srv.MaxHeaderBytes = MaxHeaderBytes
	}
}

// bodyReadTimeout is the configured body read timeout (0: none).
func (s *Server) bodyReadTimeout() time.Duration {
	if sh := s.deps.Shared; sh != nil {
		if v, ok := sh.Get(BodyReadTimeoutKey); ok {
			if d, err := config.ParseDuration(v); err == nil {
				return d
			}
		}
	}
	return DefaultBodyReadTimeout
}

// configuredLimit reads a count limit from the shared configuration (0: none).
func (s *Server) configuredLimit(key string, def int) int {
	if sh := s.deps.Shared; sh != nil {
		if v, ok := sh.Get(key); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
				return n
			}
		}
	}
	return def
}

// withBodyDeadline bounds the time a request body takes to arrive. A request with a body gets
// a read deadline of timeout() from now, extended by a second for every MinBodyRate bytes
// received; once the body has been read to its end the deadline is lifted, because net/http
// then watches the connection for the client going away, and a deadline passing would cancel
// the request (cutting long polls and streams short). Requests without a body get no deadline.
// A body that times out fails its reads: the operation answers 400 and the connection closes.
func withBodyDeadline(timeout func() time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		d := timeout()
		if d <= 0 {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		start := time.Now()
		deadline := start.Add(d)
		if err := rc.SetReadDeadline(deadline); err != nil {
			next.ServeHTTP(w, r) // a writer without deadlines (tests with a recorder)
			return
		}
		r = r.WithContext(r.Context()) // a shallow copy: net/http keeps its own view of the body
		r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, start: start, timeout: d, deadline: deadline}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody extends the read deadline as bytes arrive and lifts it at the end of the body.
type deadlineBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	start    time.Time
	timeout  time.Duration
	deadline time.Time
	read     int64
	done     bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.done {
		return n, err
	}
	if n > 0 {
		b.read += int64(n)
		next := b.start.Add(b.timeout + time.Duration(b.read/MinBodyRate)*time.Second)
		if next.Sub(b.deadline) >= time.Second {
			b.deadline = next
			_ = b.rc.SetReadDeadline(next)
		}
	}
	if err == io.EOF { //nolint:errorlint // io.EOF is returned unwrapped by contract
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// streamSlots counts the open event streams and execute WebSockets of this process, by
// access key.
type streamSlots struct {
	mu     sync.Mutex
	total  int
	perKey map[string]int

	open     *prometheus.GaugeVec
	rejected *prometheus.CounterVec
}

func newStreamSlots(reg prometheus.Registerer) *streamSlots {
	open := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hangar_api_open_streams",
		Help: "Event streams (sse) and execute WebSockets (websocket) open on this API process.",
	}, []string{"kind"})
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hangar_api_stream_rejections_total",
		Help: "Streams refused with 429 because a limit was reached, by kind and limit (key: per access key, process: per API process).",
	}, []string{"kind", "limit"})
	if reg != nil {
		var err error
		if open, err = metricsserver.Register(reg, open); err != nil {
			panic(err) // a collector of the same name but another shape: a programming error
		}
		if rejected, err = metricsserver.Register(reg, rejected); err != nil {
			panic(err)
		}
	}
	return &streamSlots{perKey: map[string]int{}, open: open, rejected: rejected}
}

// ErrTooManyStreams is the 429 for a stream over a concurrency limit.
func ErrTooManyStreams(msg string) *Problem {
	return problem(http.StatusTooManyRequests, "rate-limit-exceeded", "You have reached your API query rate limit.", msg, nil)
}

// AcquireStream takes a stream slot of the given kind (StreamSSE, StreamWebSocket) for the
// caller of ctx, or answers 429 rate-limit-exceeded when the caller's access key or this
// process holds as many open streams as allowed. Call release, once, when the stream ends;
// calling it again does nothing.
func (s *Server) AcquireStream(ctx context.Context, kind string) (release func(), err error) {
	key := ""
	if id := IdentityFrom(ctx); id != nil {
		key = id.AccessKey
	}
	perKey := s.configuredLimit(MaxStreamsPerKeyKey, DefaultMaxStreamsPerKey)
	total := s.configuredLimit(MaxStreamsKey, DefaultMaxStreams)
	st := s.streams
	st.mu.Lock()
	switch {
	case total > 0 && st.total >= total:
		st.mu.Unlock()
		st.rejected.WithLabelValues(kind, "process").Inc()
		return nil, ErrTooManyStreams(fmt.Sprintf("The server holds as many open streams as it allows (%d); try again later.", total))
	case perKey > 0 && st.perKey[key] >= perKey:
		st.mu.Unlock()
		st.rejected.WithLabelValues(kind, "key").Inc()
		return nil, ErrTooManyStreams(fmt.Sprintf("Too many open streams for this access key (at most %d); close one first.", perKey))
	}
	st.total++
	st.perKey[key]++
	st.mu.Unlock()
	st.open.WithLabelValues(kind).Inc()
	var once sync.Once
	return func() {
		once.Do(func() {
			st.mu.Lock()
			st.total--
			if st.perKey[key]--; st.perKey[key] <= 0 {
				delete(st.perKey, key)
			}
			st.mu.Unlock()
			st.open.WithLabelValues(kind).Dec()
		})
	}, nil
}

// OpenStreams reports how many streams this process holds open, in all and for accessKey.
func (s *Server) OpenStreams(accessKey string) (total, forKey int) {
	s.streams.mu.Lock()
	defer s.streams.mu.Unlock()
	return s.streams.total, s.streams.perKey[accessKey]
}
