package functions

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/internal/db"
)

// ProblemBase is the prefix of every Backend.AI error type URI.
const ProblemBase = "https://api.backend.ai/probs/"

// Problem is a Backend.AI error response, served as application/problem+json:
// {"type", "title"[, "msg"][, "data"]}. Clients switch on Type.
type Problem struct {
	Status int    `json:"-"`
	Type   string `json:"type" doc:"Error type URI (https://api.backend.ai/probs/<slug>); clients switch on it." example:"https://api.backend.ai/probs/invalid-api-params"`
	Title  string `json:"title" doc:"Fixed, human-readable title of the error type."`
	Msg    string `json:"msg,omitempty" doc:"What went wrong this time."`
	Data   any    `json:"data,omitempty" doc:"Structured details, e.g. the offending parameters."`
	// retryAfter, in seconds, is sent as the Retry-After header when set (see WithRetryAfter).
	retryAfter int
}

// Error implements error.
func (p *Problem) Error() string {
	if p.Msg != "" {
		return p.Title + " " + p.Msg
	}
	return p.Title
}

// GetStatus implements huma.StatusError.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType implements huma.ContentTypeFilter.
func (p *Problem) ContentType(string) string { return "application/problem+json" }

// Slug is the last segment of the type URI.
func (p *Problem) Slug() string { return strings.TrimPrefix(p.Type, ProblemBase) }

func problem(status int, slug, title, msg string, data any) *Problem {
	return &Problem{Status: status, Type: ProblemBase + slug, Title: title, Msg: msg, Data: data}
}

// The Backend.AI error types Hangar answers with (backendai-api.md §4.3).

// ErrURLNotFound is the router's 404.
func ErrURLNotFound(path string) *Problem {
	return problem(http.StatusNotFound, "url-not-found", "Unknown URL path.", "", path)
}

// ErrMethodNotAllowed is the router's 405.
func ErrMethodNotAllowed() *Problem {
	return problem(http.StatusMethodNotAllowed, "method-not-allowed", "HTTP Method Not Allowed.", "", nil)
}

// ErrObjectNotFound is a 404 for a named kind of object ("session", "domain", ...).
func ErrObjectNotFound(object, msg string) *Problem {
	if object == "" {
		object = "object"
	}
	return problem(http.StatusNotFound, "object-not-found", "No such "+object+".", msg, nil)
}

// ErrGenericBadRequest is a 400 without a more specific type.
func ErrGenericBadRequest(msg string) *Problem {
	return problem(http.StatusBadRequest, "generic-bad-request", "Bad request.", msg, nil)
}

// ErrInvalidAPIParams is a 400 for missing or invalid parameters; data names the offending keys.
func ErrInvalidAPIParams(msg string, data any) *Problem {
	return problem(http.StatusBadRequest, "invalid-api-params", "Missing or invalid API parameters.", msg, data)
}

// ErrInvalidAuthParams is a 400 for a malformed Date or Authorization header.
func ErrInvalidAuthParams(msg string) *Problem {
	return problem(http.StatusBadRequest, "invalid-auth-params", "Missing or invalid authorization parameters.", msg, nil)
}

// ErrAuthFailed is a 401: unknown key, bad signature, or a role too low for the route.
func ErrAuthFailed(msg string) *Problem {
	return problem(http.StatusUnauthorized, "auth-failed", "Credential/signature mismatch.", msg, nil)
}

// ErrGenericForbidden is a 403.
func ErrGenericForbidden(msg string) *Problem {
	return problem(http.StatusForbidden, "generic-forbidden", "Forbidden operation.", msg, nil)
}

// ErrInsufficientPrivilege is a 403 for an authenticated user acting beyond their role.
func ErrInsufficientPrivilege(msg string) *Problem {
	return problem(http.StatusForbidden, "insufficient-privilege", "Insufficient privilege.", msg, nil)
}

// ErrInternal is a 500.
func ErrInternal(msg string) *Problem {
	return problem(http.StatusInternalServerError, "internal-server-error", "Internal server error.", msg, nil)
}

// ErrServerMisconfigured is a 500 for configuration the operator must fix.
func ErrServerMisconfigured(msg string) *Problem {
	return problem(http.StatusInternalServerError, "server-misconfigured", "Service misconfigured.", msg, nil)
}

// ErrServiceUnavailable is a 503.
func ErrServiceUnavailable(msg string) *Problem {
	// Backend.AI's title carries a typo ("Serivce"); clients switch on the type, so Hangar
	// spells the title correctly.
	return problem(http.StatusServiceUnavailable, "service-unavailable", "Service unavailable.", msg, nil)
}

// ErrServerFrozen is the 503 for writes while the manager is frozen.
func ErrServerFrozen() *Problem {
	return problem(http.StatusServiceUnavailable, "server-frozen", "The server is frozen due to maintenance. Please try again later.", "", nil)
}

// ErrRateLimitExceeded is the 429 of the per-key rolling window.
func ErrRateLimitExceeded() *Problem {
	return problem(http.StatusTooManyRequests, "rate-limit-exceeded", "You have reached your API query rate limit.", "", nil)
}

// ErrQuotaExceeded is a 412 for a resource limit.
func ErrQuotaExceeded(msg string) *Problem {
	return problem(http.StatusPreconditionFailed, "quota-exceeded", "You have reached your resource limit.", msg, nil)
}

// ErrInstanceNotAvailable is a 503 when no agent can take the work.
func ErrInstanceNotAvailable(msg string) *Problem {
	return problem(http.StatusServiceUnavailable, "instance-not-available", "There is no available instance.", msg, nil)
}

