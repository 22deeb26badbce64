// Package cache keeps, in one API process, the answers of lookups that rarely change (the
// keypair and user of an access key, images and aliases, projects, scaling groups, resource
// policies), and drops them when the tables they were read from change.
//
// Every lookup names the tables it reads. Invalidate(table) drops every entry of every lookup
// that reads the table; the PostgreSQL triggers of migration 0009 announce each change to those
// tables on the NotifyChannel channel, and the API's listener (db.Listen) calls Invalidate for
// each notification and Flush whenever its connection is (re)established or lost, since
// notifications may have been missed in between. An entry also expires TTL after it was loaded,
// whatever happens, so the staleness bound is: a committed change is seen by the next lookup
// once its notification has arrived (milliseconds), and after at most TTL if notifications are
// lost.
//
// An invalidation that races with a lookup in flight wins: each lookup carries a generation
// counter, bumped by every invalidation, and a loaded answer is stored only if the generation
// did not move while it was loaded. Entries are bounded per lookup (least recently used first
// out, hashicorp/golang-lru's simplelru), so keys chosen by clients cannot grow memory without
// bound. Only successful loads are stored: an unknown key is asked for again each time, so a
// keypair or image created a moment ago works at once.
package cache

import (
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// NotifyChannel is the PostgreSQL notification channel the triggers announce changes on; the
// payload is the table name, optionally followed by ":" and a key.
const NotifyChannel = "hangar_cache"

// DefaultTTL is the longest an entry is served: the bound when notifications are lost.
const DefaultTTL = 5 * time.Second

// DefaultSize is the number of entries a lookup keeps when it does not say.
const DefaultSize = 4096

// Options configure a Cache.
type Options struct {
	// TTL is the longest an entry is served (DefaultTTL when zero).
	TTL time.Duration
	// Now is the clock (tests inject one); nil means time.Now.
	Now func() time.Time
}

// Cache is the set of an API process's lookups. A nil *Cache caches nothing: every lookup
// loads.
type Cache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	lookups map[string]invalidator
	byTable map[string][]invalidator
}

type invalidator interface{ invalidate() }

// New returns an empty cache.
func New(opts Options) *Cache {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Cache{ttl: opts.TTL, now: opts.Now, lookups: map[string]invalidator{}, byTable: map[string][]invalidator{}}
}

// TTL is the longest an entry is served.
func (c *Cache) TTL() time.Duration { return c.ttl }

// Invalidate drops the entries of every lookup that reads table. A payload of the form
// "table:key" is accepted too (the whole table is dropped).
func (c *Cache) Invalidate(table string) {
	if c == nil {
		return
	}
	table, _, _ = strings.Cut(table, ":")
	c.mu.Lock()
	ls := c.byTable[table]
	c.mu.Unlock()
	for _, l := range ls {
		l.invalidate()
	}
}

// Flush drops every entry of every lookup.
func (c *Cache) Flush() {
	if c == nil {
		return
	}
	c.mu.Lock()
	ls := make([]invalidator, 0, len(c.lookups))
	for _, l := range c.lookups {
		ls = append(ls, l)
	}
	c.mu.Unlock()
	for _, l := range ls {
		l.invalidate()
	}
}

// Lookup caches the answers of one kind of lookup by key.
type Lookup[K comparable, V any] struct {
	c *Cache

	mu      sync.Mutex
	gen     uint64
	entries *simplelru.LRU[K, entry[V]]
}

type entry[V any] struct {
	v      V
	expiry time.Time
}

// For returns the lookup named name of c, creating it on first use with room for size entries
// (DefaultSize when size <= 0) and the tables it reads. Every call for one name must give the
// same type parameters and tables. It returns nil, a lookup that caches nothing, when c is nil.
func For[K comparable, V any](c *Cache, name string, size int, tables ...string) *Lookup[K, V] {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.lookups[name]; ok {
		return l.(*Lookup[K, V])
	}
	if size <= 0 {
		size = DefaultSize
	}
	lru, err := simplelru.NewLRU[K, entry[V]](size, nil)
	if err != nil {
		panic(err) // only for size <= 0, excluded above
	}
	l := &Lookup[K, V]{c: c, entries: lru}
	c.lookups[name] = l
	for _, t := range tables {
		c.byTable[t] = append(c.byTable[t], l)
	}
	return l
}

// Get returns the answer for key: a stored one younger than the TTL, or load's, which is
// stored when load succeeds and no invalidation of the lookup happened meanwhile. On a nil
// lookup it calls load.
func (l *Lookup[K, V]) Get(key K, load func() (V, error)) (V, error) {
	if l == nil {
		return load()
	}
	now := l.c.now()
	l.mu.Lock()
	e, ok := l.entries.Get(key)
	gen := l.gen
	l.mu.Unlock()
	if ok && now.Before(e.expiry) {
		return e.v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	l.mu.Lock()
	if l.gen == gen {
		l.entries.Add(key, entry[V]{v: v, expiry: now.Add(l.c.ttl)})
	}
	l.mu.Unlock()
	return v, nil
}

// Len is the number of stored entries (expired ones included until they are replaced).
func (l *Lookup[K, V]) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.entries.Len()
}

func (l *Lookup[K, V]) invalidate() {
	l.mu.Lock()
	l.gen++
	l.entries.Purge()
	l.mu.Unlock()
}
