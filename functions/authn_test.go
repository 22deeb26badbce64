package functions_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/functionstest"
)

// TestAuthorizationInvalidAccessKey: an access key with invalid UTF-8 or other bytes no key
// has is a 400 before any lookup (PostgreSQL refuses such text), never a 500; an over-long
// one is simply not found.
func TestAuthorizationInvalidAccessKey(t *testing.T) {
	t.Parallel()
	env := functionstest.New(t, testOps)
	date := "Date: " + time.Now().UTC().Format(http.TimeFormat)
	sig := strings.Repeat("ab", 32)
	for _, key := range []string{"\xff\xfe", "AK\xc3\x28", "AK\u00e9"} {
		p := env.Do(t, http.MethodGet, "/t/echo", nil, nil, date, "X-BackendAI-Version: v8.20240315",
			"Authorization: BackendAI signMethod=HMAC-SHA256, credential="+key+":"+sig).
			RequireProblem(t, http.StatusBadRequest, "invalid-auth-params")
		require.Equal(t, "Missing or malformed authorization parameters", p.Msg)
	}
	p := env.Do(t, http.MethodGet, "/t/echo", nil, nil, date, "X-BackendAI-Version: v8.20240315",
		"Authorization: BackendAI signMethod=HMAC-SHA256, credential="+strings.Repeat("A", 300)+":"+sig).
		RequireProblem(t, http.StatusUnauthorized, "auth-failed")
	require.Equal(t, "Access key not found", p.Msg)
}
