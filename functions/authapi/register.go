// Package authapi is the Backend.AI-compatible /auth API: logging in with an email and a
// password to obtain a keypair, checking that request signing works, and the caller's roles.
package authapi

import (
	"github.com/hangar-run/hangar/functions"
)

// tag groups these operations in the OpenAPI document.
const tag = "auth"

// Register adds the area's operations to s.
func Register(s *functions.Server) {
	registerTest(s)
	registerAuthorize(s)
	registerGetRole(s)
}
