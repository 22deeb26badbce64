package eventstream

import (
	"github.com/hangar-run/hangar/internal/events"
)

// Event scopes of GET /events/session.
const (
	scopeAll     = "*"
	scopeSession = "session"
	scopeKernel  = "kernel"
)

// filter decides which events a stream sends. Its zero value passes everything.
type filter struct {
	// ownKey, when set, limits the stream to sessions of that access key (role user).
	ownKey string
	// domain, when set, limits the stream to sessions of that domain (domain admins).
	domain string
	// projects, when non-nil, limits the stream to sessions of these project ids.
	projects map[string]bool
	// sessionID, when set, limits the stream to one session.
	sessionID string
	// name and owner, when name is set, limit the stream to sessions of that name and owner.
	name, owner string
	// scope keeps session_* events, kernel_* events, or both.
	scope string
}

// watches reports whether the filter names one session, whose end ends the stream.
func (f *filter) watches() bool { return f.sessionID != "" || f.name != "" }

// match reports whether ev concerns a session the stream is about, whatever its scope. The
// subscription uses it, so that the end of a watched session is seen even when the scope hides
// session events.
func (f *filter) match(ev *events.Event) bool {
	if f.ownKey != "" && ev.AccessKey != f.ownKey {
		return false
	}
	if f.domain != "" && ev.Domain != f.domain {
		return false
	}
	if f.projects != nil && !f.projects[ev.ProjectID] {
		return false
	}
	if f.sessionID != "" {
		return ev.SessionID == f.sessionID
	}
	if f.name != "" && (ev.SessionName != f.name || ev.AccessKey != f.owner) {
		return false
	}
	return true
}

// inScope reports whether a matching event is sent to the client.
func (f *filter) inScope(ev *events.Event) bool {
	switch f.scope {
	case scopeSession:
		return events.IsSessionEvent(ev.Name)
	case scopeKernel:
		return events.IsKernelEvent(ev.Name)
	}
	return events.IsSessionEvent(ev.Name) || events.IsKernelEvent(ev.Name)
}

// terminal reports whether a session status is one a session never leaves.
func terminal(status string) bool {
	switch status {
	case "TERMINATED", "CANCELLED", "ERROR":
		return true
	}
	return false
}

// endsSession reports whether ev is the last event of its session: session_terminated or
// session_cancelled (a result event, session_success or session_failure, comes before
// session_terminated).
func endsSession(ev *events.Event) bool { return events.IsSessionEnd(ev.Name) }
