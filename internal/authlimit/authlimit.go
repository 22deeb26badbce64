// Package authlimit limits password guessing. Every place that checks a password (the
// Backend.AI login POST /auth/authorize, the job dashboard's login, anything added later) asks
// one Limiter before it compares the password, and tells it when the password matched.
//
// Two limits apply, both kept in Redis so that every API replica shares them, and both
// checked and counted in one Lua script so that concurrent attempts cannot slip past a check
// before the others are counted:
//
//   - per source address, strict: at most Limits.AddressAttempts attempts that did not succeed
//     within Limits.AddressWindow (10 in 15 minutes by default); past that the address is
//     refused until its window ends. IPv6 clients are counted per /64, which one host usually
//     owns whole.
//   - per account (the e-mail address, whatever the domain), a slowdown rather than a lockout:
//     after Limits.AccountFreeFailures failures (5) each further attempt for the account must
//     wait an exponentially growing delay (1 s, 2 s, 4 s, … up to Limits.AccountMaxDelay,
//     1 minute). An attacker who spreads guesses over many addresses is slowed down, yet the
//     account's owner, from an address that is not blocked, gets in once the delay has passed.
//     The account's count is forgotten after Limits.AccountWindow without attempts, and reset
//     by a correct password.
//
// Every attempt is counted when it begins (so that concurrent attempts are counted before
// any of them is checked); a correct password takes its own attempt back.
//
// When Redis does not answer (within Options.RedisTimeout), the same limits are kept in the
// process's memory until it answers again: per process rather than shared, never switched
// off. Each such use is counted in Options.Fallbacks and logged at most once a minute.
package authlimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Limits are the numbers the limiter enforces.
type Limits struct {
	// AddressAttempts is how many unsuccessful attempts one source address may make within
	// AddressWindow.
	AddressAttempts int
	// AddressWindow is counted from the address's first attempt.
	AddressWindow time.Duration
	// AccountFreeFailures is how many failures an account takes before attempts for it are
	// delayed.
	AccountFreeFailures int
	// AccountBaseDelay is the first delay; each further failure doubles it.
	AccountBaseDelay time.Duration
	// AccountMaxDelay caps the delay.
	AccountMaxDelay time.Duration
	// AccountWindow is how long an account's failures are remembered after its last attempt.
	AccountWindow time.Duration
}

// DefaultLimits are the limits Hangar applies.
func DefaultLimits() Limits {
	return Limits{
		AddressAttempts:     10,
		AddressWindow:       15 * time.Minute,
		AccountFreeFailures: 5,
		AccountBaseDelay:    time.Second,
		AccountMaxDelay:     time.Minute,
		AccountWindow:       15 * time.Minute,
	}
}

// DefaultRedisTimeout bounds how long an attempt waits for Redis before the in-memory limits
// take over.
const DefaultRedisTimeout = 300 * time.Millisecond

// Options configure New.
type Options struct {
	// Limits; the zero value means DefaultLimits.
	Limits Limits
	// Redis holds the shared counts; nil keeps them in memory only.
	Redis redis.UniversalClient
	// Prefix is put in front of every Redis key.
	Prefix string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the "Redis unreachable" warning; nil means slog.Default().
	Logger *slog.Logger
	// Fallbacks counts the attempts limited in memory because Redis did not answer; may be nil.
	Fallbacks prometheus.Counter
	// RedisTimeout bounds each Redis call; 0 means DefaultRedisTimeout.
	RedisTimeout time.Duration
}

// Scope says which limit refused an attempt.
type Scope string

// The limits an attempt can be refused by.
const (
	ScopeAddress Scope = "address"
	ScopeAccount Scope = "account"
)

// Refusal is a refused attempt: the password must not be checked.
type Refusal struct {
	Scope      Scope
	RetryAfter time.Duration
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up, at least 1 (for a
// Retry-After header).
func (r *Refusal) RetryAfterSeconds() int {
	s := int(math.Ceil(r.RetryAfter.Seconds()))
	return max(s, 1)
}

// Limiter is the password-attempt limiter. It is safe for concurrent use.
type Limiter struct {
	o      Options
	mem    *memStore
	logMu  sync.Mutex
	logged time.Time
	missed int
	// downUntil skips Redis for a moment after it failed, so that an outage costs each
	// attempt nothing.
	downMu    sync.Mutex
	downUntil time.Time
}

// New returns a Limiter.
func New(o Options) *Limiter {
	if o.Limits == (Limits{}) {
		o.Limits = DefaultLimits()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RedisTimeout <= 0 {
		o.RedisTimeout = DefaultRedisTimeout
	}
	return &Limiter{o: o, mem: newMemStore()}
}

// Limits returns the limits in force.
func (l *Limiter) Limits() Limits { return l.o.Limits }

// Attempt is a password check the limiter let through. Call Succeeded when the password
// matched; a failed attempt needs nothing more (it was counted when it began).
type Attempt struct {
	l        *Limiter
	addrKey  string
	acctKey  string
	inMemory bool
}

// AddressKey is the part of addr the limiter counts by: the address itself for IPv4, its /64
// for IPv6.
func AddressKey(addr netip.Addr) string {
	addr = addr.Unmap()
	switch {
	case !addr.IsValid():
		return "unknown"
	case addr.Is6():
		p, _ := addr.Prefix(64)
		return p.String()
	default:
		return addr.String()
	}
}

// accountKey names the account without putting the user's input into a Redis key.
func accountKey(account string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(account))))
	return hex.EncodeToString(sum[:16])
}

