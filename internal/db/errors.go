package db

import (
	"errors"
	"fmt"

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
	case "23514", "23502", "22P02", "22007", "22008", "22003", "22001", "23P01":
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
