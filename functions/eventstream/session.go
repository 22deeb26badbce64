package eventstream

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/events"
)

// ServerClose is the event that tells a client the stream is over for good, so it must not
// reconnect.
const ServerClose = "server_close"

type sessionEventsInput struct {
	Body struct {
		Name           *string `json:"name,omitempty" doc:"Only events of sessions with this name (and owner); \"*\" for all. Alias: sessionName." example:"my-session"`
		OwnerAccessKey *string `json:"ownerAccessKey,omitempty" nullable:"true" doc:"Owner of the named session (default: the caller's access key). Users may give only their own."`
		SessionID      *string `json:"sessionId,omitempty" nullable:"true" format:"uuid" doc:"Only events of this session; overrides name and ownerAccessKey."`
		Group          *string `json:"group,omitempty" doc:"Only events of sessions in the project with this name; \"*\" for all. Alias: groupName." example:"default"`
		Scope          *string `json:"scope,omitempty" enum:"*,session,kernel" doc:"Which events to send: \"session\" (session_*), \"kernel\" (kernel_*) or \"*\" (both, the default)."`
	} `required:"false"`
}

func registerSessionEvents(s *functions.Server, o Options) {
	op := functions.Op(functions.OpSpec{
		ID: "stream-session-events", Method: http.MethodGet, Path: "/events/session", Tag: tag,
		Summary: "Stream session and kernel lifecycle events (SSE)",
		Description: "A `text/event-stream` of the lifecycle events of the sessions the caller may see: users their " +
			"own, domain admins their domain's, superadmins all. Each message is `event: <name>` with " +
			"`data: {\"reason\", \"sessionName\", \"ownerAccessKey\", \"sessionId\", \"exitCode\", \"kernelId\"}` " +
			"(plus `clusterRole` and `clusterIdx` on kernel events when set); lines end with CRLF and an idle " +
			"stream sends a `: ping` comment every 15 s.\n\n" +
			"When the parameters name one session (sessionId, or name with its owner), a session the caller " +
			"cannot see or that does not exist is 404 object-not-found; otherwise the stream sends " +
			"`event: server_close` with data `{}` and ends once that session has ended (at once if it had ended " +
			"already). A stream that ends without server_close (server shutdown, or the stream fell too far " +
			"behind the events and missed some) is to be reopened by the client.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{403, 404, 503},
		Aliases: functions.Aliases{{"name", "sessionName"}, {"group", "groupName"}},
	})
	op.Responses = map[string]*huma.Response{"200": {
		Description: "An event stream.",
		Content: map[string]*huma.MediaType{"text/event-stream": {
			Schema: &huma.Schema{Type: "string", Description: "Server-Sent Events, CRLF-separated."},
		}},
	}}
	huma.Register(s.API(), op, func(ctx context.Context, in *sessionEventsInput) (*huma.StreamResponse, error) {
		hub := s.Deps().Events
		if hub == nil {
			return nil, functions.ErrServiceUnavailable("Event streaming is not available.")
		}
		f, err := newFilter(ctx, s, functions.IdentityFrom(ctx), in)
		if err != nil {
			return nil, err
		}
		release, err := s.AcquireStream(ctx, functions.StreamSSE)
		if err != nil {
			return nil, err
		}
		// Subscribe before looking at the database, so that a session ending in between is
		// seen one way or the other.
		sub := hub.Subscribe(f.match)
		ended := false
		if f.watches() {
			found := false
			found, ended, err = watched(ctx, s, f)
			if err == nil && !found {
				err = functions.ErrObjectNotFound("session", "")
			}
			if err != nil {
				sub.Cancel()
				release()
				return nil, err
			}
		}
		st := &stream{s: s, f: f, sub: sub, release: release, ping: o.PingInterval, ended: ended}
		return &huma.StreamResponse{Body: st.serve}, nil
	})
}

// first returns the first of vals that is given, or "".
func first(vals ...*string) string {
	for _, v := range vals {
		if v != nil {
			return *v
		}
	}
	return ""
}

// newFilter checks the parameters against the caller's role and turns them into a filter.
func newFilter(ctx context.Context, s *functions.Server, id *functions.Identity, in *sessionEventsInput) (*filter, error) {
	p := &in.Body
	f := &filter{scope: first(p.Scope)}
	owner := first(p.OwnerAccessKey)
	if owner == "" {
		owner = id.AccessKey
	}
	switch {
	case id.IsSuperadmin():
	case id.IsDomainAdmin():
		f.domain = id.Domain()
	default:
		// Users, and any other role that is not an admin, see their own sessions only.
		if owner != id.AccessKey {
			return nil, functions.ErrGenericForbidden("You may only watch your own sessions.")
		}
		f.ownKey = id.AccessKey
	}
	if sid := first(p.SessionID); sid != "" {
		u, err := uuid.Parse(sid)
		if err != nil {
			return nil, functions.ErrInvalidAPIParams("Missing or invalid API parameters.", map[string]string{"sessionId": "invalid UUID"})
		}
		f.sessionID = u.String()
	} else if name := first(p.Name); name != "" && name != "*" {
		f.name, f.owner = name, owner
	}
	if group := first(p.Group); group != "" && group != "*" {
		params := &dbsqlc.GroupIDsByNameParams{Name: group}
		if !id.IsSuperadmin() {
			dom := id.Domain()
			params.DomainName = &dom
		}
		ids, err := db.Q.GroupIDsByName(ctx, s.Deps().Pool, params)
		if err != nil {
			return nil, functions.FromDB(err, "user group (or project)")
		}
		if len(ids) == 0 {
			return nil, functions.ErrObjectNotFound("user group (or project)", "")
		}
		f.projects = make(map[string]bool, len(ids))
		for _, g := range ids {
			f.projects[g.String()] = true
		}
	}
	return f, nil
}

