package resolver

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/vikstrous/dataloadgen"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// Loaders batch the nested lookups of one request (a session's kernels, a keypair's owner, ...),
// so a page of N rows costs one query per kind of lookup, not N. They live for one request.
//
// The list root fields do not rely on the loaders' time window: they look at their selection
// set and load every nested lookup the page needs for all its rows at once, priming the
// loaders (prefetch.go), so the number of queries of a document does not depend on how the
// machine schedules the item resolvers. The time window serves what no list prefetched.
type Loaders struct {
	Kernels      *dataloadgen.Loader[uuid.UUID, []*dbsqlc.Kernel]
	Users        *dataloadgen.Loader[uuid.UUID, *dbsqlc.User]
	Groups       *dataloadgen.Loader[uuid.UUID, *dbsqlc.Group]
	UserGroups   *dataloadgen.Loader[uuid.UUID, []*dbsqlc.GqlGroupsOfUsersRow]
	Dependencies *dataloadgen.Loader[uuid.UUID, []*dbsqlc.Session]
	Aliases      *dataloadgen.Loader[uuid.UUID, []string]
	Concurrency  *dataloadgen.Loader[string, int]
	// AgentKernels are the kernels on an agent, by agent and status set (loaders_agent.go).
	AgentKernels *dataloadgen.Loader[agentKernelsKey, []*dbsqlc.Kernel]
	// KeypairSessions are a keypair's sessions, by access key and status set (loaders_admin.go).
	KeypairSessions *dataloadgen.Loader[keypairSessions, []*dbsqlc.Session]

	// pool is what the loaders and the prefetches query.
	pool db.DBTX
	// primed holds the values prefetches primed the loaders with (prefetch.go).
	mu     sync.Mutex
	primed map[primedKey]any
}

type loadersKey struct{}

// loaderWait is how long a loader collects keys before it queries: resolvers of one list run
// concurrently, so their keys arrive within microseconds.
const loaderWait = 2 * time.Millisecond

// WithLoaders returns ctx carrying fresh loaders for one request.
func WithLoaders(ctx context.Context, deps *functions.Deps) context.Context {
	pool := deps.Pool
	opts := []dataloadgen.Option{dataloadgen.WithWait(loaderWait), dataloadgen.WithBatchCapacity(1000)}
	if deps.GQLUnbatched {
		opts = []dataloadgen.Option{dataloadgen.WithBatchCapacity(1)}
	}
	l := &Loaders{
		Kernels:         dataloadgen.NewMappedLoader(bind(pool, fetchKernels), opts...),
		Users:           dataloadgen.NewMappedLoader(bind(pool, fetchUsers), opts...),
		Groups:          dataloadgen.NewMappedLoader(bind(pool, fetchGroups), opts...),
		UserGroups:      dataloadgen.NewMappedLoader(bind(pool, fetchUserGroups), opts...),
		Dependencies:    dataloadgen.NewMappedLoader(bind(pool, fetchDependencies), opts...),
		Aliases:         dataloadgen.NewMappedLoader(bind(pool, fetchAliases), opts...),
		Concurrency:     dataloadgen.NewMappedLoader(bind(pool, fetchConcurrency), opts...),
		AgentKernels:    dataloadgen.NewMappedLoader(bind(pool, fetchAgentKernels), opts...),
		KeypairSessions: dataloadgen.NewMappedLoader(bind(pool, fetchKeypairSessions), opts...),
		pool:            pool,
	}
	return context.WithValue(ctx, loadersKey{}, l)
}

// loaders returns the request's loaders.
func loaders(ctx context.Context) *Loaders {
	return ctx.Value(loadersKey{}).(*Loaders)
}

// fetcher answers a batch of keys with one value per key (the empty value when nothing
// matches); the loaders and the prefetches share them.
type fetcher[K comparable, V any] func(ctx context.Context, pool db.DBTX, keys []K) (map[K]V, error)

func bind[K comparable, V any](pool db.DBTX, f fetcher[K, V]) func(context.Context, []K) (map[K]V, error) {
	return func(ctx context.Context, keys []K) (map[K]V, error) { return f(ctx, pool, keys) }
}

