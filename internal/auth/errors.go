package auth

import "net/http"

// Kind classifies an authentication error by the response Backend.AI gives
// for it, so the HTTP layer can map errors without matching strings.
type Kind int

const (
	// KindInvalidParams errors become HTTP 400 with the problem type
	// suffix "invalid-auth-params".
	KindInvalidParams Kind = iota + 1
	// KindAuthFailed errors become HTTP 401 with the problem type suffix
	// "auth-failed".
	KindAuthFailed
)

// String returns the Backend.AI problem type suffix of the kind.
func (k Kind) String() string {
	switch k {
	case KindInvalidParams:
		return "invalid-auth-params"
	case KindAuthFailed:
		return "auth-failed"
	default:
		return "unknown"
	}
}

// HTTPStatus returns the HTTP status code Backend.AI answers with for the
// kind (400 or 401), or 500 for an unknown kind.
func (k Kind) HTTPStatus() int {
	switch k {
	case KindInvalidParams:
		return http.StatusBadRequest
	case KindAuthFailed:
		return http.StatusUnauthorized
	default:
		return http.StatusInternalServerError
	}
}

// Reason identifies which check an authentication error comes from.
type Reason int

const (
	// ReasonNoCredentials means the request carried no Authorization
	// header. Backend.AI answers 401 "Unauthorized access" on protected
	// routes.
	ReasonNoCredentials Reason = iota + 1
	// ReasonMalformedHeader means the Authorization header is not
	// "<type> <params>".
	ReasonMalformedHeader
	// ReasonInvalidType means the authorization type is neither
	// "BackendAI" nor "Sorna".
	ReasonInvalidType
	// ReasonMalformedParams means signMethod or credential is missing,
	// the credential has no ':', or a parameter has no '='.
	ReasonMalformedParams
	// ReasonUnsupportedMAC means the MAC part of signMethod is not HMAC.
	ReasonUnsupportedMAC
	// ReasonUnsupportedHash means the hash part of signMethod is not a
	// supported hash algorithm.
	ReasonUnsupportedHash
	// ReasonInvalidSignature means signMethod does not split into exactly
	// two '-'-separated parts (for example "HMAC-SHA3-256").
	ReasonInvalidSignature
	// ReasonVersionMissing means neither X-BackendAI-Version nor
	// X-Sorna-Version was sent with a signed request.
	ReasonVersionMissing
	// ReasonSignatureMismatch means the signature does not match the one
	// computed with the keypair's secret key.
	ReasonSignatureMismatch
	// ReasonDateSync means the date header is missing, unparsable or
	// outside the allowed clock skew.
	ReasonDateSync
)

// reasonInfo holds the kind and client-facing message of each reason. The
// messages are the exact texts Backend.AI clients see.
func reasonInfo(r Reason) (Kind, string) {
	switch r {
	case ReasonNoCredentials:
		return KindAuthFailed, "Unauthorized access"
	case ReasonMalformedHeader:
		return KindInvalidParams, "Malformed authorization header"
	case ReasonInvalidType:
		return KindInvalidParams, "Invalid authorization type name"
	case ReasonMalformedParams:
		return KindInvalidParams, "Missing or malformed authorization parameters"
	case ReasonUnsupportedMAC:
		return KindInvalidParams, "Unsupported request signing method (MAC type)"
	case ReasonUnsupportedHash:
		return KindInvalidParams, "Unsupported request signing method (hash type)"
	case ReasonInvalidSignature:
		return KindAuthFailed, "Invalid signature"
	case ReasonVersionMissing:
		return KindInvalidParams, "API version missing in request headers"
	case ReasonSignatureMismatch:
		return KindAuthFailed, "Signature mismatch"
	case ReasonDateSync:
		return KindInvalidParams, "Date/time sync error"
	default:
		return KindAuthFailed, "Unauthorized access"
	}
}

// Error is the single error type of this package. Msg is the exact message
// to put in the response body; Detail adds context for logs only.
type Error struct {
	// Kind selects the HTTP status and problem type.
	Kind Kind
	// Reason identifies the failed check.
	Reason Reason
	// Msg is the client-facing message, identical to Backend.AI's.
	Msg string
	// Detail is extra context for logs; it must not be sent to clients.
	Detail string
}

// newError builds an Error for reason with an optional log detail.
func newError(r Reason, detail string) *Error {
	kind, msg := reasonInfo(r)
	return &Error{Kind: kind, Reason: r, Msg: msg, Detail: detail}
}

// Error returns the message, followed by the detail when there is one.
func (e *Error) Error() string {
	if e.Detail == "" {
		return "auth: " + e.Msg
	}
	return "auth: " + e.Msg + ": " + e.Detail
}

// Is reports whether target is an *Error with the same Reason, so that
// errors.Is(err, &Error{Reason: ReasonSignatureMismatch}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}