// watched looks up the one session f watches, as far as the caller may see it: by id, that
// session; by name, the owner's sessions of that name. found is false when there is none (the
// stream is then a 404, as for any unknown session); ended is true when all of them ended.
func watched(ctx context.Context, s *functions.Server, f *filter) (found, ended bool, err error) {
	pool := s.Deps().Pool
	var ids []uuid.UUID
	if f.sessionID != "" {
		ids = []uuid.UUID{uuid.MustParse(f.sessionID)}
	} else {
		rows, err := db.Q.SessionMatch(ctx, pool, &dbsqlc.SessionMatchParams{AccessKey: f.owner, Name: f.name, AllowStale: true})
		if err != nil {
			return false, false, functions.FromDB(err, "session")
		}
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
	}
	ended = true
	for _, sid := range ids {
		row, err := db.Q.SessionGetInfo(ctx, pool, sid)
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, false, functions.FromDB(err, "session")
		}
		if !f.match(&events.Event{
			SessionID: row.ID.String(), SessionName: row.Name, AccessKey: row.AccessKey,
			Domain: row.DomainName, ProjectID: row.GroupID.String(),
		}) {
			continue
		}
		found = true
		ended = ended && terminal(row.Status)
	}
	return found, found && ended, nil
}

// stream is one open /events/session response.
type stream struct {
	s     *functions.Server
	f     *filter
	sub   *events.Subscription
	ping  time.Duration
	ended bool
	// release gives the stream's slot back (functions.Server.AcquireStream).
	release func()

	w  http.ResponseWriter
	rc *http.ResponseController
}

// serve writes the stream until it ends (see the package doc for when).
func (st *stream) serve(hctx huma.Context) {
	defer st.release()
	defer st.sub.Cancel()
	r, w := humago.Unwrap(hctx)
	st.w, st.rc = w, http.NewResponseController(w)
	// The stream is long-lived: no deadline applies to it. huma set a read deadline for the
	// parameters (the operation's BodyReadTimeout); left in place, it would cancel the request
	// context when it passes.
	_ = st.rc.SetReadDeadline(time.Time{})
	_ = st.rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if st.ended {
		_ = st.write(ServerClose, []byte("{}"))
		return
	}
	if err := st.rc.Flush(); err != nil {
		return
	}
	ctx := r.Context()
	ticker := time.NewTicker(st.ping)
	defer ticker.Stop()
	log := st.s.Deps().Log()
	for {
		select {
		case <-ctx.Done():
			return
		case <-st.s.Done():
			return
		case <-ticker.C:
			if err := st.comment("ping"); err != nil {
				return
			}
		case ev, ok := <-st.sub.C:
			if !ok {
				if st.sub.Lagged() {
					// The client missed events: end without server_close so that it
					// reconnects (and re-reads what it needs).
					log.Warn("session event stream fell behind; closing it", "request_id", functions.RequestID(ctx))
				}
				return
			}
			if st.f.inScope(&ev) {
				data, err := json.Marshal(ev.SSEData())
				if err != nil {
					log.Error("encode session event", "err", err, "event", ev.Name)
					continue
				}
				if err := st.write(ev.Name, data); err != nil {
					return
				}
			}
			if st.f.watches() && endsSession(&ev) {
				_ = st.write(ServerClose, []byte("{}"))
				return
			}
		}
	}
}

// write sends one event and flushes it.
func (st *stream) write(name string, data []byte) error {
	buf := make([]byte, 0, len(name)+len(data)+20)
	buf = append(buf, "event: "...)
	buf = append(buf, name...)
	buf = append(buf, "\r\ndata: "...)
	buf = append(buf, data...)
	buf = append(buf, "\r\n\r\n"...)
	if _, err := st.w.Write(buf); err != nil {
		return err
	}
	return st.rc.Flush()
}

// comment sends an SSE comment line and flushes it.
func (st *stream) comment(text string) error {
	if _, err := st.w.Write([]byte(": " + text + "\r\n\r\n")); err != nil {
		return err
	}
	return st.rc.Flush()
}
