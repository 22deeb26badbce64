package stacktest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/events"
)

// EventLog records the lifecycle events a Stack publishes from the moment it subscribed.
// It reads the Redis channel the API's event stream is fed from (events.Channel of the
// stack's prefix).
type EventLog struct {
	mu   sync.Mutex
	all  []events.Event
	wake chan struct{}
}

// Events subscribes to the stack's lifecycle events; the subscription ends with t.
func (s *Stack) Events(t testing.TB) *EventLog {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sub := s.Redis.Subscribe(ctx, events.Channel(s.Prefix))
	_, err := sub.Receive(ctx)
	require.NoError(t, err, "subscribe to %s", events.Channel(s.Prefix))
	l := &EventLog{wake: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range sub.Channel() {
			evs, err := events.Decode([]byte(m.Payload))
			if err != nil {
				continue
			}
			l.mu.Lock()
			l.all = append(l.all, evs...)
			close(l.wake)
			l.wake = make(chan struct{})
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = sub.Close()
		<-done
	})
	return l
}

// Of returns the events of session sid (an id) recorded so far, in order.
func (l *EventLog) Of(sid string) []events.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []events.Event
	for _, ev := range l.all {
		if ev.SessionID == sid {
			out = append(out, ev)
		}
	}
	return out
}

// Names returns the names of the events of session sid recorded so far, in order.
func (l *EventLog) Names(sid string) []string {
	var out []string
	for _, ev := range l.Of(sid) {
		out = append(out, ev.Name)
	}
	return out
}

// Wait waits until an event named name of session sid has been recorded and returns it.
func (l *EventLog) Wait(t testing.TB, sid, name string, timeout time.Duration) events.Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		for _, ev := range l.all {
			if ev.SessionID == sid && ev.Name == name {
				l.mu.Unlock()
				return ev
			}
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-wake:
		case <-deadline:
			t.Fatalf("stacktest: no %s event of session %s within %s; got %v", name, sid, timeout, l.Names(sid))
			return events.Event{}
		}
	}
}

// String lists every recorded event, for failure messages.
func (l *EventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := ""
	for _, ev := range l.all {
		out += fmt.Sprintf("%s %s %s %s\n", ev.SessionID, ev.Name, ev.Status, ev.Reason)
	}
	return out
}
