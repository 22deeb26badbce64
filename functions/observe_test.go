package functions_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/logctx"
	"github.com/hangar-run/hangar/internal/metricstest"
)

func TestRequestIDRoundTrip(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)

	res := env.Do(t, http.MethodGet, "/", nil, nil, "X-Request-Id: client-id-42")
	res.RequireStatus(t, http.StatusOK)
	require.Equal(t, "client-id-42", res.Header.Get("X-Request-Id"), "an incoming request id is echoed")

	res = env.Do(t, http.MethodGet, "/", nil, nil)
	require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{16}$`), res.Header.Get("X-Request-Id"), "one is generated when none is sent")

	for _, bad := range []string{strings.Repeat("x", 65), "has space", "tab\tinside"} {
		res = env.Do(t, http.MethodGet, "/", nil, nil, "X-Request-Id: "+bad)
		require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{16}$`), res.Header.Get("X-Request-Id"), "unusable id %q is replaced", bad)
	}

	// Errors carry it too.
	res = env.Do(t, http.MethodGet, "/no/such/path", nil, nil, "X-Request-Id: r-404")
	res.RequireStatus(t, http.StatusNotFound)
	require.Equal(t, "r-404", res.Header.Get("X-Request-Id"))
}

func TestRequestLogAttributes(t *testing.T) {
	t.Parallel()
	var got []map[string]string //nolint:prealloc
	seen := make(chan map[string]string, 8)
	env := functionstest.New(t, func(s *functions.Server) {
		s.Mux().HandleFunc("GET /test/log", func(w http.ResponseWriter, r *http.Request) {
			functions.SetOperation(r.Context(), "test-log")
			functions.LogAttrs(r.Context(), "session_id", "s-1")
			attrs := map[string]string{}
			for _, a := range logctx.Attrs(r.Context()) {
				attrs[a.Key] = a.Value.String()
			}
			seen <- attrs
			w.WriteHeader(http.StatusNoContent)
		})
	})
	res := env.Do(t, http.MethodGet, "/test/log", nil, nil, "X-Request-Id: r-log")
	res.RequireStatus(t, http.StatusNoContent)
	got = append(got, <-seen)
	require.Equal(t, map[string]string{"request_id": "r-log", "session_id": "s-1"}, got[0])

	fams := metricstest.ScrapeRegistry(t, env.Metrics)
	require.Equal(t, 1.0, fams.Value(t, "hangar_http_request_duration_seconds", map[string]string{"operation": "test-log", "status": "204"}))
}

func TestHTTPMetrics(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t)
	for range 3 {
		env.Do(t, http.MethodGet, "/", nil, nil).RequireStatus(t, http.StatusOK)
	}
	env.Do(t, http.MethodGet, "/auth/role", nil, nil).RequireStatus(t, http.StatusBadRequest) // no Date
	env.Do(t, http.MethodGet, "/auth/role", nil, &functionstest.User).RequireStatus(t, http.StatusOK)
	env.Do(t, http.MethodGet, "/no/such/path", nil, nil).RequireStatus(t, http.StatusNotFound)

	fams := metricstest.ScrapeRegistry(t, env.Metrics)
	const name = "hangar_http_request_duration_seconds"
	require.Equal(t, 3.0, fams.Value(t, name, map[string]string{"operation": "get-version", "status": "200"}))
	require.Equal(t, 1.0, fams.Value(t, name, map[string]string{"operation": "get-role", "status": "400"}))
	require.Equal(t, 1.0, fams.Value(t, name, map[string]string{"operation": "get-role", "status": "200"}))
	require.Equal(t, 1.0, fams.Value(t, name, map[string]string{"operation": functions.OtherOperation, "status": "404"}))
	require.NotEmpty(t, fams[name].GetMetric()[0].GetHistogram().GetBucket(), "a histogram with buckets")
}