// Begin counts an attempt to check account's password from addr. It returns the Attempt to
// report success on, or the Refusal when a limit is reached (then the password must not be
// checked).
func (l *Limiter) Begin(ctx context.Context, addr netip.Addr, account string) (*Attempt, *Refusal) {
	a := &Attempt{l: l, addrKey: AddressKey(addr), acctKey: accountKey(account)}
	now := l.o.Now()
	if l.useRedis() {
		var res []int64
		err := Bounded(ctx, l.o.RedisTimeout, func(ctx context.Context) error {
			var err error
			res, err = beginScript.Run(ctx, l.o.Redis, l.keys(a), l.args(now)...).Int64Slice()
			return err
		})
		if err == nil && len(res) == 2 {
			return refusal(a, res[0], res[1])
		}
		if ctx.Err() != nil {
			// The caller went away: refuse rather than check a password unlimited.
			return nil, &Refusal{Scope: ScopeAddress, RetryAfter: time.Second}
		}
		l.redisFailed(ctx, err)
	} else if l.o.Redis != nil {
		l.fellBack(ctx, nil)
	}
	a.inMemory = true
	code, wait := l.mem.begin(l.o.Limits, a.addrKey, a.acctKey, now)
	return refusal(a, code, wait)
}

func refusal(a *Attempt, code, waitMillis int64) (*Attempt, *Refusal) {
	wait := time.Duration(waitMillis) * time.Millisecond
	switch code {
	case 1:
		return nil, &Refusal{Scope: ScopeAddress, RetryAfter: wait}
	case 2:
		return nil, &Refusal{Scope: ScopeAccount, RetryAfter: wait}
	}
	return a, nil
}

// Succeeded takes the attempt back from its address's count and clears the account's
// failures.
func (a *Attempt) Succeeded(ctx context.Context) {
	l := a.l
	if !a.inMemory {
		err := Bounded(context.WithoutCancel(ctx), l.o.RedisTimeout, func(ctx context.Context) error {
			return succeedScript.Run(ctx, l.o.Redis, l.keys(a)).Err()
		})
		if err == nil {
			return
		}
		l.redisFailed(ctx, err)
	}
	l.mem.succeeded(a.addrKey, a.acctKey)
}

// Bounded runs fn with a context that ends after d, and returns context.DeadlineExceeded once
// d has passed even if fn has not returned: a Redis client that does not honour context
// deadlines on its network reads (go-redis without ContextTimeoutEnabled) cannot hold the
// caller longer than d. fn must not touch the caller's variables after it is abandoned, other
// than through what it writes before returning.
func Bounded(ctx context.Context, d time.Duration, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done: // finished at the same moment
			return err
		default:
			return ctx.Err()
		}
	}
}

func (l *Limiter) keys(a *Attempt) []string {
	return []string{l.o.Prefix + "authlimit:addr:" + a.addrKey, l.o.Prefix + "authlimit:acct:" + a.acctKey}
}

func (l *Limiter) args(now time.Time) []any {
	lim := l.o.Limits
	return []any{
		now.UnixMilli(),
		lim.AddressAttempts, lim.AddressWindow.Milliseconds(),
		lim.AccountFreeFailures, lim.AccountBaseDelay.Milliseconds(), lim.AccountMaxDelay.Milliseconds(),
		lim.AccountWindow.Milliseconds(),
	}
}

// useRedis reports whether to ask Redis (it is configured and did not just fail). The
// breaker and the log throttle run on the wall clock, not on Options.Now.
func (l *Limiter) useRedis() bool {
	if l.o.Redis == nil {
		return false
	}
	l.downMu.Lock()
	defer l.downMu.Unlock()
	return !time.Now().Before(l.downUntil)
}

// redisRetry is how long the limiter stays in memory after Redis failed before it tries again.
const redisRetry = time.Second

func (l *Limiter) redisFailed(ctx context.Context, err error) {
	l.downMu.Lock()
	l.downUntil = time.Now().Add(redisRetry)
	l.downMu.Unlock()
	l.fellBack(ctx, err)
}

// logEvery is the most often the fallback is logged.
const logEvery = time.Minute

func (l *Limiter) fellBack(ctx context.Context, err error) {
	now := time.Now()
	if l.o.Fallbacks != nil {
		l.o.Fallbacks.Inc()
	}
	l.logMu.Lock()
	l.missed++
	if !l.logged.IsZero() && now.Sub(l.logged) < logEvery {
		l.logMu.Unlock()
		return
	}
	n := l.missed
	l.logged, l.missed = now, 0
	l.logMu.Unlock()
	args := []any{"attempts", n}
	if err != nil {
		args = append(args, "err", err)
	}
	l.o.Logger.WarnContext(ctx, "password attempts limited in this process only: Redis unreachable", args...)
}

