// Package adminpolicy is the administration REST API for what limits and places sessions:
// keypair, user and project resource policies, resource presets, and scaling groups with
// their domain, project and keypair associations. Every operation needs a superadmin. The
// writes call the administration service (internal/adminsvc), which holds their rules for
// REST and GraphQL alike and refuses them while the manager is frozen.
//
// Resources are JSON objects with snake_case fields. Lists take limit (1..100, default 20)
// and offset and answer {"items": [...], "total_count": N}; creation answers 201, PATCH
// changes only the fields given, and deletion answers 204.
package adminpolicy

import (
	"github.com/hangar-run/hangar/functions"
)

// tag groups these operations in the OpenAPI document.
const tag = "admin"

// Register adds the area's operations to s.
func Register(s *functions.Server) {
	registerListKeypairResourcePolicies(s)
	registerGetKeypairResourcePolicy(s)
	registerCreateKeypairResourcePolicy(s)
	registerUpdateKeypairResourcePolicy(s)
	registerDeleteKeypairResourcePolicy(s)

	registerListUserResourcePolicies(s)
	registerGetUserResourcePolicy(s)
	registerCreateUserResourcePolicy(s)
	registerUpdateUserResourcePolicy(s)
	registerDeleteUserResourcePolicy(s)

	registerListProjectResourcePolicies(s)
	registerGetProjectResourcePolicy(s)
	registerCreateProjectResourcePolicy(s)
	registerUpdateProjectResourcePolicy(s)
	registerDeleteProjectResourcePolicy(s)

	registerListResourcePresets(s)
	registerGetResourcePreset(s)
	registerCreateResourcePreset(s)
	registerUpdateResourcePreset(s)
	registerDeleteResourcePreset(s)

	registerListScalingGroups(s)
	registerGetScalingGroup(s)
	registerCreateScalingGroup(s)
	registerUpdateScalingGroup(s)
	registerDeleteScalingGroup(s)

	registerListScalingGroupDomains(s)
	registerAddScalingGroupDomain(s)
	registerRemoveScalingGroupDomain(s)
	registerListScalingGroupProjects(s)
	registerAddScalingGroupProject(s)
	registerRemoveScalingGroupProject(s)
	registerListScalingGroupKeypairs(s)
	registerAddScalingGroupKeypair(s)
	registerRemoveScalingGroupKeypair(s)
}
