package adminsvc

import (
	"errors"

	"github.com/hangar-run/hangar/internal/db"
)

// Kind classifies a refusal; each front end maps it to its own wire form.
type Kind int

const (
	// KindInvalid is bad input: Key names the offending input, Data carries the details
	// (REST: 400 invalid-api-params).
	KindInvalid Kind = iota + 1
	// KindNotFound is an unknown object of kind Object (REST: 404 object-not-found).
	KindNotFound
	// KindForbidden is a caller acting beyond their role (REST: 403 insufficient-privilege).
	KindForbidden
	// KindConflict is an object that already exists or is still in use (REST: 400
	// invalid-api-params; GraphQL: an integrity error).
	KindConflict
	// KindFrozen is a mutation while the manager is frozen (REST: 503 server-frozen).
	KindFrozen
	// KindUnavailable is a mutation while the manager is in another non-running status, or a
	// database that cannot serve it now (REST: 503).
	KindUnavailable
)

func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindNotFound:
		return "not-found"
	case KindForbidden:
		return "forbidden"
	case KindConflict:
		return "conflict"
	case KindFrozen:
		return "frozen"
	case KindUnavailable:
		return "unavailable"
	}
	return "unknown"
}

// FrozenMessage is Backend.AI's text for a mutation refused while the manager is frozen.
const FrozenMessage = "The server is frozen due to maintenance. Please try again later."

// Error is a refusal of the service.
type Error struct {
	Kind Kind
	// Object is the kind of object concerned ("domain", "user", ...).
	Object string
	// Key names the offending input of a KindInvalid error ("total_resource_slots.cpu").
	Key string
	// Msg says what went wrong, for people.
	Msg string
	// Data carries structured details (for KindInvalid, the offending keys and why).
	Data any
	// Err is the translated database error (*db.Error) behind the refusal, when there is one.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	msg := e.Msg
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if msg == "" {
		msg = e.Kind.String()
		if e.Object != "" {
			msg += " " + e.Object
		}
	}
	return msg
}

// Unwrap returns the database error behind the refusal, if any.
func (e *Error) Unwrap() error { return e.Err }

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// IsKind reports whether err is a refusal of kind k.
func IsKind(err error, k Kind) bool {
	e := AsError(err)
	return e != nil && e.Kind == k
}

// invalid is a KindInvalid error about the input key.
func invalid(key, msg string, data any) *Error {
	return &Error{Kind: KindInvalid, Key: key, Msg: msg, Data: data}
}

// invalidParam is invalid with the usual data {key: reason}; a nil err gives nil.
func invalidParam(key string, err error) error {
	if err == nil {
		return nil
	}
	return invalid(key, key+": "+err.Error(), map[string]string{key: err.Error()})
}

// notFound is a KindNotFound error about object.
func notFound(object, msg string) *Error {
	return &Error{Kind: KindNotFound, Object: object, Msg: msg}
}

// forbidden is a KindForbidden error.
func forbidden(msg string) *Error {
	return &Error{Kind: KindForbidden, Msg: msg}
}

// fromDB wraps a database error about object in an *Error of the matching kind, keeping the
// translated error in Err. Errors that are already refusals pass through; errors that are not
// the database's (bugs, cancelled contexts) too.
func fromDB(err error, object string) error {
	if err == nil {
		return nil
	}
	if AsError(err) != nil {
		return err
	}
	err = db.Translate(err)
	var dbErr *db.Error
	if !errors.As(err, &dbErr) {
		return err
	}
	e := &Error{Object: object, Err: err}
	switch {
	case errors.Is(err, db.ErrNotFound):
		e.Kind = KindNotFound
	case errors.Is(err, db.ErrConflict):
		e.Kind = KindConflict
		e.Msg = "The " + object + " already exists."
	case errors.Is(err, db.ErrReference):
		e.Kind = KindConflict
		e.Msg = "A referenced object does not exist."
		if containsStillReferenced(dbErr.Detail) {
			e.Msg = "The " + object + " is still in use."
		}
	case errors.Is(err, db.ErrCheck):
		e.Kind = KindInvalid
		e.Key = dbErr.Column
		e.Msg = "Invalid value."
	default:
		e.Kind = KindUnavailable
	}
	return e
}
