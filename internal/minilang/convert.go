package minilang

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
)

// EnumNames accepts a string literal naming one of names, as given or uppercased, and
// returns the name as listed. Anything else fails with Backend.AI's text:
// "expected one of `A, B` or lower names; got `x`".
func EnumNames(names ...string) func(Value) (any, error) {
	set := make(map[string]string, len(names))
	for _, n := range names {
		set[n] = n
	}
	list := strings.Join(names, ", ")
	return func(v Value) (any, error) {
		if v.Kind == String {
			if n, ok := set[v.S]; ok {
				return n, nil
			}
			if n, ok := set[strings.ToUpper(v.S)]; ok {
				return n, nil
			}
		}
		got := v.S
		if v.Kind != String {
			got = v.Raw
		}
		return nil, fmt.Errorf("expected one of `%s` or lower names; got `%s`", list, got)
	}
}

// timestampLayouts are the accepted RFC 3339 / ISO 8601 forms, tried in order. Layouts
// without an offset are read as UTC.
var timestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

// Timestamp accepts an RFC 3339 / ISO 8601 date or date-time string, with or without an
// offset (UTC assumed), and returns a time.Time.
func Timestamp(v Value) (any, error) {
	if v.Kind == String {
		s := strings.TrimSpace(v.S)
		for _, layout := range timestampLayouts {
			if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
				return t, nil
			}
		}
	}
	return nil, fmt.Errorf("expected an ISO 8601 date or date-time string, e.g. \"2024-03-01T00:00:00+00:00\"; got `%s`", v.Raw)
}

// UUID accepts a string literal holding a UUID and returns a uuid.UUID.
func UUID(v Value) (any, error) {
	if v.Kind == String {
		if u, err := uuid.Parse(v.S); err == nil {
			return u, nil
		}
	}
	return nil, fmt.Errorf("badly formed hexadecimal UUID string: `%s`", v.Raw)
}

// The converters below check a literal's type, so that comparing a column with a literal of
// the wrong type is a parsing error instead of a database error.

// AsString accepts a string literal.
func AsString(v Value) (any, error) {
	if v.Kind != String {
		return nil, fmt.Errorf("expected a double-quoted string; got `%s`", v.Raw)
	}
	return v.S, nil
}

// AsInt accepts an integer literal.
func AsInt(v Value) (any, error) {
	if v.Kind != Int {
		return nil, fmt.Errorf("expected an integer; got `%s`", v.Raw)
	}
	return v.I, nil
}

// AsInt32 accepts an integer literal that fits a PostgreSQL integer (int4) column.
func AsInt32(v Value) (any, error) {
	if v.Kind != Int || v.I < math.MinInt32 || v.I > math.MaxInt32 {
		return nil, fmt.Errorf("expected an integer between %d and %d; got `%s`", math.MinInt32, math.MaxInt32, v.Raw)
	}
	return int32(v.I), nil
}

// AsFloat accepts an integer or float literal and returns a float64.
func AsFloat(v Value) (any, error) {
	switch v.Kind {
	case Int:
		return float64(v.I), nil
	case Float:
		return v.F, nil
	}
	return nil, fmt.Errorf("expected a number; got `%s`", v.Raw)
}

// AsBool accepts true or false.
func AsBool(v Value) (any, error) {
	if v.Kind != Bool {
		return nil, fmt.Errorf("expected true or false; got `%s`", v.Raw)
	}
	return v.B, nil
}

// AsError reports whether err is a parsing error of this package and returns it.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
