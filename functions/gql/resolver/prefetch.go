package resolver

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vikstrous/dataloadgen"

	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// Prefetching: a root field that answers rows looks at what the document selects on them and
// loads each nested lookup (a session's kernels, a keypair's owner, a user's projects, ...)
// for all its rows in one query, then primes the request's loaders with the answers, before
// it returns. The item resolvers then find every value in the loaders' cache, so a document
// costs the same queries for one row as for a thousand, however the machine schedules the
// resolvers. Nested rows (a session's dependencies, a keypair's sessions) are prefetched the
// same way, level by level.

// selection is what a document selects on objects of one type (fragments applied, aliases
// kept apart).
type selection []graphql.CollectedField

// rootSelection is the selection on the objects a root field returns (the objects themselves
// or a list of them).
func rootSelection(ctx context.Context, typ string) selection {
	if !graphql.HasOperationContext(ctx) || graphql.GetFieldContext(ctx) == nil {
		return nil
	}
	return graphql.CollectFieldsCtx(ctx, []string{typ})
}

// pageSelection is the selection on the items of a paginated root field ({items, total_count}),
// over every alias of items.
func pageSelection(ctx context.Context, typ string) selection {
	if !graphql.HasOperationContext(ctx) || graphql.GetFieldContext(ctx) == nil {
		return nil
	}
	op := graphql.GetOperationContext(ctx)
	var out selection
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name == "items" {
			out = append(out, graphql.CollectFields(op, f.Selections, []string{typ})...)
		}
	}
	return out
}

// has reports whether any of names is selected.
func (s selection) has(names ...string) bool {
	for _, f := range s {
		for _, n := range names {
			if f.Name == n {
				return true
			}
		}
	}
	return false
}

// nested is one selected field of objects (typ) with what it selects on them.
type nested struct {
	field graphql.CollectedField
	sel   selection
}

// nested lists the selections (one per alias) of the field name, whose objects are of type typ.
func (s selection) nested(ctx context.Context, name, typ string) []nested {
	var out []nested
	for _, f := range s {
		if f.Name == name {
			out = append(out, nested{field: f, sel: graphql.CollectFields(graphql.GetOperationContext(ctx), f.Selections, []string{typ})})
		}
	}
	return out
}

// stringArg is the value of a String argument of f (nil when absent or null).
func stringArg(ctx context.Context, f graphql.CollectedField, name string) *string {
	if f.Field == nil || f.Definition == nil {
		return nil
	}
	if v, ok := f.ArgumentMap(graphql.GetOperationContext(ctx).Variables)[name].(string); ok {
		return &v
	}
	return nil
}

// primedKey names a key a prefetch already primed a loader with.
type primedKey struct{ loader, key any }

