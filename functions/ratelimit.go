package functions

import (
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/redis/go-redis/v9"
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
// X-RateLimit-* headers. Redis being down does not fail requests: the limit is skipped and
// the error logged.
func (s *Server) rateLimit(ctx huma.Context, id *Identity) *Problem {
	if s.deps.Redis == nil {
		return nil
	}
	limit := int64(id.Keypair.RateLimit)
	now := s.deps.Clock()
	score := strconv.FormatFloat(float64(now.UnixMilli())/1000, 'f', 3, 64)
	window := strconv.Itoa(int(RateLimitWindow.Seconds()))
	keys := []string{s.deps.RedisPrefix + "rlim:" + id.AccessKey, s.deps.RedisPrefix + "rlim:__request_id"}
	count, err := rateLimitScript.Run(ctx.Context(), s.deps.Redis, keys, score, window).Int64()
	if err != nil {
		s.deps.Log().Warn("rate limit check skipped", "err", err, "request_id", RequestID(ctx.Context()))
		return nil
	}
	remaining := max(limit-count, 0)
	ctx.SetHeader("X-RateLimit-Limit", strconv.FormatInt(limit, 10))
	ctx.SetHeader("X-RateLimit-Remaining", strconv.FormatInt(remaining, 10))
	ctx.SetHeader("X-RateLimit-Window", window)
	if count > limit {
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
