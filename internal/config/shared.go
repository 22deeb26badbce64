package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Shared is a live, read-only view of the shared configuration in one etcd namespace
// (config/..., manager/..., volumes/... and the rest). It loads the namespace once, then
// watches it and applies every change, so readers see updates without a restart. It is
// safe for concurrent use.
type Shared struct {
	etcd *Etcd

	mu     sync.RWMutex
	values map[string]string // namespace-relative key → value
	rev    int64
	subs   map[int]*subscriber
	hooks  map[int]func(key string)
	nextID int
	revCh  chan struct{} // closed and replaced whenever rev advances

	cancel context.CancelFunc
	done   chan struct{}
}

type subscriber struct {
	prefix string
	ch     chan struct{}
}

// NewShared loads every key of e's namespace and starts watching it. The watch runs until
// Close; ctx bounds only the initial load.
func NewShared(ctx context.Context, e *Etcd) (*Shared, error) {
	values, rev, err := e.getPairs(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("load shared config: %w", err)
	}
	watchCtx, cancel := context.WithCancel(context.Background())
	s := &Shared{
		etcd:   e,
		values: values,
		rev:    rev,
		subs:   map[int]*subscriber{},
		hooks:  map[int]func(string){},
		revCh:  make(chan struct{}),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go s.watch(watchCtx)
	return s, nil
}

// Close stops watching; the view keeps its last contents. It is safe to call more than
// once and always returns nil.
func (s *Shared) Close() error {
	s.cancel()
	<-s.done
	return nil
}

// watch follows the namespace from the loaded revision on, reloading after compaction and
// re-watching after errors.
func (s *Shared) watch(ctx context.Context) {
	defer close(s.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		s.mu.RLock()
		from := s.rev + 1
		s.mu.RUnlock()
		wch := s.etcd.cli.Watch(clientv3.WithRequireLeader(ctx), s.etcd.nsPrefix(),
			clientv3.WithPrefix(), clientv3.WithRev(from))
		for resp := range wch {
			if resp.CompactRevision != 0 || errors.Is(resp.Err(), rpctypes.ErrCompacted) {
				_ = s.reload(ctx)
				break
			}
			if resp.Err() != nil {
				break
			}
			s.apply(resp)
			backoff = 100 * time.Millisecond
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// apply records one watch response and notifies listeners of the changed keys. Events at
// or below the view's revision are already reflected (after a reload) and are skipped.
func (s *Shared) apply(resp clientv3.WatchResponse) {
	changed := make([]string, 0, len(resp.Events))
	s.mu.Lock()
	base, top := s.rev, s.rev
	for _, ev := range resp.Events {
		if ev.Kv.ModRevision <= base {
			continue
		}
		k := s.etcd.relKey(ev.Kv.Key)
		if ev.Type == clientv3.EventTypeDelete {
			delete(s.values, k)
		} else {
			s.values[k] = string(ev.Kv.Value)
		}
		changed = append(changed, k)
		top = max(top, ev.Kv.ModRevision)
	}
	s.advanceLocked(top)
	s.mu.Unlock()
	s.notify(changed)
}

// reload reads the whole namespace and replaces the view with it if it is newer.
func (s *Shared) reload(ctx context.Context) error {
	values, rev, err := s.etcd.getPairs(ctx, "")
	if err != nil {
		return err
	}
	var changed []string
	s.mu.Lock()
	if rev <= s.rev {
		s.mu.Unlock()
		return nil
	}
	for k, v := range values {
		if old, ok := s.values[k]; !ok || old != v {
			changed = append(changed, k)
		}
	}
	for k := range s.values {
		if _, ok := values[k]; !ok {
			changed = append(changed, k)
		}
	}
	s.values = values
	s.advanceLocked(rev)
	s.mu.Unlock()
	s.notify(changed)
	return nil
}

func (s *Shared) advanceLocked(rev int64) {
	if rev > s.rev {
		s.rev = rev
		close(s.revCh)
		s.revCh = make(chan struct{})
	}
}

// notify wakes the subscribers and calls the hooks interested in the changed keys.
func (s *Shared) notify(changed []string) {
	if len(changed) == 0 {
		return
	}
	s.mu.RLock()
	subs := make([]*subscriber, 0, len(s.subs))
	for _, sub := range s.subs {
		subs = append(subs, sub)
	}
	hookIDs := make([]int, 0, len(s.hooks))
	for id := range s.hooks {
		hookIDs = append(hookIDs, id)
	}
	sort.Ints(hookIDs)
	hooks := make([]func(string), 0, len(hookIDs))
	for _, id := range hookIDs {
		hooks = append(hooks, s.hooks[id])
	}
	s.mu.RUnlock()

	for _, sub := range subs {
		for _, k := range changed {
			if hasKeyPrefix(k, sub.prefix) {
				select {
				case sub.ch <- struct{}{}:
				default:
				}
				break
			}
		}
	}
	for _, k := range changed {
		for _, h := range hooks {
			h(k)
		}
	}
}

// hasKeyPrefix reports whether key is prefix or lies below it ("" matches everything).
func hasKeyPrefix(key, prefix string) bool {
	prefix = strings.Trim(prefix, "/")
	return prefix == "" || key == prefix || strings.HasPrefix(key, prefix+"/")
}

// Subscribe returns a channel that receives a signal after keys at or below prefix change
// ("" watches everything). Signals coalesce: one pending signal stands for any number of
// changes, so re-read the values on each. cancel stops the subscription; the channel is not
// closed.
func (s *Shared) Subscribe(prefix string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	id := s.nextID
	s.nextID++
	s.subs[id] = &subscriber{prefix: prefix, ch: ch}
	s.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.subs, id)
			s.mu.Unlock()
		})
	}
}

