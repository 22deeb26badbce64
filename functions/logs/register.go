// Package logs is the Backend.AI-compatible /logs/error API: clients file error logs (what
// failed, where, with the client's context), list them page by page and mark them cleared.
//
// Who sees what: a user their own logs until they clear them; a domain admin the logs of
// their domain's users, cleared ones included; a superadmin every log. A cleared log stays
// stored (admins still list it) until the retention removes it.
package logs

import (
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
)

// tag groups these operations in the OpenAPI document.
const tag = "logs"

// Register adds the area's operations to s.
func Register(s *functions.Server) {
	registerAppend(s)
	registerList(s)
	registerClear(s)
}

// scope is the part of the error logs a caller may list or clear.
type scope struct {
	// domain, when set, limits the logs to that domain's users (domain admins).
	domain *string
	// user, when set, limits the logs to that user's uncleared logs (users).
	user *uuid.UUID
	// admin says the caller sees is_cleared.
	admin bool
}

// scopeOf is the scope of the caller id.
func scopeOf(id *functions.Identity) scope {
	switch {
	case id.IsSuperadmin():
		return scope{admin: true}
	case id.IsDomainAdmin():
		d := id.Domain()
		return scope{domain: &d, admin: true}
	}
	u := id.UserUUID()
	return scope{user: &u}
}
