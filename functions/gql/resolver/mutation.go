package resolver

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
	"github.com/hangar-run/hangar/internal/db"
)

// The mutations call the administration service (internal/adminsvc), which holds their
// rules for REST and GraphQL alike; this file turns its answers into Backend.AI's payload
// convention: expected failures are {ok: false, msg} results, refusals raised before the
// database (frozen manager, malformed names and enum spellings) are GraphQL errors.

// admin is the administration service over the resolver's dependencies.
func (r *Resolver) admin() *adminsvc.Service { return functions.NewAdminService(r.Deps) }

// serviceCaller is the signed-in caller as the administration service sees it.
func serviceCaller(ctx context.Context) adminsvc.Caller {
	return functions.ServiceCaller(functions.IdentityFrom(ctx))
}

// msgSuccess is the msg of a successful mutation.
const msgSuccess = "success"

// noPermission is the answer to a caller whose role may not run the root mutation field
// (Backend.AI 24.03.10's text, naming the field).
func noPermission(field string) string { return "no permission to execute " + field }

// noMatching is simple_db_mutate's answer when no row matched: the payload type's name in
// lower case ("no matching deletekeypair").
func noMatching(payload string) string { return "no matching " + strings.ToLower(payload) }

// mutationResult maps the outcome of a service call to a mutation's ok and msg, or to a
// GraphQL error. field is the root field ("modify_keypair"), payload its payload type
// ("ModifyKeyPair"). A nil err is {true, "success"}.
//   - frozen or not running manager: GraphQL error with Backend.AI's text;
//   - role refused: {false, "no permission to execute <field>"};
//   - unknown object: {false, "no matching <payload>"};
//   - conflict (duplicate, still referenced): {false, "integrity error: …"};
//   - invalid input: GraphQL error "Missing or invalid API parameters. (…)";
//   - anything else: {false, "unexpected error: …"} (database details stay in the log).
//
// Resolvers that answer some refusal differently (upstream's own texts) check the error
// with adminsvc.AsError before calling this.
func mutationResult(field, payload string, err error) (ok bool, msg string, gqlErr error) {
	if err == nil {
		return true, msgSuccess, nil
	}
	e := adminsvc.AsError(err)
	if e == nil {
		if db.IsUnavailable(err) {
			return false, "", err
		}
		slog.Error("graphql mutation failed", "field", field, "err", err)
		return false, "unexpected error: internal server error", nil
	}
	switch e.Kind {
	case adminsvc.KindFrozen:
		return false, "", errors.New(adminsvc.FrozenMessage)
	case adminsvc.KindUnavailable:
		if e.Err != nil {
			slog.Error("graphql mutation failed", "field", field, "err", e.Err)
			return false, "unexpected error: service unavailable", nil
		}
		return false, "", errors.New(e.Msg)
	case adminsvc.KindForbidden:
		return false, noPermission(field), nil
	case adminsvc.KindNotFound:
		return false, noMatching(payload), nil
	case adminsvc.KindConflict:
		return false, "integrity error: " + e.Error(), nil
	case adminsvc.KindInvalid:
		return false, "", errInvalidParams(e.Error())
	}
	return false, "unexpected error: " + e.Error(), nil
}
