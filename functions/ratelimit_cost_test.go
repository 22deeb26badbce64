package functions_test

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/stacktest"
)

// The rate limit costs a signed request one script call running three commands, plus one
// more for one request in sixteen on average (the trim of old entries): measured on a Redis
// server of the test's own, whose command statistics count the script's commands too.
func TestRateLimitRedisCost(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t, testOps)
	rs := stacktest.StartRedis(t)
	rdb := rs.Client()
	t.Cleanup(func() { _ = rdb.Close() })
	env.Deps.Redis = rdb
	ctx := context.Background()
	const n = 200
	require.NoError(t, rdb.ConfigResetStat(ctx).Err())
	for i := range n {
		res := env.Do(t, http.MethodGet, "/t/echo", nil, &functionstest.User)
		res.RequireStatus(t, http.StatusOK)
		require.Equal(t, strconv.Itoa(30000-i-1), res.Header.Get("X-RateLimit-Remaining"))
	}
	info, err := rdb.Info(ctx, "commandstats").Result()
	require.NoError(t, err)
	calls := map[string]int{}
	re := regexp.MustCompile(`^cmdstat_([^:]+):calls=(\d+)`)
	for line := range strings.SplitSeq(info, "\n") {
		if m := re.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			calls[m[1]], _ = strconv.Atoi(m[2])
		}
	}
	total := 0
	for cmd, c := range calls {
		if cmd != "info" && cmd != "config|resetstat" {
			total += c
		}
	}
	// The first request loads the script (EVALSHA answered NOSCRIPT, then EVAL).
	require.LessOrEqual(t, float64(total-2)/n, 4.5, "commands per request: %v", calls)
	require.Zero(t, calls["incr"], "no shared counter: %v", calls)
	require.Equal(t, n, calls["zadd"])
	require.Equal(t, n, calls["zcount"])
}
