package events

import (
	"context"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
)

// subscriberBuffer is how many events a subscriber may fall behind before it is dropped.
const subscriberBuffer = 256

// Hub holds one Redis subscription for its process and fans the events out to local
// subscribers, so that a thousand waiting requests cost one Redis connection. It is safe for
// concurrent use.
type Hub struct {
	pubsub *redis.PubSub
	logger *slog.Logger

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
	done   chan struct{}
}

// Subscription receives the events its filter accepts on C. C is closed when the
// subscription is cancelled, when the hub closes, or when the subscriber fell more than a
// buffer behind (Lagged then reports true): it has then missed events and must re-read the
// database.
type Subscription struct {
	C      <-chan Event
	c      chan Event
	filter func(*Event) bool
	hub    *Hub
	lagged bool
}

// NewHub subscribes to the deployment's channel on rdb and starts fanning out. It returns once
// Redis confirmed the subscription, so events published after NewHub returns are delivered.
func NewHub(ctx context.Context, rdb redis.UniversalClient, prefix string, logger *slog.Logger) (*Hub, error) {
	if logger == nil {
		logger = slog.Default()
	}
	ps := rdb.Subscribe(ctx, Channel(prefix))
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return nil, err
	}
	h := &Hub{pubsub: ps, logger: logger, subs: make(map[*Subscription]struct{}), done: make(chan struct{})}
	go h.run()
	return h, nil
}

func (h *Hub) run() {
	defer close(h.done)
	for msg := range h.pubsub.Channel(redis.WithChannelSize(1024)) {
		evs, err := Decode([]byte(msg.Payload))
		if err != nil {
			h.logger.Warn("events: undecodable event", "err", err)
			continue
		}
		h.dispatch(evs)
	}
}

// dispatch hands each event of one message to the subscribers that accept it, in order.
func (h *Hub) dispatch(evs []Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range evs {
		ev := &evs[i]
		for s := range h.subs {
			if s.filter != nil && !s.filter(ev) {
				continue
			}
			select {
			case s.c <- *ev:
			default:
				s.lagged = true
				delete(h.subs, s)
				close(s.c)
			}
		}
	}
}

// Subscribe returns a subscription to the events filter accepts (all when filter is nil).
// Cancel it when done. The filter runs on the hub's goroutine and must be quick.
func (h *Hub) Subscribe(filter func(*Event) bool) *Subscription {
	c := make(chan Event, subscriberBuffer)
	s := &Subscription{C: c, c: c, filter: filter, hub: h}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(c)
		return s
	}
	h.subs[s] = struct{}{}
	return s
}

// Cancel ends the subscription and closes C. It is safe to call more than once.
func (s *Subscription) Cancel() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.c)
	}
}

// Lagged reports whether the subscription was dropped for falling behind.
func (s *Subscription) Lagged() bool {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.lagged
}

// Close ends the Redis subscription and closes every subscriber's channel.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	for s := range h.subs {
		delete(h.subs, s)
		close(s.c)
	}
	h.mu.Unlock()
	err := h.pubsub.Close()
	<-h.done
	return err
}

// Wait blocks until the subscription's next event arrives, ctx ends, or the subscription is
// lost; it returns the event and true, or false.
func (s *Subscription) Wait(ctx context.Context) (Event, bool) {
	select {
	case ev, ok := <-s.C:
		return ev, ok
	case <-ctx.Done():
		return Event{}, false
	}
}
