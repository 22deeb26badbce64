package functions

import (
	"context"
	"crypto/rand"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/hangar-run/hangar/internal/authlimit"
	"github.com/hangar-run/hangar/internal/metricsserver"
)

// RedisTimeout bounds how long a request waits for Redis on its way through the pipeline
// (rate limit, password limits); past it the per-process fallback decides.
const RedisTimeout = 300 * time.Millisecond

// redisRetry is how long the rate limit stays on its fallback after Redis failed before it
// asks Redis again, so that an outage costs each request nothing.
const redisRetry = time.Second

// fallbackLogEvery is the most often a fallback is logged.
const fallbackLogEvery = time.Minute

// limitState is the process-local state of the limits of one Deps: the password-attempt
// limiter, the rate limit's fallback and their metric. Deps is a plain struct that callers
// build (and copy) freely, so the state hangs off a registry keyed by the *Deps rather than
// a field.
type limitState struct {
	passwords *authlimit.Limiter
	fallbacks *prometheus.CounterVec
	local     localRateLimiter
	// token and requests make the rate limit's request ids (requestID).
	token    string
	requests atomic.Uint64

	mu        sync.Mutex
	downUntil time.Time
	logged    time.Time
	missed    int
}

var limitStates sync.Map //nolint:gochecknoglobals // *Deps → *limitState

func (d *Deps) limits() *limitState {
	if v, ok := limitStates.Load(d); ok {
		return v.(*limitState)
	}
	fallbacks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hangar_ratelimit_fallbacks_total",
		Help: "Requests (limiter=api) and password attempts (limiter=password) limited by this process alone because Redis did not answer.",
	}, []string{"limiter"})
	if d.Metrics != nil {
		var err error
		if fallbacks, err = metricsserver.Register(d.Metrics, fallbacks); err != nil {
			panic(err) // a collector of the same name but another shape: a programming error
		}
	}
	st := &limitState{fallbacks: fallbacks, local: localRateLimiter{keys: map[string]*localBucket{}}, token: rand.Text()}
	st.passwords = authlimit.New(authlimit.Options{
		Limits:       d.PasswordLimits,
		Redis:        d.Redis,
		Prefix:       d.RedisPrefix,
		Now:          d.Clock,
		Logger:       d.Log(),
		Fallbacks:    fallbacks.WithLabelValues("password"),
		RedisTimeout: RedisTimeout,
	})
	v, _ := limitStates.LoadOrStore(d, st)
	return v.(*limitState)
}

// PasswordLimiter is the one limiter of password attempts every password check asks first
// (see internal/authlimit), shared through Redis by all API replicas.
func (d *Deps) PasswordLimiter() *authlimit.Limiter { return d.limits().passwords }

// ErrTooManyPasswordAttempts is the 429 for a password attempt the limiter refused, with
// Retry-After.
func ErrTooManyPasswordAttempts(r *authlimit.Refusal) *Problem {
	msg := "Too many failed login attempts from this address; retry later."
	if r.Scope == authlimit.ScopeAccount {
		msg = "Too many failed login attempts for this account; retry after the delay."
	}
	p := ErrRateLimitExceeded()
	p.Msg = msg
	return p.WithRetryAfter(r.RetryAfterSeconds())
}

// requestID returns an id for one request in the rate limit's shared sets: unique across
// processes (a random token of this process, 130 bits) and within it (a counter), so that no
// shared counter in Redis is needed.
func (st *limitState) requestID() string {
	return st.token + ":" + strconv.FormatUint(st.requests.Add(1), 36)
}

// redisUsable reports whether the rate limit should ask Redis (it did not just fail).
func (st *limitState) redisUsable() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return !time.Now().Before(st.downUntil)
}

// fellBack counts a request limited by the fallback and logs, at most once a minute, that
// Redis is unreachable. A non-nil err also pauses Redis for redisRetry.
func (st *limitState) fellBack(ctx context.Context, d *Deps, err error) {
	st.fallbacks.WithLabelValues("api").Inc()
	now := time.Now()
	st.mu.Lock()
	if err != nil {
		st.downUntil = now.Add(redisRetry)
	}
	st.missed++
	if !st.logged.IsZero() && now.Sub(st.logged) < fallbackLogEvery {
		st.mu.Unlock()
		return
	}
	n := st.missed
	st.logged, st.missed = now, 0
	st.mu.Unlock()
	args := []any{"requests", n, "request_id", RequestID(ctx)}
	if err != nil {
		args = append(args, "err", err)
	}
	d.Log().WarnContext(ctx, "rate limits kept in this process only: Redis unreachable", args...)
}

// localRateLimiter is the rate limit's fallback while Redis is unreachable: a token bucket
// per access key (golang.org/x/time/rate) holding up to the key's rate_limit requests and
// refilled at rate_limit per RateLimitWindow, so that a key gets about what the shared
// rolling window allows. It is per process: with several replicas a key may get up to one
// limit per replica while Redis is away.
type localRateLimiter struct {
	mu        sync.Mutex
	keys      map[string]*localBucket
	lastSweep time.Time
}

type localBucket struct {
	lim   *rate.Limiter
	limit int64
	seen  time.Time
}

// allow takes one request of key at now and returns whether it is allowed and how many remain.
func (l *localRateLimiter) allow(key string, limit int64, now time.Time) (bool, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= time.Minute || now.Before(l.lastSweep) {
		l.lastSweep = now
		for k, b := range l.keys {
			// An idle bucket is full again after a window: forgetting it changes nothing.
			if now.Sub(b.seen) > RateLimitWindow {
				delete(l.keys, k)
			}
		}
	}
	every := rate.Limit(float64(limit) / RateLimitWindow.Seconds())
	b := l.keys[key]
	if b == nil {
		b = &localBucket{lim: rate.NewLimiter(every, int(limit)), limit: limit}
		l.keys[key] = b
	} else if b.limit != limit {
		b.lim.SetLimitAt(now, every)
		b.lim.SetBurstAt(now, int(limit))
		b.limit = limit
	}
	b.seen = now
	ok := b.lim.AllowN(now, 1)
	return ok, max(int64(b.lim.TokensAt(now)), 0)
}