// beginScript counts an attempt. KEYS: address hash, account hash. ARGV: now (ms), address
// attempts, address window (ms), account free failures, base delay (ms), max delay (ms),
// account window (ms). Returns {0, 0} when allowed, {1, wait ms} when the address is
// refused, {2, wait ms} when the account must wait.
var beginScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local amax, awin = tonumber(ARGV[2]), tonumber(ARGV[3])
local free, base, cap, cwin = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local a = redis.call('HMGET', KEYS[1], 'n', 'reset')
local n, reset = tonumber(a[1]) or 0, tonumber(a[2]) or 0
if reset <= now then n = 0; reset = now + awin end
n = n + 1
redis.call('HSET', KEYS[1], 'n', n, 'reset', reset)
redis.call('PEXPIRE', KEYS[1], awin)
if n > amax then return {1, reset - now} end
local c = redis.call('HMGET', KEYS[2], 'fails', 'next', 'seen')
local fails, nxt, seen = tonumber(c[1]) or 0, tonumber(c[2]) or 0, tonumber(c[3]) or 0
if seen + cwin <= now then fails = 0; nxt = 0 end
if now < nxt then return {2, nxt - now} end
fails = fails + 1
if fails >= free then
  local d = cap
  if fails - free < 40 then d = math.min(cap, base * math.pow(2, fails - free)) end
  nxt = now + d
end
redis.call('HSET', KEYS[2], 'fails', fails, 'next', nxt, 'seen', now)
redis.call('PEXPIRE', KEYS[2], cwin)
return {0, 0}
`) //nolint:gochecknoglobals

// succeedScript takes an attempt back from the address and clears the account.
var succeedScript = redis.NewScript(`
local n = tonumber(redis.call('HGET', KEYS[1], 'n'))
if n and n > 0 then redis.call('HINCRBY', KEYS[1], 'n', -1) end
redis.call('DEL', KEYS[2])
return 0
`) //nolint:gochecknoglobals

// memStore is the in-process copy of the script's logic, used while Redis is unreachable.
type memStore struct {
	mu        sync.Mutex
	addrs     map[string]*memAddr
	accts     map[string]*memAcct
	lastSweep time.Time
}

type memAddr struct {
	n     int
	reset time.Time
}

type memAcct struct {
	fails int
	next  time.Time
	seen  time.Time
}

func newMemStore() *memStore {
	return &memStore{addrs: map[string]*memAddr{}, accts: map[string]*memAcct{}}
}

func (m *memStore) begin(lim Limits, addrKey, acctKey string, now time.Time) (code, waitMillis int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(lim, now)
	a := m.addrs[addrKey]
	if a == nil || !a.reset.After(now) {
		a = &memAddr{reset: now.Add(lim.AddressWindow)}
		m.addrs[addrKey] = a
	}
	a.n++
	if a.n > lim.AddressAttempts {
		return 1, a.reset.Sub(now).Milliseconds()
	}
	c := m.accts[acctKey]
	if c == nil || !c.seen.Add(lim.AccountWindow).After(now) {
		c = &memAcct{}
		m.accts[acctKey] = c
	}
	if now.Before(c.next) {
		return 2, c.next.Sub(now).Milliseconds()
	}
	c.fails++
	if c.fails >= lim.AccountFreeFailures {
		d := lim.AccountMaxDelay
		if e := c.fails - lim.AccountFreeFailures; e < 40 {
			d = min(d, lim.AccountBaseDelay*time.Duration(int64(1)<<e))
		}
		c.next = now.Add(d)
	}
	c.seen = now
	return 0, 0
}

func (m *memStore) succeeded(addrKey, acctKey string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.addrs[addrKey]; a != nil && a.n > 0 {
		a.n--
	}
	delete(m.accts, acctKey)
}

// sweep drops expired entries, at most once a minute.
func (m *memStore) sweep(lim Limits, now time.Time) {
	if now.Sub(m.lastSweep) < time.Minute && now.After(m.lastSweep) {
		return
	}
	m.lastSweep = now
	for k, a := range m.addrs {
		if !a.reset.After(now) {
			delete(m.addrs, k)
		}
	}
	for k, c := range m.accts {
		if !c.seen.Add(lim.AccountWindow).After(now) && !c.next.After(now) {
			delete(m.accts, k)
		}
	}
}

// String describes the limits, for logs.
func (lim Limits) String() string {
	return strconv.Itoa(lim.AddressAttempts) + " attempts per address per " + lim.AddressWindow.String() +
		"; accounts slowed after " + strconv.Itoa(lim.AccountFreeFailures) + " failures (up to " +
		lim.AccountMaxDelay.String() + " between attempts)"
}
