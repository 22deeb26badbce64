package resolver

import (
	"strings"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/minilang"
)

// filterFailure is the error of a list query that failed with err. The filter language
// checks what it can before any SQL runs (unknown fields, literals of the wrong type); what
// only the database can find — a value refused for its type (db.DataError: SQLSTATE class
// 22, or a value the driver cannot encode for its column) — is still the caller's filter's
// fault when there is one, and becomes a filter parsing error quoting it (a GraphQL error
// the client sees) instead of an internal error. Anything else goes through db.Translate.
func filterFailure(err error, filter *string) error {
	if filter == nil || strings.TrimSpace(*filter) == "" {
		return db.Translate(err)
	}
	msg, ok := db.DataError(err)
	if !ok {
		return db.Translate(err)
	}
	return &minilang.Error{Pos: -1, Msg: msg + " (filter `" + *filter + "`)"}
}
