package resolver

import (
	"context"

	"github.com/hangar-run/hangar/functions/gql/model"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// Resource policies and presets. A single policy by name is answered to any caller, as
// Backend.AI does (policies hold limits, not secrets); the lists are everything for admins
// and the caller's own policies for users.

func keypairPolicyModel(p *dbsqlc.KeypairResourcePolicy) *model.KeyPairResourcePolicy {
	return &model.KeyPairResourcePolicy{
		Name: str(p.Name), CreatedAt: timep(p.CreatedAt), DefaultForUnspecified: str(string(p.DefaultForUnspecified)),
		TotalResourceSlots: jsonOrEmpty(p.TotalResourceSlots), MaxSessionLifetime: intp(p.MaxSessionLifetime),
		MaxConcurrentSessions: intp(p.MaxConcurrentSessions), MaxContainersPerSession: intp(p.MaxContainersPerSession),
		IdleTimeout: ptr(p.IdleTimeout), AllowedVfolderHosts: jsonOrEmpty(p.AllowedVfolderHosts),
	}
}

func userPolicyModel(p *dbsqlc.UserResourcePolicy) *model.UserResourcePolicy {
	return &model.UserResourcePolicy{
		ID: "UserResourcePolicy:" + p.Name, Name: p.Name, CreatedAt: p.CreatedAt.UTC(),
		MaxVfolderCount: intp(p.MaxVfolderCount), MaxQuotaScopeSize: ptr(p.MaxQuotaScopeSize),
		MaxVfolderSize: ptr(p.MaxQuotaScopeSize), MaxSessionCountPerModelSession: intp(p.MaxSessionCountPerModelSession),
		MaxCustomizedImageCount: intp(p.MaxCustomizedImageCount),
	}
}

func projectPolicyModel(p *dbsqlc.ProjectResourcePolicy) *model.ProjectResourcePolicy {
	return &model.ProjectResourcePolicy{
		ID: "ProjectResourcePolicy:" + p.Name, Name: p.Name, CreatedAt: p.CreatedAt.UTC(),
		MaxVfolderCount: intp(p.MaxVfolderCount), MaxQuotaScopeSize: ptr(p.MaxQuotaScopeSize),
		MaxVfolderSize: ptr(p.MaxQuotaScopeSize),
	}
}

func presetModel(p *dbsqlc.ResourcePreset) *model.ResourcePreset {
	return &model.ResourcePreset{Name: str(p.Name), ResourceSlots: jsonOrEmpty(p.ResourceSlots), SharedMemory: p.SharedMemory}
}

// mapRows converts rows with conv, answering the lookup's error (translated) if any.
func mapRows[R, M any](rows []*R, err error, conv func(*R) *M) ([]*M, error) {
	if err != nil {
		return nil, db.Translate(err)
	}
	out := make([]*M, len(rows))
	for i, r := range rows {
		out[i] = conv(r)
	}
	return out, nil
}

// mapOne converts one looked-up row; a missing row is null, not an error.
func mapOne[R, M any](row *R, err error, conv func(*R) *M) (*M, error) {
	if err != nil {
		if err = db.Translate(err); db.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return conv(row), nil
}

// policyListRole is the role rule of the policy lists: admins see all (true), users their
// own (false), anyone else is refused.
func policyListRole(ctx context.Context) (all bool, err error) {
	switch caller(ctx).User.Role {
	case dbsqlc.UserRoleSuperadmin, dbsqlc.UserRoleAdmin:
		return true, nil
	case dbsqlc.UserRoleUser:
		return false, nil
	}
	return false, errUnknownClientRole
}

// keypairResourcePolicy answers the named policy, or the calling keypair's.
func (r *queriesResolver) keypairResourcePolicy(ctx context.Context, name *string) (*model.KeyPairResourcePolicy, error) {
	n := caller(ctx).Keypair.ResourcePolicy
	if name != nil {
		n = *name
	}
	p, err := db.Q.KeypairResourcePolicyGetByName(ctx, r.Deps.Pool, n)
	return mapOne(p, err, keypairPolicyModel)
}

func (r *queriesResolver) keypairResourcePolicies(ctx context.Context) ([]*model.KeyPairResourcePolicy, error) {
	all, err := policyListRole(ctx)
	if err != nil {
		return nil, err
	}
	if all {
		rows, err := db.Q.GqlKeypairResourcePolicies(ctx, r.Deps.Pool)
		return mapRows(rows, err, keypairPolicyModel)
	}
	rows, err := db.Q.GqlKeypairResourcePoliciesOfUser(ctx, r.Deps.Pool, caller(ctx).User.Uuid)
	return mapRows(rows, err, keypairPolicyModel)
}

// userResourcePolicy answers the named policy, or the calling user's.
func (r *queriesResolver) userResourcePolicy(ctx context.Context, name *string) (*model.UserResourcePolicy, error) {
	n := caller(ctx).User.ResourcePolicy
	if name != nil {
		n = *name
	}
	p, err := db.Q.UserResourcePolicyGetByName(ctx, r.Deps.Pool, n)
	return mapOne(p, err, userPolicyModel)
}

func (r *queriesResolver) userResourcePolicies(ctx context.Context) ([]*model.UserResourcePolicy, error) {
	all, err := policyListRole(ctx)
	if err != nil {
		return nil, err
	}
	if all {
		rows, err := db.Q.GqlUserResourcePolicies(ctx, r.Deps.Pool)
		return mapRows(rows, err, userPolicyModel)
	}
	p, err := r.userResourcePolicy(ctx, nil)
	if err != nil || p == nil {
		return []*model.UserResourcePolicy{}, err
	}
	return []*model.UserResourcePolicy{p}, nil
}

func (r *queriesResolver) projectResourcePolicy(ctx context.Context, name string) (*model.ProjectResourcePolicy, error) {
	p, err := db.Q.ProjectResourcePolicyGetByName(ctx, r.Deps.Pool, name)
	return mapOne(p, err, projectPolicyModel)
}

// projectResourcePolicies answers users the policies of the projects they belong to.
func (r *queriesResolver) projectResourcePolicies(ctx context.Context) ([]*model.ProjectResourcePolicy, error) {
	all, err := policyListRole(ctx)
	if err != nil {
		return nil, err
	}
	if all {
		rows, err := db.Q.GqlProjectResourcePolicies(ctx, r.Deps.Pool)
		return mapRows(rows, err, projectPolicyModel)
	}
	rows, err := db.Q.GqlProjectResourcePoliciesOfMember(ctx, r.Deps.Pool, caller(ctx).User.Uuid)
	return mapRows(rows, err, projectPolicyModel)
}

// resourcePreset answers the named preset; without a name there is none.
func (r *queriesResolver) resourcePreset(ctx context.Context, name *string) (*model.ResourcePreset, error) {
	if name == nil {
		return nil, nil
	}
	p, err := db.Q.ResourcePresetGetByName(ctx, r.Deps.Pool, *name)
	return mapOne(p, err, presetModel)
}

func (r *queriesResolver) resourcePresets(ctx context.Context) ([]*model.ResourcePreset, error) {
	rows, err := db.Q.GqlResourcePresets(ctx, r.Deps.Pool)
	return mapRows(rows, err, presetModel)
}
