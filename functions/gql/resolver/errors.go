package resolver

import (
	"context"
	"errors"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/minilang"
)

// Backend.AI's texts for refusals inside GraphQL (they reach the client as the message).
var (
	errForbidden         = errors.New("Forbidden operation.")
	errSuperadminOnly    = errors.New("Forbidden operation. (superadmin privilege required)")
	errInsufficientPriv  = errors.New("Insufficient privilege.")
	errUnknownClientRole = errors.New("Missing or invalid API parameters. (Unknown client role)")
	errNoSuchDomain      = errors.New("No such domain.")
	errNoSuchImage       = errors.New("No such environment image.")
)

// errNotImplemented is the answer of a field this server does not serve yet.
func errNotImplemented(field string) error {
	return fmt.Errorf("%s is not implemented yet", field)
}

// errInvalidParams is Backend.AI's InvalidAPIParameters text.
func errInvalidParams(msg string) error {
	return fmt.Errorf("Missing or invalid API parameters. (%s)", msg)
}

// PresentError turns a resolver error into the GraphQL error object clients see: the
// Backend.AI text, the field's path and location, and no extensions. Database failures are
// not described beyond their kind.
func PresentError(ctx context.Context, err error) *gqlerror.Error {
	var p *functions.Problem
	var me *minilang.Error
	switch {
	case errors.As(err, &me):
		err = me
	case errors.As(err, &p):
		err = p
	case db.IsUnavailable(err):
		err = errors.New("Service unavailable. (the database is not reachable)")
	default:
		var dbe *db.Error
		if errors.As(err, &dbe) {
			err = errors.New("Internal server error. (database error)")
		}
	}
	ge := graphql.DefaultErrorPresenter(ctx, err)
	ge.Extensions = nil
	return ge
}
