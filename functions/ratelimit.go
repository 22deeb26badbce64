package functions

import (
	"context"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/redis/go-redis/v9"

	"github.com/hangar-run/hangar/internal/authlimit"
)

// RateLimitWindow is Backend.AI's rolling window per access key.
const RateLimitWindow = 900 * time.Second

// rateLimitScript keeps one sorted set of request ids per access key, scored by arrival time
// (ARGV[1]): it adds this request (ARGV[3], an id unique to the request), keeps the set for
// the window (ARGV[2] s) after it and returns how many requests arrived within the window,
// i.e. with a score above ARGV[4] (an exclusive ZCOUNT bound). A rejected request still
// counts, as in Backend.AI's rolling window. Entries older than the window no longer count;
// they are dropped when ARGV[5] is "1" (one request in rateLimitTrimEvery), so that the
// common request costs three commands besides the script call, and a key's set holds about
// rateLimitTrimEvery stale entries at most besides its window's.
var rateLimitScript = redis.NewScript(`
if ARGV[5] == '1' then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4]) end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('ZCOUNT', KEYS[1], ARGV[4], '+inf')
`) //nolint:gochecknoglobals

// rateLimitTrimEvery is how many requests, on average, share the cost of dropping a key's
// entries older than the window.
const rateLimitTrimEvery = 16

// rateLimit counts the request against the caller's keypair rate_limit and sets the
// X-RateLimit-* headers. The count is shared through Redis; when Redis does not answer
// within RedisTimeout, a per-process fallback (localRateLimiter) applies the limit instead,
// so that limits never switch off; each such request is counted in
// hangar_ratelimit_fallbacks_total{limiter="api"}.
func (s *Server) rateLimit(ctx huma.Context, id *Identity) *Problem {
	limit := int64(id.Keypair.RateLimit)
	now := s.deps.Clock()
	window := strconv.Itoa(int(RateLimitWindow.Seconds()))
	st := s.deps.limits()
	c := ctx.Context()
	var (
		count int64
		err   error
		asked bool
	)
	if s.deps.Redis != nil && st.redisUsable() {
		asked = true
		ms := now.UnixMilli()
		score := strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)
		// Scores at or below the cutoff are outside the window: the exclusive bound "(cutoff"
		// leaves them out of the count, and the trim drops those below it.
		cutoff := strconv.FormatFloat(float64(ms-RateLimitWindow.Milliseconds())/1000, 'f', 3, 64)
		trim := "0"
		if rand.IntN(rateLimitTrimEvery) == 0 {
			trim = "1"
		}
		keys := []string{s.deps.RedisPrefix + "rlim:" + id.AccessKey}
		err = authlimit.Bounded(c, RedisTimeout, func(rctx context.Context) error {
			var err error
			count, err = rateLimitScript.Run(rctx, s.deps.Redis, keys, score, window, st.requestID(), "("+cutoff, trim).Int64()
			return err
		})
	}
	var remaining int64
	var allowed bool
	switch {
	case asked && err == nil:
		remaining = max(limit-count, 0)
		allowed = count <= limit
	case asked && c.Err() != nil:
		// The client went away while Redis was asked; nothing is served.
		return ErrServiceUnavailable("The request was cancelled.")
	default:
		if s.deps.Redis != nil {
			st.fellBack(c, s.deps, err)
		}
		allowed, remaining = st.local.allow(id.AccessKey, limit, now)
	}
	ctx.SetHeader("X-RateLimit-Limit", strconv.FormatInt(limit, 10))
	ctx.SetHeader("X-RateLimit-Remaining", strconv.FormatInt(remaining, 10))
	ctx.SetHeader("X-RateLimit-Window", window)
	if !allowed {
		return ErrRateLimitExceeded()
	}
	return nil
}

// publicRateLimitHeaders are the fixed headers Backend.AI sends on unauthenticated requests.
func publicRateLimitHeaders(ctx huma.Context) {
	ctx.SetHeader("X-RateLimit-Limit", "1000")
	ctx.SetHeader("X-RateLimit-Remaining", "1000")
	ctx.SetHeader("X-RateLimit-Window", "900")
}
