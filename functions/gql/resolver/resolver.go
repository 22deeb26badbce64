// Package resolver holds the resolvers of /admin/gql: <area>.resolvers.go per schema file
// (gqlgen keeps their bodies when it regenerates), loaders.go the per-request batch loaders,
// scope.go the role scoping and lists.go the one place dynamic list SQL is built.
package resolver

import (
	"github.com/hangar-run/hangar/functions"
)

// Resolver is the root resolver; Deps are the API's dependencies.
type Resolver struct {
	Deps *functions.Deps
}
