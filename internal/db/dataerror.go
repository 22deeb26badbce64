package db

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// DataError reports whether err is a value refused for its type: a PostgreSQL data exception
// (SQLSTATE class 22: a malformed value for its type, a number out of range, a bad LIKE
// pattern, ...) or a query parameter pgx could not encode for its column's type. It returns
// PostgreSQL's message, or a generic one for an encoding failure. Callers whose query values
// come from a client (the GraphQL list filters) use it to blame the client's input instead
// of reporting an internal error.
func DataError(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message, strings.HasPrefix(pgErr.Code, "22")
	}
	// pgx's encoding failures have no error type of their own, only this wording
	// (extended_query_builder.go).
	if strings.Contains(err.Error(), "failed to encode args[") {
		return "a value does not fit the type of its field", true
	}
	return "", false
}