func fetchKernels(ctx context.Context, pool db.DBTX, ids []uuid.UUID) (map[uuid.UUID][]*dbsqlc.Kernel, error) {
	rows, err := db.Q.GqlKernelsBySessions(ctx, pool, ids)
	if err != nil {
		return nil, db.Translate(err)
	}
	out := make(map[uuid.UUID][]*dbsqlc.Kernel, len(ids))
	for _, id := range ids {
		out[id] = []*dbsqlc.Kernel{}
	}
	for _, k := range rows {
		out[k.SessionID] = append(out[k.SessionID], k)
	}
	return out, nil
}

func fetchUsers(ctx context.Context, pool db.DBTX, ids []uuid.UUID) (map[uuid.UUID]*dbsqlc.User, error) {
	rows, err := db.Q.GqlUsersByUUIDs(ctx, pool, ids)
	if err != nil {
		return nil, db.Translate(err)
	}
	out := make(map[uuid.UUID]*dbsqlc.User, len(ids))
	for _, id := range ids {
		out[id] = nil
	}
	for _, u := range rows {
		out[u.Uuid] = u
	}
	return out, nil
}

func fetchGroups(ctx context.Context, pool db.DBTX, ids []uuid.UUID) (map[uuid.UUID]*dbsqlc.Group, error) {
	rows, err := db.Q.GqlGroupsByIDs(ctx, pool, ids)
	if err != nil {
		return nil, db.Translate(err)
	}
	out := make(map[uuid.UUID]*dbsqlc.Group, len(ids))
	for _, id := range ids {
		out[id] = nil
	}
	for _, g := range rows {
		out[g.ID] = g
	}
	return out, nil
}

func fetchUserGroups(ctx context.Context, pool db.DBTX, ids []uuid.UUID) (map[uuid.UUID][]*dbsqlc.GqlGroupsOfUsersRow, error) {
	rows, err := db.Q.GqlGroupsOfUsers(ctx, pool, ids)
	if err != nil {
		return nil, db.Translate(err)
	}
	out := make(map[uuid.UUID][]*dbsqlc.GqlGroupsOfUsersRow, len(ids))
	for _, id := range ids {
		out[id] = []*dbsqlc.GqlGroupsOfUsersRow{}
	}
	for _, r := range rows {
		out[r.UserID] = append(out[r.UserID], r)
	}
	return out, nil
}

func fetchDependencies(ctx context.Context, pool db.DBTX, ids []uuid.UUID) (map[uuid.UUID][]*dbsqlc.Session, error) {
	rows, err := db.Q.GqlSessionDependencies(ctx, pool, ids)
	if err != nil {
		return nil, db.Translate(err)
	}
	out := make(map[uuid.UUID][]*dbsqlc.Session, len(ids))
	for _, id := range ids {
		out[id] = []*dbsqlc.Session{}
	}
	for _, r := range rows {
		s := r.Session
		out[r.DependentID] = append(out[r.DependentID], &s)
	}
	return out, nil
}

func fetchAliases(ctx context.Context, pool db.DBTX, ids []uuid.UUID) (map[uuid.UUID][]string, error) {
	rows, err := db.Q.GqlAliasesOfImages(ctx, pool, ids)
	if err != nil {
		return nil, db.Translate(err)
	}
	out := make(map[uuid.UUID][]string, len(ids))
	for _, id := range ids {
		out[id] = []string{}
	}
	for _, r := range rows {
		out[r.Image] = append(out[r.Image], r.Alias)
	}
	return out, nil
}

func fetchConcurrency(ctx context.Context, pool db.DBTX, keys []string) (map[string]int, error) {
	rows, err := db.Q.GqlLiveSessionCountsByAccessKeys(ctx, pool, keys)
	if err != nil {
		return nil, db.Translate(err)
	}
	out := make(map[string]int, len(keys))
	for _, k := range keys {
		out[k] = 0
	}
	for _, r := range rows {
		out[r.AccessKey] = int(r.Used)
	}
	return out, nil
}
