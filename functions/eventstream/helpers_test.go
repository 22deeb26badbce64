package eventstream_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/fixture"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const image = "cr.backend.ai/stable/python:3.9-ubuntu20.04"

// newEnv starts an API with one image (alias "python") so that sessions can be created.
func newEnv(t *testing.T) *functionstest.Env {
	t.Helper()
	env := functionstest.New(t)
	ctx := context.Background()
	var id string
	require.NoError(t, env.DB.Pool.QueryRow(ctx, `INSERT INTO images (name, image, tag, registry, architecture, resources)
		VALUES ($1, 'stable/python', '3.9-ubuntu20.04', 'cr.backend.ai', $2, '{"cpu":{"min":"1"},"mem":{"min":"256m"}}')
		RETURNING id`, image, hostArch()).Scan(&id))
	_, err := env.DB.Pool.Exec(ctx, `INSERT INTO image_aliases (alias, image) VALUES ('python', $1)
		ON CONFLICT (alias) DO UPDATE SET image = EXCLUDED.image`, id)
	require.NoError(t, err)
	return env
}

func hostArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return runtime.GOARCH
}

// createSession creates a PENDING session of the example user through POST /session and
// returns its id. It returns once the create's session_enqueued event has gone through the
// server's event hub, so that streams opened afterwards never see it.
func createSession(t *testing.T, env *functionstest.Env, name string) string {
	t.Helper()
	watch := env.Open(t, http.MethodGet, "/events/session", &functionstest.User)
	defer watch.Body.Close()
	all := readSSE(t, watch)
	res := env.Do(t, http.MethodPost, "/session", map[string]any{"name": name, "image": "python", "enqueueOnly": true}, &functionstest.User)
	res.RequireStatus(t, http.StatusCreated)
	var out struct {
		SessionID string `json:"sessionId"`
	}
	res.JSON(t, &out)
	require.NotEmpty(t, out.SessionID)
	for {
		m := all.nextEvent(t)
		if m.Event == "session_enqueued" && strings.Contains(m.Data, `"sessionId":"`+out.SessionID+`"`) {
			return out.SessionID
		}
	}
}

// insertSession stores a PENDING session with the given id and name for the example user
// with accessKey and userUUID, straight in the database (no events).
func insertSession(t *testing.T, env *functionstest.Env, id, name, accessKey, userUUID string) {
	t.Helper()
	_, err := env.DB.Pool.Exec(context.Background(), `
		INSERT INTO sessions (id, name, domain_name, group_id, user_uuid, access_key, scaling_group_name)
		VALUES ($1, $2, 'default', $3, $4, $5, 'default')`, id, name, fixture.DefaultProjectID, userUUID, accessKey)
	require.NoError(t, err)
}

// publish sends evs on env's events channel, the way workers do.
func publish(t *testing.T, env *functionstest.Env, evs ...events.Event) {
	t.Helper()
	require.NoError(t, events.NewPublisher(env.Redis, env.Deps.Enqueuer.Prefix()).Publish(t.Context(), evs...))
}

// ev builds an event of the example user's session sid in the default domain and project.
func ev(name, sid string) events.Event {
	return events.Event{
		Name: name, SessionID: sid, SessionName: "s-" + sid, KernelID: "k-" + sid, AccessKey: fixture.UserAccessKey,
		Domain: fixture.DefaultDomain, ProjectID: fixture.DefaultProjectID, Time: time.Now(),
	}
}

// message is one SSE message: an event with its data, or a comment.
type message struct {
	Event, Data, Comment string
	Raw                  string
}

// sse reads the messages of an event stream in the background.
type sse struct {
	msgs chan message
	// done is closed when the stream ended; err says how.
	done chan struct{}
	err  error
}

// openSSE opens path as a signed SSE request and checks that it is an event stream.
func openSSE(t *testing.T, env *functionstest.Env, path string, creds *auth.Credentials) *sse {
	t.Helper()
	res := env.Open(t, http.MethodGet, path, creds)
	return readSSE(t, res)
}

// readSSE starts reading an open event stream response.
func readSSE(t *testing.T, res *http.Response) *sse {
	t.Helper()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	s := &sse{msgs: make(chan message, 1024), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.msgs)
		br := bufio.NewReader(res.Body)
		var m message
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				if line != "" || m.Raw != "" {
					s.err = io.ErrUnexpectedEOF
				} else if err != io.EOF {
					s.err = err
				}
				return
			}
			m.Raw += line
			if !strings.HasSuffix(line, "\r\n") {
				s.err = io.ErrUnexpectedEOF // lines must end with CRLF
				return
			}
			line = strings.TrimSuffix(line, "\r\n")
			switch {
			case line == "":
				s.msgs <- m
				m = message{}
			case strings.HasPrefix(line, ": "):
				m.Comment = strings.TrimPrefix(line, ": ")
			case strings.HasPrefix(line, "event: "):
				m.Event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				m.Data = strings.TrimPrefix(line, "data: ")
			default:
				s.err = io.ErrUnexpectedEOF
				return
			}
		}
	}()
	return s
}

// next returns the next message; it fails the test when the stream ends or nothing arrives.
func (s *sse) next(t *testing.T) message {
	t.Helper()
	select {
	case m, ok := <-s.msgs:
		require.True(t, ok, "stream ended: %v", s.err)
		return m
	case <-time.After(20 * time.Second):
		require.FailNow(t, "no event within 20s")
	}
	return message{}
}

// nextEvent returns the next message that is not a comment.
func (s *sse) nextEvent(t *testing.T) message {
	t.Helper()
	for {
		if m := s.next(t); m.Comment == "" {
			return m
		}
	}
}

// requireEnd checks that the stream ends cleanly with no further message.
func (s *sse) requireEnd(t *testing.T) {
	t.Helper()
	select {
	case m, ok := <-s.msgs:
		require.False(t, ok, "unexpected message %+v", m)
		<-s.done
		require.NoError(t, s.err)
	case <-time.After(20 * time.Second):
		require.FailNow(t, "stream did not end within 20s")
	}
}