// FromDB maps a translated database error (internal/db sentinels) to a Backend.AI error about
// object ("domain", "user", ...). Errors that are already Problems pass through; anything else
// becomes a 500 (logged by the recoverer, never shown in detail).
func FromDB(err error, object string) error {
	if err == nil {
		return nil
	}
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	err = db.Translate(err)
	var dbErr *db.Error
	detail := ""
	if errors.As(err, &dbErr) {
		detail = dbErr.Detail
	}
	switch {
	case errors.Is(err, db.ErrNotFound):
		return ErrObjectNotFound(object, "")
	case errors.Is(err, db.ErrConflict):
		return ErrInvalidAPIParams(fmt.Sprintf("The %s already exists.", object), detailData(dbErr))
	case errors.Is(err, db.ErrReference):
		if strings.Contains(detail, "is still referenced") {
			return ErrInvalidAPIParams(fmt.Sprintf("The %s is still in use.", object), detailData(dbErr))
		}
		return ErrInvalidAPIParams("A referenced object does not exist.", detailData(dbErr))
	case errors.Is(err, db.ErrCheck):
		return ErrInvalidAPIParams("Invalid value.", detailData(dbErr))
	case errors.Is(err, db.ErrSerialization):
		return ErrServiceUnavailable("The operation conflicted with another one; retry it.")
	case errors.Is(err, db.ErrUnavailable):
		return ErrDatabaseUnavailable()
	}
	return err
}

func detailData(e *db.Error) any {
	if e == nil {
		return nil
	}
	d := map[string]string{}
	if e.Table != "" {
		d["table"] = e.Table
	}
	if e.Constraint != "" {
		d["constraint"] = e.Constraint
	}
	if e.Detail != "" {
		d["detail"] = e.Detail
	}
	if len(d) == 0 {
		return nil
	}
	return d
}

// newError replaces huma.NewError so that every error huma produces itself (validation,
// malformed bodies, unexpected errors) is a Backend.AI Problem.
func newError(status int, msg string, errs ...error) huma.StatusError {
	for _, e := range errs {
		var p *Problem
		if errors.As(e, &p) {
			return p
		}
	}
	if status >= 500 {
		for _, e := range errs {
			if db.IsUnavailable(e) {
				return ErrDatabaseUnavailable()
			}
		}
	}
	switch {
	case status == http.StatusUnprocessableEntity || (status == http.StatusBadRequest && len(errs) > 0):
		data := map[string]string{}
		for _, e := range errs {
			var d *huma.ErrorDetail
			if errors.As(e, &d) {
				key := strings.TrimPrefix(strings.TrimPrefix(d.Location, "body."), "query.")
				if strings.Contains(d.Message, "unexpected property") {
					key = strings.TrimPrefix(key, "body")
					data[strings.TrimPrefix(key, ".")] = "not allowed key"
					continue
				}
				data[key] = d.Message
			} else if e != nil {
				data["_"] = e.Error()
			}
		}
		return ErrInvalidAPIParams(msg, data)
	case status == http.StatusBadRequest:
		if strings.Contains(strings.ToLower(msg), "body") {
			return ErrInvalidAPIParams("Malformed body", nil)
		}
		return ErrGenericBadRequest(msg)
	case status == http.StatusNotFound:
		return ErrObjectNotFound("", msg)
	case status == http.StatusMethodNotAllowed:
		return ErrMethodNotAllowed()
	case status == http.StatusUnauthorized:
		return ErrAuthFailed(msg)
	case status == http.StatusForbidden:
		return ErrGenericForbidden(msg)
	case status == http.StatusTooManyRequests:
		return ErrRateLimitExceeded()
	case status == http.StatusServiceUnavailable:
		return ErrServiceUnavailable(msg)
	case status >= 500:
		return ErrInternal("")
	default:
		// 413 and other framework-level errors map to generic-bad-request, as Backend.AI does.
		return ErrGenericBadRequest(msg)
	}
}

// ErrTooManySessionsMatched is the 404 for a session reference that matches more than one
// session; data carries {"matches": [{id, name, status, created_at}]}.
func ErrTooManySessionsMatched(data any) *Problem {
	return problem(http.StatusNotFound, "too-many-sessions-matched", "Too many sessions matched.", "", data)
}

// ErrSessionAlreadyExists is the 400 for creating a session whose name a live session of the
// same owner already has; data carries {"existingSessionId": id}.
func ErrSessionAlreadyExists(data any) *Problem {
	return problem(http.StatusBadRequest, "session-already-exists", "The session already exists but you requested not to reuse existing one.", "", data)
}

// ErrKernelCreationFailed is the 500 for an agent that failed to create a session's kernels.
func ErrKernelCreationFailed(msg string) *Problem {
	return problem(http.StatusInternalServerError, "kernel-creation-failed", "Kernel creation has failed.", msg, nil)
}

// ErrKernelDestructionFailed is the 500 for an agent that failed to destroy a kernel.
func ErrKernelDestructionFailed(msg string) *Problem {
	return problem(http.StatusInternalServerError, "kernel-destruction-failed", "Kernel destruction has failed.", msg, nil)
}

// ErrKernelRestartFailed is the 500 for an agent that failed to restart a kernel.
func ErrKernelRestartFailed(msg string) *Problem {
	return problem(http.StatusInternalServerError, "kernel-restart-failed", "Kernel restart has failed.", msg, nil)
}

// ErrKernelExecutionFailed is the 500 for an agent that failed to run code, answer a file
// operation or return logs (its TIMEOUT or FAILURE).
func ErrKernelExecutionFailed(msg string) *Problem {
	return problem(http.StatusInternalServerError, "kernel-execution-failed", "Executing user code in the kernel has failed.", msg, nil)
}
