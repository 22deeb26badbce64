package authlimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/authlimit"
	"github.com/hangar-run/hangar/internal/halfstack"
	"github.com/hangar-run/hangar/internal/metricstest"

	"github.com/hangar-run/hangar/internal/nettest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// stores are the two ways a Limiter keeps its counts: shared in Redis, and in memory while
// Redis is unreachable (a client pointed at a closed port).
func stores(t *testing.T) map[string]redis.UniversalClient {
	t.Helper()
	live := halfstack.NewRedis()
	t.Cleanup(func() { _ = live.Close() })
	dead := redis.NewClient(&redis.Options{Addr: nettest.ClosedAddr(t), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = dead.Close() })
	return map[string]redis.UniversalClient{"redis": live, "redis-down": dead}
}

func prefix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	p := "test-authlimit-" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		rdb := halfstack.NewRedis()
		defer rdb.Close()
		ctx := context.Background()
		if keys, _ := rdb.Keys(ctx, p+"*").Result(); len(keys) > 0 {
			_ = rdb.Del(ctx, keys...).Err()
		}
	})
	return p
}

// fallbacks reads the limiter's fallback counter.
type fallbacks struct {
	reg *prometheus.Registry
}

func (f fallbacks) count(t *testing.T) float64 {
	t.Helper()
	return metricstest.ScrapeRegistry(t, f.reg).Value(t, "fallbacks_total", nil)
}

func newLimiter(t *testing.T, rdb redis.UniversalClient) (*authlimit.Limiter, *clock, fallbacks) {
	t.Helper()
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	counter := prometheus.NewCounter(prometheus.CounterOpts{Name: "fallbacks_total", Help: "x"})
	reg := prometheus.NewRegistry()
	reg.MustRegister(counter)
	return authlimit.New(authlimit.Options{Redis: rdb, Prefix: prefix(t), Now: c.Now, Fallbacks: counter}), c, fallbacks{reg}
}

var (
	attacker = netip.MustParseAddr("198.51.100.7")
	owner    = netip.MustParseAddr("203.0.113.9")
)

// TestConcurrentAttemptsPerAddress: 40 concurrent wrong passwords from one address, for 40
// accounts, let exactly the address limit through to the password check.
func TestConcurrentAttemptsPerAddress(t *testing.T) {
	t.Parallel()
	for name, rdb := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l, _, fallbacks := newLimiter(t, rdb)
			var passed, refused atomic.Int32
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Go(func() {
					if _, r := l.Begin(t.Context(), attacker, fmt.Sprintf("user%d@example.com", i)); r != nil {
						require.Equal(t, authlimit.ScopeAddress, r.Scope)
						require.Greater(t, r.RetryAfter, 14*time.Minute)
						refused.Add(1)
						return
					}
					passed.Add(1)
				})
			}
			wg.Wait()
			require.EqualValues(t, l.Limits().AddressAttempts, passed.Load())
			require.EqualValues(t, 40-l.Limits().AddressAttempts, refused.Load())
			if name == "redis-down" {
				require.EqualValues(t, 40, fallbacks.count(t), "every attempt counted as a fallback")
			} else {
				require.Zero(t, fallbacks.count(t))
			}
		})
	}
}

// TestConcurrentAttemptsPerAccount: 40 concurrent wrong passwords for one account from 40
// addresses let only the account's free failures through.
func TestConcurrentAttemptsPerAccount(t *testing.T) {
	t.Parallel()
	for name, rdb := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l, _, _ := newLimiter(t, rdb)
			var passed atomic.Int32
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Go(func() {
					addr := netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})
					if _, r := l.Begin(t.Context(), addr, "admin@lablup.com"); r == nil {
						passed.Add(1)
					} else {
						require.Equal(t, authlimit.ScopeAccount, r.Scope)
					}
				})
			}
			wg.Wait()
			require.EqualValues(t, l.Limits().AccountFreeFailures, passed.Load())
		})
	}
}

