package resolver

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/hangar-run/hangar/functions/gql/model"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// domainModels are the Domains of rows; with sgroups, their scaling_groups come from one
// query for all rows (root fields pass selects(ctx, "scaling_groups")).
func domainModels(ctx context.Context, pool db.DBTX, rows []*dbsqlc.Domain, sgroups bool) ([]*model.Domain, error) {
	out := make([]*model.Domain, len(rows))
	names := make([]string, len(rows))
	for i, d := range rows {
		names[i] = d.Name
		out[i] = &model.Domain{
			Name: str(d.Name), Description: d.Description, IsActive: ptr(d.IsActive),
			CreatedAt: timep(d.CreatedAt), ModifiedAt: timep(d.ModifiedAt),
			TotalResourceSlots: jsonOrEmpty(d.TotalResourceSlots), AllowedVfolderHosts: jsonOrEmpty(d.AllowedVfolderHosts),
			AllowedDockerRegistries: strs(d.AllowedDockerRegistries), IntegrationID: d.IntegrationID,
		}
	}
	if len(rows) == 0 || !sgroups {
		return out, nil
	}
	assoc, err := db.Q.GqlScalingGroupsOfDomains(ctx, pool, names)
	if err != nil {
		return nil, db.Translate(err)
	}
	byDomain := make(map[string][]*string, len(rows))
	for _, a := range assoc {
		byDomain[a.Domain] = append(byDomain[a.Domain], str(a.ScalingGroup))
	}
	for i, d := range rows {
		out[i].ScalingGroups = byDomain[d.Name]
		if out[i].ScalingGroups == nil {
			out[i].ScalingGroups = []*string{}
		}
	}
	return out, nil
}

// selects reports whether the current field's selection (of an object or a list of objects)
// includes the named field.
func selects(ctx context.Context, name string) bool {
	for _, f := range graphql.CollectAllFields(ctx) {
		if f == name {
			return true
		}
	}
	return false
}

// domain answers a domain by name, the caller's own by default. Only a superadmin may ask for
// another domain; anybody else gets "No such domain.".
func (r *queriesResolver) domain(ctx context.Context, name *string) (*model.Domain, error) {
	id := caller(ctx)
	n := id.Domain()
	if name != nil {
		n = *name
	}
	if id.User.Role != dbsqlc.UserRoleSuperadmin && n != id.Domain() {
		return nil, errNoSuchDomain
	}
	q := &listQuery{Select: "d.*", From: "domains d"}
	q.where("d.name = ?", n)
	rows, err := runAll[dbsqlc.Domain](ctx, r.Deps.Pool, q, 1)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	ms, err := domainModels(ctx, r.Deps.Pool, rows, selects(ctx, "scaling_groups"))
	if err != nil {
		return nil, err
	}
	return ms[0], nil
}

// domains is superadmin-only.
func (r *queriesResolver) domains(ctx context.Context, isActive *bool) ([]*model.Domain, error) {
	if err := requireSuperadmin(ctx); err != nil {
		return nil, err
	}
	q := &listQuery{Select: "d.*", From: "domains d", Tiebreak: "d.name"}
	if isActive != nil {
		q.where("d.is_active = ?", *isActive)
	}
	rows, err := runAll[dbsqlc.Domain](ctx, r.Deps.Pool, q, 0)
	if err != nil {
		return nil, err
	}
	return domainModels(ctx, r.Deps.Pool, rows, selects(ctx, "scaling_groups"))
}
