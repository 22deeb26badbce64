package resolver

import (
	"context"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// caller is the authenticated identity of the request (the endpoint requires one).
func caller(ctx context.Context) *functions.Identity {
	id := functions.IdentityFrom(ctx)
	if id == nil {
		return &functions.Identity{User: dbsqlc.User{Role: dbsqlc.UserRoleMonitor}}
	}
	return id
}

// scope is the outcome of Backend.AI's scoped_query for one root field: the domain the rows
// must belong to ("" = any) and the owner key they must have ("" = any).
type scope struct {
	Domain string
	Key    string
}

// scopeOn applies scoped_query on one key argument (access key, email, ...): a superadmin may
// pass anything; an admin is kept to its domain (naming another is Forbidden); a user is kept
// to its domain and to its own key. own is the caller's value of the key; autofill makes an
// absent key the caller's own for every role.
func scopeOn(ctx context.Context, domain, key *string, own string, autofill bool) (scope, error) {
	id := caller(ctx)
	var sc scope
	if domain != nil {
		sc.Domain = *domain
	}
	if key != nil {
		sc.Key = *key
	}
	switch id.User.Role {
	case dbsqlc.UserRoleSuperadmin:
	case dbsqlc.UserRoleAdmin:
		if sc.Domain != "" && sc.Domain != id.Domain() {
			return sc, errForbidden
		}
		sc.Domain = id.Domain()
	case dbsqlc.UserRoleUser:
		if sc.Domain != "" && sc.Domain != id.Domain() {
			return sc, errForbidden
		}
		if sc.Key != "" && sc.Key != own {
			return sc, errForbidden
		}
		sc.Domain, sc.Key = id.Domain(), own
	default:
		return sc, errUnknownClientRole
	}
	if autofill && sc.Key == "" {
		sc.Key = own
	}
	return sc, nil
}

// requireSuperadmin is Backend.AI's privileged_query(SUPERADMIN).
func requireSuperadmin(ctx context.Context) error {
	if caller(ctx).User.Role != dbsqlc.UserRoleSuperadmin {
		return errSuperadminOnly
	}
	return nil
}

// requireAdmin admits superadmins and domain admins; it returns the domain an admin is kept
// to ("" for a superadmin).
func requireAdmin(ctx context.Context) (string, error) {
	id := caller(ctx)
	switch id.User.Role {
	case dbsqlc.UserRoleSuperadmin:
		return "", nil
	case dbsqlc.UserRoleAdmin:
		return id.Domain(), nil
	}
	return "", errInsufficientPriv
}