// TestAttackerCannotLockOutTheOwner: an address that used up its attempts on an account is
// refused even with the right password; the owner, from another address, gets in once the
// account's delay has passed.
func TestAttackerCannotLockOutTheOwner(t *testing.T) {
	t.Parallel()
	for name, rdb := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			l, c, _ := newLimiter(t, rdb)
			lim := l.Limits()
			const account = "Admin@Lablup.com"
			// The attacker guesses as fast as the account's delays allow, until its address is
			// blocked.
			var delays []time.Duration
			for range lim.AddressAttempts {
				_, r := l.Begin(ctx, attacker, account)
				if r != nil {
					require.Equal(t, authlimit.ScopeAccount, r.Scope)
					delays = append(delays, r.RetryAfter)
					c.Add(r.RetryAfter)
				}
			}
			// Exponential delays between the attempts past the free ones.
			require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, delays)
			_, r := l.Begin(ctx, attacker, "admin@lablup.com")
			require.NotNil(t, r, "the attacker's address is blocked, even for the right password")
			require.Equal(t, authlimit.ScopeAddress, r.Scope)
			_, r = l.Begin(ctx, attacker, "someone-else@lablup.com")
			require.NotNil(t, r, "for every account")

			// One more guess from elsewhere delays the account's next attempt.
			_, r = l.Begin(ctx, netip.MustParseAddr("198.51.100.8"), account)
			require.Nil(t, r)
			// The owner, from another address, waits for the account's delay and gets in.
			_, r = l.Begin(ctx, owner, "admin@lablup.com")
			require.NotNil(t, r)
			require.Equal(t, authlimit.ScopeAccount, r.Scope)
			require.Equal(t, 8*time.Second, r.RetryAfter)
			require.Equal(t, 8, r.RetryAfterSeconds())
			c.Add(r.RetryAfter)
			a, r := l.Begin(ctx, owner, "admin@lablup.com")
			require.Nil(t, r)
			a.Succeeded(ctx)
			// A success clears the account: no delay for its next attempts.
			for range lim.AccountFreeFailures - 1 {
				_, r = l.Begin(ctx, owner, "admin@lablup.com")
				require.Nil(t, r)
			}

			// The attacker's block ends with its window.
			c.Add(lim.AddressWindow)
			_, r = l.Begin(ctx, attacker, "someone-else@lablup.com")
			require.Nil(t, r)
		})
	}
}

// TestSuccessTakesItsAttemptBack: correct passwords do not use up the address's attempts,
// but only their own attempt is taken back (logging into one's own account does not reset
// the count of guesses at others).
func TestSuccessTakesItsAttemptBack(t *testing.T) {
	t.Parallel()
	for name, rdb := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			l, _, _ := newLimiter(t, rdb)
			lim := l.Limits()
			for range 3 * lim.AddressAttempts {
				a, r := l.Begin(ctx, owner, "me@example.com")
				require.Nil(t, r)
				a.Succeeded(ctx)
			}
			for i := range lim.AddressAttempts - 1 {
				_, r := l.Begin(ctx, attacker, fmt.Sprintf("victim%d@example.com", i))
				require.Nil(t, r)
				a, r := l.Begin(ctx, attacker, "me@example.com")
				require.Nil(t, r)
				a.Succeeded(ctx)
			}
			_, r := l.Begin(ctx, attacker, "victim@example.com")
			require.Nil(t, r, "the last attempt")
			_, r = l.Begin(ctx, attacker, "me@example.com")
			require.NotNil(t, r)
		})
	}
}

// TestIPv6PerPrefix: the addresses of one /64 share a count.
func TestIPv6PerPrefix(t *testing.T) {
	t.Parallel()
	require.Equal(t, "2001:db8:1:2::/64", authlimit.AddressKey(netip.MustParseAddr("2001:db8:1:2:aaaa::1")))
	require.Equal(t, "192.0.2.1", authlimit.AddressKey(netip.MustParseAddr("::ffff:192.0.2.1")))
	require.Equal(t, "unknown", authlimit.AddressKey(netip.Addr{}))
	l := authlimit.New(authlimit.Options{})
	for i := range l.Limits().AddressAttempts {
		addr := netip.MustParseAddr(fmt.Sprintf("2001:db8:1:2::%x", i+1))
		_, r := l.Begin(t.Context(), addr, fmt.Sprintf("u%d", i))
		require.Nil(t, r)
	}
	_, r := l.Begin(t.Context(), netip.MustParseAddr("2001:db8:1:2:ffff::1"), "x")
	require.NotNil(t, r)
	_, r = l.Begin(t.Context(), netip.MustParseAddr("2001:db8:1:3::1"), "x")
	require.Nil(t, r)
}

// TestRedisDownAnswersQuickly: with Redis unreachable, attempts do not wait on it.
func TestRedisDownAnswersQuickly(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: nettest.SilentServer(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	l, _, fallbacks := newLimiter(t, rdb)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for i := range 20 {
		_, r := l.Begin(ctx, attacker, fmt.Sprintf("u%d", i))
		require.NoError(t, ctx.Err(), "attempt %d waited on Redis", i)
		require.Equal(t, i >= l.Limits().AddressAttempts, r != nil)
	}
	require.EqualValues(t, 20, fallbacks.count(t))
}

// quietRedisLog drops go-redis's own log lines about the unreachable servers these tests use.
type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quietRedisLog{})
	m.Run()
}