// OnChange registers fn to be called with each changed key (namespace-relative) after the
// view has been updated. fn runs on the watch goroutine and must not block. The returned
// function unregisters it.
func (s *Shared) OnChange(fn func(key string)) func() {
	s.mu.Lock()
	id := s.nextID
	s.nextID++
	s.hooks[id] = fn
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.hooks, id)
			s.mu.Unlock()
		})
	}
}

// Revision returns the etcd revision up to which the view is complete: the revision of the
// last change applied, or of the last full read.
func (s *Shared) Revision() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rev
}

// WaitRevision waits until the view reflects etcd revision rev or later, or ctx ends. rev
// should be the revision of a write to this namespace (for example from a put's response
// header); use Sync to catch up without one.
func (s *Shared) WaitRevision(ctx context.Context, rev int64) error {
	for {
		s.mu.RLock()
		cur, ch := s.rev, s.revCh
		s.mu.RUnlock()
		if cur >= rev {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for shared config revision %d (at %d): %w", rev, cur, ctx.Err())
		}
	}
}

// Sync brings the view up to date with every write made to etcd before the call, reading
// the namespace afresh when the watch has not delivered them yet.
func (s *Shared) Sync(ctx context.Context) error {
	if err := s.reload(ctx); err != nil {
		return fmt.Errorf("shared config sync: %w", err)
	}
	return nil
}

// Get returns the value at key (namespace-relative) and whether it exists.
func (s *Shared) Get(key string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.values[strings.Trim(key, "/")]
	return v, ok
}

// GetPrefix returns prefix and everything below it as nested maps, with the same rules as
// Etcd.GetPrefix.
func (s *Shared) GetPrefix(prefix string) map[string]any {
	prefix = strings.Trim(prefix, "/")
	pairs := map[string]string{}
	s.mu.RLock()
	for k, v := range s.values {
		if hasKeyPrefix(k, prefix) {
			pairs[k] = v
		}
	}
	s.mu.RUnlock()
	return nest(relativeTo(prefix, pairs))
}

// String returns the value at key, or def when it is absent.
func (s *Shared) String(key, def string) string {
	if v, ok := s.Get(key); ok {
		return v
	}
	return def
}

// Bool returns the value at key read as a boolean ("true", "1", "yes", "on" in any case are
// true; "false", "0", "no", "off" are false), or def when it is absent or unreadable.
func (s *Shared) Bool(key string, def bool) bool {
	v, ok := s.Get(key)
	if !ok {
		return def
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on", "y", "t":
		return true
	case "false", "0", "no", "off", "n", "f":
		return false
	}
	return def
}

// Int returns the value at key read as an integer, or def when it is absent or unreadable.
func (s *Shared) Int(key string, def int) int {
	v, ok := s.Get(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return def
	}
	return n
}

// Duration returns the value at key parsed with ParseDuration, or def when it is absent or
// unreadable.
func (s *Shared) Duration(key string, def time.Duration) time.Duration {
	v, ok := s.Get(key)
	if !ok {
		return def
	}
	d, err := ParseDuration(v)
	if err != nil {
		return def
	}
	return d
}

// ManagerStatus returns manager/status: "running" (the default) or "frozen".
func (s *Shared) ManagerStatus() string {
	if v, ok := s.Get("manager/status"); ok && v != "" {
		return v
	}
	return "running"
}

// Announcement returns manager/announcement, stored as JSON {"enabled": .., "message": ..};
// an absent or unreadable value means no announcement.
func (s *Shared) Announcement() (enabled bool, message string) {
	v, ok := s.Get("manager/announcement")
	if !ok {
		return false, ""
	}
	var a struct {
		Enabled bool   `json:"enabled"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(v), &a); err != nil {
		return false, ""
	}
	return a.Enabled, a.Message
}

// ResourceSlots returns the known resource slot types: the intrinsic cpu=count and
// mem=bytes, overridden and extended by config/resource_slots/<slot>.
func (s *Shared) ResourceSlots() map[string]string {
	out := map[string]string{"cpu": "count", "mem": "bytes"}
	for k, v := range s.GetPrefix("config/resource_slots") {
		if str, ok := v.(string); ok && k != "" {
			out[k] = str
		}
	}
	return out
}

// VFolderTypes returns the enabled vfolder types (the names present under volumes/_types/),
// sorted; ["user"] when none is set.
func (s *Shared) VFolderTypes() []string {
	types := make([]string, 0, 2)
	for k := range s.GetPrefix("volumes/_types") {
		if k != "" {
			types = append(types, k)
		}
	}
	if len(types) == 0 {
		return []string{"user"}
	}
	sort.Strings(types)
	return types
}

// DockerRegistries returns registry name → URL from config/docker/registry/<name>, where the
// URL is the value of the name key itself (shown as "" next to its sub-keys). Names are
// unquoted; registries without a URL are left out.
func (s *Shared) DockerRegistries() map[string]string {
	out := map[string]string{}
	for name, v := range s.GetPrefix("config/docker/registry") {
		switch v := v.(type) {
		case string:
			if v != "" && name != "" {
				out[name] = v
			}
		case map[string]any:
			if u, ok := v[""].(string); ok && u != "" {
				out[name] = u
			}
		}
	}
	return out
}

// Snapshot returns a copy of every key and value in the view.
func (s *Shared) Snapshot() map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return maps.Clone(s.values)
}
