package authapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

type authTestInput struct {
	Body struct {
		Echo string `json:"echo" doc:"Any text; it is sent back." example:"hello"`
	}
}

// AuthTestOutput is the answer of the /auth signature test.
type AuthTestOutput struct {
	Body struct {
		Authorized string `json:"authorized" doc:"Always yes: the request was signed correctly." example:"yes"`
		Echo       string `json:"echo" doc:"The echo parameter." example:"hello"`
	}
}

func registerTest(s *functions.Server) {
	handler := func(_ context.Context, in *authTestInput) (*AuthTestOutput, error) {
		out := &AuthTestOutput{}
		out.Body.Authorized = "yes"
		out.Body.Echo = in.Body.Echo
		return out, nil
	}
	for _, op := range []struct{ id, method, path string }{
		{"test-auth", http.MethodGet, "/auth"},
		{"test-auth-post", http.MethodPost, "/auth"},
		{"test-auth-test", http.MethodGet, "/auth/test"},
		{"test-auth-test-post", http.MethodPost, "/auth/test"},
	} {
		huma.Register(s.API(), functions.Op(functions.OpSpec{
			ID: op.id, Method: op.method, Path: op.path, Tag: tag,
			Summary: "Test request signing",
			Description: "Answers {\"authorized\": \"yes\", \"echo\": ...} to a correctly signed request; " +
				"the echo parameter comes from the body or, without one, the query string.",
			Role: functions.User, Params: true,
		}), handler)
	}
}
