package eventstream_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/eventstream"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/fixture"
)

// smallBufListener gives accepted connections a small send buffer, so that a client that
// does not read blocks the server's writes soon.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

func TestLaggingStreamEndsWithoutServerClose(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	srv := functions.NewServer(env.Deps)
	eventstream.Register(srv)
	srv.Finalize()
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Listener = smallBufListener{hs.Listener}
	hs.Start()
	t.Cleanup(hs.Close)

	const sid = "5b0c7d7e-3a55-4c1e-9f7e-0d6d3e0f4a11"
	insertSession(t, env, sid, "lagging", fixture.UserAccessKey, fixture.UserUUID)
	path := "/events/session?sessionId=" + sid
	// The slow client has a small receive buffer and reads nothing until every event went out.
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		return c, err
	}}
	t.Cleanup(tr.CloseIdleConnections)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, hs.URL+path, nil)
	require.NoError(t, err)
	require.NoError(t, functionstest.User.SignRequest(req, functions.APIVersion, time.Now()))
	res, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = res.Body.Close() })
	slow := readSSEPaused(t, res)

	// A second stream of the same events reads along; once it saw the last event, the hub
	// has handed every event to both subscribers.
	fast := openSSE(t, env, path, &functionstest.User)

	// Batches smaller than a subscriber's buffer, each read by the fast stream before the
	// next goes out: the fast stream keeps up, the slow one falls behind.
	const batches, size = 20, 100
	for b := range batches {
		evs := make([]events.Event, 0, size)
		for i := range size {
			e := ev(events.KernelPulling, sid)
			e.Reason = fmt.Sprintf("padding-%0200d", b*size+i)
			evs = append(evs, e)
		}
		publish(t, env, evs...)
		for range size {
			require.Equal(t, "kernel_pulling", fast.nextEvent(t).Event)
		}
	}
	publish(t, env, ev(events.SessionTerminated, sid))
	require.Equal(t, "session_terminated", fast.nextEvent(t).Event)
	require.Equal(t, eventstream.ServerClose, fast.nextEvent(t).Event)

	// The slow stream fell behind: it gets what was under way, then ends without
	// server_close, so its client reconnects.
	close(slow.resume)
	got := 0
	for m := range slow.msgs {
		require.Equal(t, "kernel_pulling", m.Event)
		got++
	}
	<-slow.done
	require.NoError(t, slow.err)
	require.Less(t, got, batches*size)
}

// pausedSSE is an sse whose reading starts when resume is closed.
type pausedSSE struct {
	*sse
	resume chan struct{}
}

// readSSEPaused checks the response like readSSE but reads its body only after resume.
func readSSEPaused(t *testing.T, res *http.Response) *pausedSSE {
	t.Helper()
	resume := make(chan struct{})
	pr := &pausedBody{r: res.Body, resume: resume}
	res.Body = pr
	return &pausedSSE{sse: readSSE(t, res), resume: resume}
}

type pausedBody struct {
	r interface {
		Read([]byte) (int, error)
		Close() error
	}
	resume chan struct{}
}

func (p *pausedBody) Read(b []byte) (int, error) {
	<-p.resume
	return p.r.Read(b)
}

func (p *pausedBody) Close() error { return p.r.Close() }