// prefetch loads keys in one batch of fetch and primes loader with the answers. Keys primed
// before (by another level or root field of the document) are not fetched again. It answers
// the value of every key.
func prefetch[K comparable, V any](ctx context.Context, loader *dataloadgen.Loader[K, V], fetch fetcher[K, V], keys []K) (map[K]V, error) {
	l := loaders(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.primed == nil {
		l.primed = map[primedKey]any{}
	}
	out := make(map[K]V, len(keys))
	var missing []K
	for _, k := range keys {
		if _, done := out[k]; done {
			continue
		}
		if v, ok := l.primed[primedKey{loader, k}]; ok {
			out[k] = v.(V)
			continue
		}
		var zero V
		out[k] = zero
		missing = append(missing, k)
	}
	if len(missing) == 0 {
		return out, nil
	}
	vals, err := fetch(ctx, l.pool, missing)
	if err != nil {
		return nil, err
	}
	for _, k := range missing {
		v := vals[k]
		out[k] = v
		l.primed[primedKey{loader, k}] = v
		loader.Prime(k, v)
	}
	return out, nil
}

// sessionKernelFields are the ComputeSession fields computed from the session's kernels.
var sessionKernelFields = []string{ //nolint:gochecknoglobals // read-only table
	"main_kernel_id", "abusing_reports", "resource_opts", "service_ports", "occupying_slots",
	"occupied_slots", "containers",
}

// prefetchSessions loads what sel needs of the sessions rows: kernels, projects, owners and
// dependencies (and, recursively, what is selected on the dependencies).
func prefetchSessions(ctx context.Context, rows []*dbsqlc.Session, sel selection) error {
	if len(rows) == 0 || len(sel) == 0 {
		return nil
	}
	l := loaders(ctx)
	ids := make([]uuid.UUID, len(rows))
	for i, s := range rows {
		ids[i] = s.ID
	}
	if sel.has(sessionKernelFields...) {
		if _, err := prefetch(ctx, l.Kernels, fetchKernels, ids); err != nil {
			return err
		}
	}
	if sel.has("group_name") {
		groups := make([]uuid.UUID, len(rows))
		for i, s := range rows {
			groups[i] = s.GroupID
		}
		if _, err := prefetch(ctx, l.Groups, fetchGroups, groups); err != nil {
			return err
		}
	}
	if sel.has("user_email", "full_name") {
		users := make([]uuid.UUID, len(rows))
		for i, s := range rows {
			users[i] = s.UserUuid
		}
		if _, err := prefetch(ctx, l.Users, fetchUsers, users); err != nil {
			return err
		}
	}
	deps := sel.nested(ctx, "dependencies", "ComputeSession")
	if len(deps) == 0 {
		return nil
	}
	m, err := prefetch(ctx, l.Dependencies, fetchDependencies, ids)
	if err != nil {
		return err
	}
	var all []*dbsqlc.Session
	for _, id := range ids {
		all = append(all, m[id]...)
	}
	var depSel selection
	for _, d := range deps {
		depSel = append(depSel, d.sel...)
	}
	return prefetchSessions(ctx, all, depSel)
}

// prefetchKeypairs loads what sel needs of the keypairs rows: the owners, their projects, the
// concurrency counts and the keypairs' sessions per status argument (and what is selected on
// those sessions).
func prefetchKeypairs(ctx context.Context, rows []*dbsqlc.Keypair, sel selection) error {
	if len(rows) == 0 || len(sel) == 0 {
		return nil
	}
	l := loaders(ctx)
	owners := make([]uuid.UUID, len(rows))
	keys := make([]string, len(rows))
	for i, k := range rows {
		owners[i], keys[i] = k.User, k.AccessKey
	}
	if sel.has("projects") {
		if _, err := prefetch(ctx, l.UserGroups, fetchUserGroups, owners); err != nil {
			return err
		}
	}
	if sel.has("user_info") {
		if _, err := prefetch(ctx, l.Users, fetchUsers, owners); err != nil {
			return err
		}
	}
	if sel.has("concurrency_used") {
		if _, err := prefetch(ctx, l.Concurrency, fetchConcurrency, keys); err != nil {
			return err
		}
	}
	for _, n := range sel.nested(ctx, "compute_sessions", "ComputeSession") {
		statuses, err := statusNames(stringArg(ctx, n.field, "status"), sessionStatuses)
		if err != nil {
			continue // the field's resolver reports the bad argument
		}
		set := strings.Join(statuses, ",")
		batch := make([]keypairSessions, len(rows))
		for i, k := range rows {
			batch[i] = keypairSessions{AccessKey: k.AccessKey, Statuses: set}
		}
		m, err := prefetch(ctx, l.KeypairSessions, fetchKeypairSessions, batch)
		if err != nil {
			return err
		}
		var all []*dbsqlc.Session
		for _, k := range batch {
			all = append(all, m[k]...)
		}
		if err := prefetchSessions(ctx, all, n.sel); err != nil {
			return err
		}
	}
	return nil
}

// prefetchUsers loads what sel needs of the users rows: their projects.
func prefetchUsers(ctx context.Context, rows []*dbsqlc.User, sel selection) error {
	if len(rows) == 0 || !sel.has("groups") {
		return nil
	}
	ids := make([]uuid.UUID, len(rows))
	for i, u := range rows {
		ids[i] = u.Uuid
	}
	_, err := prefetch(ctx, loaders(ctx).UserGroups, fetchUserGroups, ids)
	return err
}

// prefetchAgents loads what sel needs of the agents rows: their containers per status argument.
func prefetchAgents(ctx context.Context, rows []*agentRow, sel selection) error {
	if len(rows) == 0 {
		return nil
	}
	for _, n := range sel.nested(ctx, "compute_containers", "ComputeContainer") {
		status := stringArg(ctx, n.field, "status")
		batch := make([]agentKernelsKey, 0, len(rows))
		for _, a := range rows {
			k, err := agentKernelsFor(a.ID, status)
			if err != nil {
				break // the field's resolver reports the bad argument
			}
			batch = append(batch, k)
		}
		if _, err := prefetch(ctx, loaders(ctx).AgentKernels, fetchAgentKernels, batch); err != nil {
			return err
		}
	}
	return nil
}

// prefetchImages loads what sel needs of the images rows: their aliases.
func prefetchImages(ctx context.Context, rows []*imageRow, sel selection) error {
	if len(rows) == 0 || !sel.has("aliases") {
		return nil
	}
	ids := make([]uuid.UUID, len(rows))
	for i, im := range rows {
		ids[i] = im.ID
	}
	_, err := prefetch(ctx, loaders(ctx).Aliases, fetchAliases, ids)
	return err
}
