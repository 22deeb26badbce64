package resolver

import (
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions/gql/generated"
)

// SetComplexity prices the list root fields: a page costs its size times its items' cost, so
// a document cannot ask for more rows than the endpoint's complexity limit allows, whatever
// the aliases.
func SetComplexity(c *generated.ComplexityRoot) {
	page := func(child, limit int) int {
		if limit < 1 {
			limit = 1
		}
		return 1 + limit*max(child, 1)
	}
	q := &c.Queries
	q.ComputeSessionList = func(child, limit, _ int, _, _, _, _, _, _ *string) int { return page(child, limit) }
	q.ComputeContainerList = func(child, limit, _ int, _, _ *string, _ string, _ *string) int { return page(child, limit) }
	// Nested lists of a session are bounded by its cluster size; count them as a few rows.
	c.ComputeSession.Containers = func(child int) int { return 1 + 8*max(child, 1) }
	c.ComputeSession.Dependencies = func(child int) int { return 1 + 8*max(child, 1) }
	q.AgentList = func(child, limit, _ int, _, _, _, _ *string) int { return page(child, limit) }
	q.AgentSummaryList = func(child, limit, _ int, _, _, _, _ *string) int { return page(child, limit) }
	// An agent holds a few dozen containers at most.
	c.Agent.ComputeContainers = func(child int, _ *string) int { return 1 + 32*max(child, 1) }
	q.UserList = func(child, limit, _ int, _, _, _ *string, _ *uuid.UUID, _ *bool, _ *string) int {
		return page(child, limit)
	}
	q.Users = func(child int, _ *string, _ *uuid.UUID, _ *bool, _ *string) int { return page(child, usersCap) }
	q.KeypairList = func(child, limit, _ int, _, _, _, _ *string, _ *bool) int { return page(child, limit) }
	// A keypair answers at most sessionsPerKeypair sessions.
	c.KeyPair.ComputeSessions = func(child int, _ *string) int { return 1 + sessionsPerKeypair*max(child, 1) }
}
