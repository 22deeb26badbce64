package functions

import (
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
)

// DatabaseRetryAfter is the Retry-After, in seconds, of the answers given while PostgreSQL is
// unreachable or restarting.
const DatabaseRetryAfter = 3

// ErrDatabaseUnavailable is the 503 for a request that could not reach PostgreSQL (refused
// or reset connections, a server shutting down or starting up, too many connections, a
// connect or pool acquire that timed out): the request may be retried after Retry-After.
func ErrDatabaseUnavailable() *Problem {
	return ErrServiceUnavailable("The database is unavailable; retry shortly.").WithRetryAfter(DatabaseRetryAfter)
}

// WithRetryAfter sets the Retry-After header (in seconds) p is answered with, and returns p.
func (p *Problem) WithRetryAfter(seconds int) *Problem {
	p.retryAfter = max(seconds, 1)
	return p
}

// RetryAfter is the Retry-After header p is answered with, in seconds (0: none).
func (p *Problem) RetryAfter() int { return p.retryAfter }

// GetHeaders implements huma.HeadersError: the headers a Problem adds to its answer.
func (p *Problem) GetHeaders() http.Header {
	if p.retryAfter <= 0 {
		return http.Header{}
	}
	return http.Header{"Retry-After": {strconv.Itoa(p.retryAfter)}}
}

func init() {
	// huma applies a HeadersError's headers only when a handler returns it; errors built by
	// huma itself (a handler's unexpected error, huma.WriteErr in middlewares) come through
	// NewErrorWithContext, which sets them here.
	huma.NewErrorWithContext = func(ctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
		se := huma.NewError(status, msg, givenNames(ctx, errs)...)
		if p, ok := se.(*Problem); ok && ctx != nil {
			for k, v := range p.GetHeaders() {
				ctx.SetHeader(k, v[0])
			}
		}
		return se
	}
}
