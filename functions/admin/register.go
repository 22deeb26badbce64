// Package admin is the administration REST API for identities: domains, projects (Backend.AI
// "groups") and their members, users, and keypairs, plus the self-service GET /keypairs/me.
//
// Superadmins manage everything. Domain admins (users whose role is admin, signing with an
// is_admin keypair) manage projects, users and keypairs of their own domain only; they never
// touch superadmins and cannot grant the admin or superadmin role. Other callers of an /admin
// route get 401, like every Backend.AI admin route.
//
// Resources are JSON objects with snake_case fields named as in Backend.AI's GraphQL schema.
// Lists take limit (1..100, default 20) and offset and answer {"items": [...], "total_count":
// N}; creation answers 201, PATCH changes only the fields given, and deletion answers 204.
// Secret keys are shown when a keypair is created and to the keypair's owner only; password
// hashes are never shown.
package admin

import (
	"github.com/hangar-run/hangar/functions"
)

// tag groups these operations in the OpenAPI document.
const tag = "admin"

// Register adds the area's operations to s.
func Register(s *functions.Server) {
	registerListDomains(s)
	registerGetDomain(s)
	registerCreateDomain(s)
	registerUpdateDomain(s)
	registerDeleteDomain(s)

	registerListProjects(s)
	registerGetProject(s)
	registerCreateProject(s)
	registerUpdateProject(s)
	registerDeleteProject(s)
	registerListProjectMembers(s)
	registerAddProjectMembers(s)
	registerRemoveProjectMembers(s)

	registerListUsers(s)
	registerGetUser(s)
	registerCreateUser(s)
	registerUpdateUser(s)
	registerDeleteUser(s)

	registerListKeypairs(s)
	registerGetKeypair(s)
	registerCreateKeypair(s)
	registerUpdateKeypair(s)
	registerDeleteKeypair(s)
	registerSetMainKeypair(s)
	registerGetMyKeypair(s)
}
