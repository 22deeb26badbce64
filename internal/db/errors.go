package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Sentinel errors every layer above the database switches on. They are produced only by
// Translate, so no other package inspects pgx or PostgreSQL error codes.
var (
	// ErrNotFound means a query that must return a row returned none.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique constraint rejected the write.
	ErrConflict = errors.New("already exists")
	// ErrReference means a foreign key rejected the write: a referenced row is missing, or
	// rows still refer to the one being deleted.
	ErrReference = errors.New("reference violation")
	// ErrCheck means a CHECK or NOT NULL constraint, or an invalid value, rejected the write.
	ErrCheck = errors.New("constraint violation")
	// ErrSerialization means the transaction lost a race (serialization failure or deadlock)
	// and may be retried.
	ErrSerialization = errors.New("serialization failure")
	// ErrUnavailable means PostgreSQL could not be reached or is not accepting work right now
	// (refused or reset connections, shutdown or start-up in progress, too many connections,
	// a connect or pool acquire that ran out of time). The request may be retried shortly.
	ErrUnavailable = errors.New("database unavailable")
)

// Error is a translated database error: one of the sentinels, with the constraint, table and
// detail PostgreSQL reported.
type Error struct {
	Kind       error
	Table      string
	Constraint string
	Column     string
	Detail     string
	Err        error
}

func (e *Error) Error() string {
	msg := e.Kind.Error()
	if e.Table != "" {
		msg += " in " + e.Table
	}
	if e.Constraint != "" {
		msg += fmt.Sprintf(" (%s)", e.Constraint)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	} else if e.Err != nil && e.Kind != ErrNotFound {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrConflict) and friends work.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the original driver error.
func (e *Error) Unwrap() error { return e.Err }

// Translate maps pgx and PostgreSQL errors to Hangar's sentinels; other errors pass through.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	var done *Error
	if errors.As(err, &done) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &Error{Kind: ErrNotFound, Err: err}
	}
	if unavailable(err) {
		return &Error{Kind: ErrUnavailable, Err: err}
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	e := &Error{Table: pgErr.TableName, Constraint: pgErr.ConstraintName, Column: pgErr.ColumnName, Detail: pgErr.Detail, Err: err}
	switch pgErr.Code {
	case "23505":
		e.Kind = ErrConflict
	case "23503":
		e.Kind = ErrReference
	case "23514", "23502", "22P02", "22007", "22008", "22003", "22001", "23P01",
		"22021", "22P05": // invalid byte sequence (e.g. a NUL or invalid UTF-8), untranslatable character
		e.Kind = ErrCheck
		if e.Detail == "" {
			e.Detail = pgErr.Message
		}
	case "40001", "40P01":
		e.Kind = ErrSerialization
	default:
		return err
	}
	return e
}

// IsNotFound reports whether err (translated or not) means a query that must return a row
// returned none.
func IsNotFound(err error) bool {
	return err != nil && errors.Is(Translate(err), ErrNotFound)
}

// IsUnavailable reports whether err (translated or not) means the database is unavailable.
func IsUnavailable(err error) bool {
	return err != nil && errors.Is(Translate(err), ErrUnavailable)
}

// unavailable classifies driver errors that mean "PostgreSQL cannot serve this right now":
// SQLSTATE class 08 (connection exceptions), 57P01/57P02/57P03 (admin shutdown, crash
// shutdown, cannot connect now), 53300 (too many connections), failed connects, network
// errors on an open connection, and deadlines hit while connecting, acquiring or querying.
// A server that answers with any other error (a wrong password, a missing database) is
// misconfigured, not unavailable.
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", "57P02", "57P03", "53300":
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08")
	}
	if errors.Is(err, context.Canceled) {
		return false // the caller went away; nothing to tell it
	}
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return true
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
