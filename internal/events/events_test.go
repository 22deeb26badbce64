package events_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/halfstack"
)

func redisAddr() string {
	if a := os.Getenv("HANGAR_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:8110"
}

func prefix(t *testing.T) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "test-" + hex.EncodeToString(b) + ":"
}

func TestHubFansOutFilteredEventsInOrder(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr(), Password: halfstack.RedisPassword()})
	defer rdb.Close()
	p := prefix(t)
	hub, err := events.NewHub(ctx, rdb, p, nil)
	require.NoError(t, err)
	defer hub.Close()

	all := hub.Subscribe(nil)
	mine := hub.Subscribe(func(e *events.Event) bool { return e.SessionID == "s1" })
	gone := hub.Subscribe(nil)
	gone.Cancel()
	gone.Cancel()

	pub := events.NewPublisher(rdb, p)
	code := 3
	require.NoError(t, pub.Publish(ctx,
		events.Event{Name: events.SessionEnqueued, SessionID: "s1"},
		events.Event{Name: events.SessionEnqueued, SessionID: "s2"},
		events.Event{Name: events.SessionFailure, SessionID: "s1", ExitCode: &code},
	))
	// Another deployment's events never arrive.
	require.NoError(t, events.NewPublisher(rdb, prefix(t)).Publish(ctx, events.Event{Name: events.SessionStarted, SessionID: "s1"}))

	var got []string
	for range 3 {
		ev, ok := all.Wait(ctx)
		require.True(t, ok)
		got = append(got, ev.Name+"/"+ev.SessionID)
	}
	require.Equal(t, []string{"session_enqueued/s1", "session_enqueued/s2", "session_failure/s1"}, got)
	ev, ok := mine.Wait(ctx)
	require.True(t, ok)
	require.Equal(t, events.SessionEnqueued, ev.Name)
	ev, ok = mine.Wait(ctx)
	require.True(t, ok)
	require.Equal(t, 3, *ev.ExitCode)
	require.Equal(t, 3, ev.SSEData()["exitCode"])
	_, ok = <-gone.C
	require.False(t, ok)

	// Closing the hub closes every subscription.
	require.NoError(t, hub.Close())
	_, ok = <-all.C
	require.False(t, ok)
	require.False(t, all.Lagged())
}

func TestSlowSubscriberIsDroppedAsLagged(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr(), Password: halfstack.RedisPassword()})
	defer rdb.Close()
	p := prefix(t)
	hub, err := events.NewHub(ctx, rdb, p, nil)
	require.NoError(t, err)
	defer hub.Close()
	slow := hub.Subscribe(nil)
	evs := make([]events.Event, 300)
	for i := range evs {
		evs[i] = events.Event{Name: events.KernelStarted, SessionID: "x"}
	}
	require.NoError(t, events.NewPublisher(rdb, p).Publish(ctx, evs...))
	// Nobody reads, so the hub drops the subscriber once its buffer is full.
	require.Eventually(t, slow.Lagged, 15*time.Second, 5*time.Millisecond)
	n := 0
	for range slow.C {
		n++
	}
	require.Less(t, n, 300)
	require.True(t, slow.Lagged())
}

func TestSSEDataShape(t *testing.T) {
	t.Parallel()
	k := events.Event{Name: events.KernelStarted, SessionID: "s", SessionName: "n", KernelID: "k", AccessKey: "AK", ClusterRole: "main", Reason: "r"}
	require.Equal(t, map[string]any{"reason": "r", "sessionName": "n", "ownerAccessKey": "AK", "sessionId": "s", "kernelId": "k", "exitCode": nil, "clusterRole": "main"}, k.SSEData())
	s := k
	s.Name = events.SessionStarted
	require.NotContains(t, s.SSEData(), "clusterRole")
	require.True(t, events.IsSessionEnd(events.SessionCancelled))
	require.Len(t, events.Names(), 15)
}

func TestPublishSendsOneMessagePerBatch(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr(), Password: halfstack.RedisPassword()})
	defer rdb.Close()
	p := prefix(t)
	raw := rdb.Subscribe(ctx, events.Channel(p))
	defer raw.Close()
	_, err := raw.Receive(ctx)
	require.NoError(t, err)
	hub, err := events.NewHub(ctx, rdb, p, nil)
	require.NoError(t, err)
	defer hub.Close()
	all := hub.Subscribe(nil)

	// One event, MaxBatch+2 events in one call, one event: four messages in all (an object,
	// a full array, an array of 2, an object), and every event reaches the hub's subscriber
	// in order.
	got := make(chan []string)
	go func() {
		var ids []string
		for len(ids) < events.MaxBatch+4 {
			ev, ok := all.Wait(ctx)
			if !ok {
				break
			}
			ids = append(ids, ev.SessionID)
		}
		got <- ids
	}()
	pub := events.NewPublisher(rdb, p)
	require.NoError(t, pub.Publish(ctx, events.Event{Name: events.SessionEnqueued, SessionID: "first"}))
	want := []string{"first"}
	evs := make([]events.Event, events.MaxBatch+2)
	for i := range evs {
		evs[i] = events.Event{Name: events.KernelStarted, SessionID: fmt.Sprint(i)}
		want = append(want, fmt.Sprint(i))
	}
	require.NoError(t, pub.Publish(ctx, evs...))
	require.NoError(t, pub.Publish(ctx, events.Event{Name: events.SessionEnqueued, SessionID: "last"}))
	require.Equal(t, append(want, "last"), <-got)

	var sizes []int
	for len(sizes) < 4 {
		msg, err := raw.ReceiveMessage(ctx)
		require.NoError(t, err)
		got, err := events.Decode([]byte(msg.Payload))
		require.NoError(t, err)
		sizes = append(sizes, len(got))
	}
	require.Equal(t, []int{1, events.MaxBatch, 2, 1}, sizes)
}

func TestDecode(t *testing.T) {
	t.Parallel()
	one, err := events.Decode([]byte(`{"name":"session_started","session_id":"s"}`))
	require.NoError(t, err)
	require.Equal(t, []events.Event{{Name: events.SessionStarted, SessionID: "s"}}, one)
	two, err := events.Decode([]byte(` [{"name":"kernel_started","session_id":"a"},{"name":"session_started","session_id":"b"}]`))
	require.NoError(t, err)
	require.Len(t, two, 2)
	require.Equal(t, "b", two[1].SessionID)
	empty, err := events.Decode([]byte(`[]`))
	require.NoError(t, err)
	require.Empty(t, empty)
	for _, bad := range []string{``, `nope`, `[{"name":1}]`, `{"name":`, `[1,2]`} {
		_, err := events.Decode([]byte(bad))
		require.Error(t, err, "%q", bad)
	}
}
