package functions

import (
	"context"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/redis/go-redis/v9"

	"github.com/hangar-run/hangar/internal/authlimit"
)

// RateLimitWindow is Backend.AI's rolling window per access key.
const RateLimitWindow = 900 * time.Second

// rateLimitScript keeps one sorted set of request ids per access key, scored by arrival time:
// it drops entries older than the window, adds this request and returns how many remain.
// A rejected request still counts, as in Backend.AI.
var rateLimitScript = redis.NewScript(` 
local id = redis.call('INCR', KEYS[2])
if id >= 1000000000000 then redis.call('SET', KEYS[2], 1) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, tonumber(ARGV[1]) - tonumber(ARGV[2]))
redis.call('ZADD', KEYS[1], ARGV[1], id)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('ZCARD', KEYS[1])
`) //nolint:gochecknoglobals

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
		score := strconv.FormatFloat(float64(now.UnixMilli())/1000, 'f', 3, 64)
		keys := []string{s.deps.RedisPrefix + "rlim:" + id.AccessKey, s.deps.RedisPrefix + "rlim:__request_id"}
		err = authlimit.Bounded(c, RedisTimeout, func(rctx context.Context) error {
			var err error
			count, err = rateLimitScript.Run(rctx, s.deps.Redis, keys, score, window).Int64()
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
