package cache_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/cache"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// counter is a loader that counts its calls and answers with the count.
type counter struct{ n int }

func (c *counter) load() (int, error) { c.n++; return c.n, nil }

// TestTTLBound: an entry is served until TTL after it was loaded, on the injected clock, and
// loaded again from then on.
func TestTTLBound(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Unix(1000, 0)}
	c := cache.New(cache.Options{TTL: 5 * time.Second, Now: clk.Now})
	l := cache.For[string, int](c, "l", 0, "t")
	var ld counter
	v, _ := l.Get("k", ld.load)
	require.Equal(t, 1, v)
	clk.Add(5*time.Second - time.Nanosecond)
	v, _ = l.Get("k", ld.load)
	require.Equal(t, 1, v, "served from the cache within the TTL")
	clk.Add(time.Nanosecond)
	v, _ = l.Get("k", ld.load)
	require.Equal(t, 2, v, "loaded again once the TTL passed")
}

// TestInvalidateByTable: invalidating a table drops the entries of the lookups that read it
// (the "table:key" payload form too) and of no other; Flush drops all.
func TestInvalidateByTable(t *testing.T) {
	t.Parallel()
	c := cache.New(cache.Options{TTL: time.Hour})
	a := cache.For[string, int](c, "a", 0, "users", "keypairs")
	b := cache.For[string, int](c, "b", 0, "images")
	require.Same(t, a, cache.For[string, int](c, "a", 0, "users", "keypairs"), "one lookup per name")
	var la, lb counter
	get := func() (int, int) {
		va, _ := a.Get("k", la.load)
		vb, _ := b.Get("k", lb.load)
		return va, vb
	}
	va, vb := get()
	require.Equal(t, []int{1, 1}, []int{va, vb})
	c.Invalidate("keypairs")
	va, vb = get()
	require.Equal(t, []int{2, 1}, []int{va, vb})
	c.Invalidate("images:cr.backend.ai/python")
	va, vb = get()
	require.Equal(t, []int{2, 2}, []int{va, vb})
	c.Invalidate("sessions") // read by no lookup
	va, vb = get()
	require.Equal(t, []int{2, 2}, []int{va, vb})
	c.Flush()
	va, vb = get()
	require.Equal(t, []int{3, 3}, []int{va, vb})
}

// TestInvalidationDuringLoadWins: an answer loaded while an invalidation happened is returned
// but not stored, so the change is seen by the next lookup.
func TestInvalidationDuringLoadWins(t *testing.T) {
	t.Parallel()
	c := cache.New(cache.Options{TTL: time.Hour})
	l := cache.For[string, string](c, "l", 0, "keypairs")
	v, err := l.Get("k", func() (string, error) {
		c.Invalidate("keypairs") // the row changed after it was read
		return "stale", nil
	})
	require.NoError(t, err)
	require.Equal(t, "stale", v)
	require.Equal(t, 0, l.Len())
	v, _ = l.Get("k", func() (string, error) { return "fresh", nil })
	require.Equal(t, "fresh", v)
	v, _ = l.Get("k", func() (string, error) { return "unused", nil })
	require.Equal(t, "fresh", v)
}

// TestErrorsNotStored: a failed load (an unknown key, a database error) is asked again.
func TestErrorsNotStored(t *testing.T) {
	t.Parallel()
	c := cache.New(cache.Options{TTL: time.Hour})
	l := cache.For[string, int](c, "l", 0, "t")
	boom := errors.New("not found")
	_, err := l.Get("k", func() (int, error) { return 0, boom })
	require.ErrorIs(t, err, boom)
	v, err := l.Get("k", func() (int, error) { return 7, nil })
	require.NoError(t, err)
	require.Equal(t, 7, v)
}

// TestSizeBound: a lookup keeps at most its size, least recently used out first.
func TestSizeBound(t *testing.T) {
	t.Parallel()
	c := cache.New(cache.Options{TTL: time.Hour})
	l := cache.For[int, int](c, "l", 3, "t")
	for i := range 10 {
		_, _ = l.Get(i, func() (int, error) { return i, nil })
	}
	require.Equal(t, 3, l.Len())
}

// TestNilCache: without a cache every lookup loads.
func TestNilCache(t *testing.T) {
	t.Parallel()
	var c *cache.Cache
	l := cache.For[string, int](c, "l", 0, "t")
	var ld counter
	_, _ = l.Get("k", ld.load)
	v, _ := l.Get("k", ld.load)
	require.Equal(t, 2, v)
	c.Invalidate("t")
	c.Flush()
}
