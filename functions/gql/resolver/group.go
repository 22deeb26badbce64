package resolver

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions/gql/model"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// projectTypeNames are ProjectType names (what GraphQL speaks) and the stored values.
var projectTypeNames = map[string]dbsqlc.ProjectType{ //nolint:gochecknoglobals // read-only table
	"GENERAL":     dbsqlc.ProjectTypeGeneral,
	"MODEL_STORE": dbsqlc.ProjectTypeModelStore,
}

func projectTypeName(t dbsqlc.ProjectType) string {
	for n, v := range projectTypeNames {
		if v == t {
			return n
		}
	}
	return string(t)
}

// groupModels are the Groups of rows; with sgroups, their scaling_groups come from one query
// for all rows (root fields pass selects(ctx, "scaling_groups")).
func groupModels(ctx context.Context, pool db.DBTX, rows []*dbsqlc.Group, sgroups bool) ([]*model.Group, error) {
	out := make([]*model.Group, len(rows))
	ids := make([]uuid.UUID, len(rows))
	for i, g := range rows {
		ids[i] = g.ID
		out[i] = &model.Group{
			ID: uuidp(g.ID), Name: str(g.Name), Description: g.Description, IsActive: ptr(g.IsActive),
			CreatedAt: timep(g.CreatedAt), ModifiedAt: timep(g.ModifiedAt), DomainName: str(g.DomainName),
			TotalResourceSlots: jsonOrEmpty(g.TotalResourceSlots), AllowedVfolderHosts: jsonOrEmpty(g.AllowedVfolderHosts),
			IntegrationID: g.IntegrationID, ResourcePolicy: str(g.ResourcePolicy), Type: str(projectTypeName(g.Type)),
			ContainerRegistry: model.RawJSON(g.ContainerRegistry),
		}
	}
	if len(rows) == 0 || !sgroups {
		return out, nil
	}
	assoc, err := db.Q.GqlScalingGroupsOfGroups(ctx, pool, ids)
	if err != nil {
		return nil, db.Translate(err)
	}
	byGroup := make(map[uuid.UUID][]*string, len(rows))
	for _, a := range assoc {
		byGroup[a.GroupID] = append(byGroup[a.GroupID], str(a.ScalingGroup))
	}
	for i, g := range rows {
		out[i].ScalingGroups = byGroup[g.ID]
		if out[i].ScalingGroups == nil {
			out[i].ScalingGroups = []*string{}
		}
	}
	return out, nil
}

// groupQuery is the base of the group fields: domain "" means every domain; member (when not
// uuid.Nil) keeps the general projects that user belongs to.
func groupQuery(domain string, member uuid.UUID) *listQuery {
	q := &listQuery{Select: "g.*", From: "groups g", Tiebreak: "g.domain_name, g.name, g.id"}
	if domain != "" {
		q.where("g.domain_name = ?", domain)
	}
	if member != uuid.Nil {
		q.where("g.type = 'general' AND g.id IN (SELECT group_id FROM association_groups_users WHERE user_id = ?)", member)
	}
	return q
}

// groupScope is the scope of group and groups_by_name: a superadmin sees every domain
// (domain_name narrows it), an admin its own domain (naming another is refused), a user the
// general projects it belongs to, in its domain.
func groupScope(ctx context.Context, domainName *string) (*listQuery, error) {
	id := caller(ctx)
	switch id.User.Role {
	case dbsqlc.UserRoleSuperadmin:
		d := ""
		if domainName != nil {
			d = *domainName
		}
		return groupQuery(d, uuid.Nil), nil
	case dbsqlc.UserRoleAdmin:
		if domainName != nil && *domainName != id.Domain() {
			return nil, errInsufficientPriv
		}
		return groupQuery(id.Domain(), uuid.Nil), nil
	case dbsqlc.UserRoleUser:
		return groupQuery(id.Domain(), id.User.Uuid), nil
	}
	return nil, errUnknownClientRole
}

func (r *queriesResolver) runGroups(ctx context.Context, q *listQuery) ([]*model.Group, error) {
	rows, err := runAll[dbsqlc.Group](ctx, r.Deps.Pool, q, 0)
	if err != nil {
		return nil, err
	}
	return groupModels(ctx, r.Deps.Pool, rows, selects(ctx, "scaling_groups"))
}

// group answers one project; a user who is not a member of it is refused whether or not it
// exists, and a project outside the caller's scope is null.
func (r *queriesResolver) group(ctx context.Context, id uuid.UUID, domainName *string) (*model.Group, error) {
	q, err := groupScope(ctx, domainName)
	if err != nil {
		return nil, err
	}
	q.where("g.id = ?", id)
	gs, err := r.runGroups(ctx, q)
	if err != nil {
		return nil, err
	}
	if len(gs) == 0 {
		if caller(ctx).User.Role == dbsqlc.UserRoleUser {
			return nil, errInsufficientPriv
		}
		return nil, nil
	}
	return gs[0], nil
}

func (r *queriesResolver) groupsByName(ctx context.Context, name string, domainName *string) ([]*model.Group, error) {
	q, err := groupScope(ctx, domainName)
	if err != nil {
		return nil, err
	}
	q.where("g.name = ?", name)
	return r.runGroups(ctx, q)
}

// groups lists projects: a superadmin's filtered by the arguments, an admin's within its
// domain, and a user's own general projects whatever the arguments.
func (r *queriesResolver) groups(ctx context.Context, domainName *string, isActive *bool, typeArg []*string) ([]*model.Group, error) {
	id := caller(ctx)
	if id.User.Role == dbsqlc.UserRoleUser {
		return r.runGroups(ctx, groupQuery(id.Domain(), id.User.Uuid))
	}
	types := []string{}
	for _, t := range typeArg {
		if t == nil {
			continue
		}
		v, ok := projectTypeNames[*t]
		if !ok {
			return nil, fmt.Errorf("'%s'", *t)
		}
		types = append(types, string(v))
	}
	q, err := groupScope(ctx, domainName)
	if err != nil {
		return nil, err
	}
	if isActive != nil {
		q.where("g.is_active = ?", *isActive)
	}
	if typeArg != nil {
		q.where("g.type::text = ANY(?)", types)
	}
	return r.runGroups(ctx, q)
}
