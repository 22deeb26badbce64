// Package eventstream serves Hangar's Server-Sent Events streams: GET /events/session, the
// session and kernel lifecycle events of the sessions a caller may see.
//
// Events come from the process's events.Hub (one Redis subscription fanned out locally).
// A stream ends when the client goes away, when the API server shuts down, when the watched
// session ended (after an `event: server_close`), or when the stream fell too far behind the
// events and the hub dropped it. In the last two cases without server_close: the client has
// missed events and reconnects, as Backend.AI's client does on end of stream.
package eventstream

import (
	"time"

	"github.com/hangar-run/hangar/functions"
)

// tag groups the operations in the OpenAPI document.
const tag = "events"

// DefaultPingInterval is how often an idle stream sends a `: ping` comment (Backend.AI's
// aiohttp-sse default), so proxies and clients keep the connection open.
const DefaultPingInterval = 15 * time.Second

// Options tune the streams; the zero value means the defaults.
type Options struct {
	// PingInterval is the period of the `: ping` comment (DefaultPingInterval when zero).
	PingInterval time.Duration
}

// Register adds the event stream operations to s with the default options.
func Register(s *functions.Server) { RegisterWith(s, Options{}) }

// RegisterWith adds the event stream operations to s with o.
func RegisterWith(s *functions.Server, o Options) {
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	registerSessionEvents(s, o)
}
