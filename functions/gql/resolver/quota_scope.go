package resolver

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions/gql/model"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/hostperm"
)

// vfolderHostPermissions lists every storage-host permission there is.
func vfolderHostPermissions() *model.PredefinedAtomicPermission {
	all := hostperm.All()
	out := make([]*string, len(all))
	for i, p := range all {
		out[i] = str(string(p))
	}
	return &model.PredefinedAtomicPermission{VfolderHostPermissionList: out}
}

// quotaScope answers a quota scope ("user:<uuid>" or "project:<uuid>") on a storage host
// ("<proxy>:<volume>") of a configured storage proxy. A superadmin may ask for any scope, a
// domain admin for those of its domain, a user for its own and its projects'. Usage is not
// measured here (no storage proxy is queried), so usage_bytes and usage_count are null and
// hard_limit_bytes is the owner's resource-policy max_quota_scope_size (null when unlimited),
// which is Backend.AI's answer when the storage proxy cannot be asked.
func (r *queriesResolver) quotaScope(ctx context.Context, host, scopeID string) (*model.QuotaScope, error) {
	kind, rawID, ok := strings.Cut(scopeID, ":")
	owner, err := uuid.Parse(rawID)
	if !ok || err != nil || (kind != "user" && kind != "project") {
		return nil, errInvalidParams(fmt.Sprintf("invalid quota scope id %q: expected user:<uuid> or project:<uuid>", scopeID))
	}
	var (
		domain string
		limit  int64
	)
	id := caller(ctx)
	if kind == "user" {
		u, err := db.Q.UserGetByUUID(ctx, r.Deps.Pool, owner)
		if err != nil && !db.IsNotFound(err) {
			return nil, db.Translate(err)
		}
		if u != nil {
			domain = u.DomainName
			if p, err := db.Q.UserResourcePolicyGetByName(ctx, r.Deps.Pool, u.ResourcePolicy); err == nil {
				limit = p.MaxQuotaScopeSize
			}
		}
		if id.User.Role == dbsqlc.UserRoleUser && owner != id.User.Uuid {
			return nil, errForbidden
		}
	} else {
		g, err := db.Q.GroupGetByID(ctx, r.Deps.Pool, owner)
		if err != nil && !db.IsNotFound(err) {
			return nil, db.Translate(err)
		}
		if g != nil {
			domain = g.DomainName
			if p, err := db.Q.ProjectResourcePolicyGetByName(ctx, r.Deps.Pool, g.ResourcePolicy); err == nil {
				limit = p.MaxQuotaScopeSize
			}
		}
		if id.User.Role == dbsqlc.UserRoleUser {
			q := groupQuery(id.Domain(), id.User.Uuid)
			q.where("g.id = ?", owner)
			rows, err := runAll[dbsqlc.Group](ctx, r.Deps.Pool, q, 1)
			if err != nil {
				return nil, err
			}
			if len(rows) == 0 {
				return nil, errForbidden
			}
		}
	}
	switch id.User.Role {
	case dbsqlc.UserRoleSuperadmin, dbsqlc.UserRoleUser:
	case dbsqlc.UserRoleAdmin:
		if domain != id.Domain() {
			return nil, errForbidden
		}
	default:
		return nil, errUnknownClientRole
	}
	proxy, _, _ := strings.Cut(host, ":")
	if proxy == "" || r.Deps.Shared == nil || len(r.Deps.Shared.GetPrefix("volumes/proxies/"+proxy)) == 0 {
		return nil, fmt.Errorf("storage volume %s does not exist", host)
	}
	details := &model.QuotaDetails{}
	if limit > 0 {
		details.HardLimitBytes = &limit
	}
	return &model.QuotaScope{
		ID: "QuotaScope:" + host + "/" + scopeID, QuotaScopeID: scopeID, StorageHostName: host, Details: details,
	}, nil
}
