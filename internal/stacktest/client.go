package stacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/fixture"
)

// The example keypairs the fixtures load.
var (
	Superadmin  = auth.Credentials{AccessKey: fixture.SuperadminAccessKey, SecretKey: fixture.SuperadminSecretKey}   //nolint:gochecknoglobals // read-only
	DomainAdmin = auth.Credentials{AccessKey: fixture.DomainAdminAccessKey, SecretKey: fixture.DomainAdminSecretKey} //nolint:gochecknoglobals // read-only
	User        = auth.Credentials{AccessKey: fixture.UserAccessKey, SecretKey: fixture.UserSecretKey}               //nolint:gochecknoglobals // read-only
	User2       = auth.Credentials{AccessKey: fixture.User2AccessKey, SecretKey: fixture.User2SecretKey}             //nolint:gochecknoglobals // read-only
)

// ProblemBase prefixes the Backend.AI error type slugs of problem+json answers.
const ProblemBase = "https://api.backend.ai/probs/"

// Problem is a problem+json error body.
type Problem struct {
	// Type is ProblemBase plus the Backend.AI error slug.
	Type string `json:"type"`
	// Title is the error's title ("No such session.").
	Title string `json:"title"`
	// Status is the HTTP status.
	Status int `json:"status"`
	// Msg and Detail explain the error.
	Msg    string `json:"msg"`
	Detail string `json:"detail"`
	// Data holds the error's extra data, if any.
	Data map[string]any `json:"data"`
}

// Response is a recorded answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body, v), "body: %s", r.Body)
}

// RequireStatus checks the status.
func (r *Response) RequireStatus(t testing.TB, status int) {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
}

// RequireProblem checks the status, the problem+json content type and the Backend.AI error
// type slug ("object-not-found"), and returns the problem.
func (r *Response) RequireProblem(t testing.TB, status int, slug string) Problem {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), "body: %s", r.Body)
	var p Problem
	r.JSON(t, &p)
	require.Equal(t, ProblemBase+slug, p.Type, "body: %s", r.Body)
	return p
}

// client is the HTTP client of every Stack: requests that wait for a session may take long.
var client = &http.Client{Timeout: 2 * time.Minute} //nolint:gochecknoglobals // stateless

// Do sends a request to the API, signed with creds (unsigned when creds is nil). body is
// JSON-encoded unless it is nil, a string or []byte. Extra headers are "Name: value" strings.
// A transport failure fails t.
func (s *Stack) Do(t testing.TB, method, path string, body any, creds *auth.Credentials, headers ...string) *Response {
	t.Helper()
	res, err := s.Request(method, path, body, creds, headers...)
	require.NoError(t, err)
	return res
}

// Request is Do without a test: for goroutines, which must not fail a test themselves.
func (s *Stack) Request(method, path string, body any, creds *auth.Credentials, headers ...string) (*Response, error) {
	if s.Endpoint == "" {
		return nil, fmt.Errorf("stacktest: the stack runs no API")
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encode body: %w", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.Endpoint+path, rd)
	if err != nil {
		return nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if creds != nil {
		if err := creds.SignRequest(req, s.APIVersion, time.Now()); err != nil {
			return nil, fmt.Errorf("sign: %w", err)
		}
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: out}, nil
}

// Eventually polls cond every 25 ms until it returns true, failing t with what cond last
// said when timeout passes. It is the way to wait for state: never sleep.
func Eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, what := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stacktest: not reached within %s: %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Session is a session's row as the tests read it.
type Session struct {
	ID         string
	Name       string
	Status     string
	StatusInfo string
	StatusData map[string]any
	Result     string
}

// Session reads the session ref (an id or a name, the newest of that name).
func (s *Stack) Session(t testing.TB, ref string) Session {
	t.Helper()
	var out Session
	var info *string
	var data []byte
	err := s.DB.QueryRow(context.Background(), `
		SELECT id::text, name, status::text, status_info, status_data, result::text FROM sessions
		WHERE id::text = $1 OR name = $1 ORDER BY created_at DESC LIMIT 1`, ref).
		Scan(&out.ID, &out.Name, &out.Status, &info, &data, &out.Result)
	require.NoError(t, err, "session %s", ref)
	if info != nil {
		out.StatusInfo = *info
	}
	require.NoError(t, json.Unmarshal(data, &out.StatusData))
	return out
}

// WaitSession waits until session ref has one of statuses and returns it.
func (s *Stack) WaitSession(t testing.TB, ref string, timeout time.Duration, statuses ...string) Session {
	t.Helper()
	var last Session
	Eventually(t, timeout, func() (bool, string) {
		last = s.Session(t, ref)
		for _, st := range statuses {
			if last.Status == st {
				return true, ""
			}
		}
		return false, fmt.Sprintf("session %s is %s (%s), want one of %v", ref, last.Status, last.StatusInfo, statuses)
	})
	return last
}

// Occupied returns the sum of agent_slots.occupied per agent and slot ("agent/slot").
func (s *Stack) Occupied(t testing.TB) map[string]string {
	t.Helper()
	rows, err := s.DB.Query(context.Background(), `SELECT agent_id, slot, occupied::text FROM agent_slots ORDER BY 1, 2`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var agent, slot, occ string
		require.NoError(t, rows.Scan(&agent, &slot, &occ))
		out[agent+"/"+slot] = occ
	}
	require.NoError(t, rows.Err())
	return out
}

// ConsistencySQL counts the agent_slots rows that break the slot invariant: occupied must
// equal the sum of the occupied slots of the agent's kernels that hold a reservation, and
// must not exceed capacity.
const ConsistencySQL = `
	WITH k AS (
		SELECT agent, key AS slot, sum(value::numeric) AS total
		FROM kernels, jsonb_each_text(occupied_slots)
		WHERE slots_reserved GROUP BY agent, key
	)
	SELECT count(*) FROM agent_slots s LEFT JOIN k ON k.agent = s.agent_id AND k.slot = s.slot
	WHERE s.occupied <> COALESCE(k.total, 0) OR s.occupied > s.capacity`

// RequireConsistent checks the slot invariant of ConsistencySQL.
func (s *Stack) RequireConsistent(t testing.TB) {
	t.Helper()
	var bad int
	require.NoError(t, s.DB.QueryRow(context.Background(), ConsistencySQL).Scan(&bad))
	if bad > 0 {
		t.Fatalf("stacktest: %d agent_slots rows differ from their reserved kernels' sum or exceed capacity: %v", bad, s.Occupied(t))
	}
}

// RequireIdle checks that no agent has any slot occupied and no kernel holds a reservation.
func (s *Stack) RequireIdle(t testing.TB) {
	t.Helper()
	var busy, reserved int
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*) FROM agent_slots WHERE occupied <> 0`).Scan(&busy))
	require.NoError(t, s.DB.QueryRow(context.Background(), `SELECT count(*) FROM kernels WHERE slots_reserved`).Scan(&reserved))
	if busy > 0 || reserved > 0 {
		t.Fatalf("stacktest: %d agent slots still occupied, %d kernels still reserved: %v", busy, reserved, s.Occupied(t))
	}
}
