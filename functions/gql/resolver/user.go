package resolver

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions/gql/model"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/minilang"
)

// usersCap is how many rows the unpaginated users field answers at most, as Backend.AI does.
const usersCap = 100

// userStatuses are UserStatus names and the values stored for them.
var userStatuses = map[string]dbsqlc.UserStatus{ //nolint:gochecknoglobals // read-only table
	"ACTIVE":              dbsqlc.UserStatusActive,
	"INACTIVE":            dbsqlc.UserStatusInactive,
	"DELETED":             dbsqlc.UserStatusDeleted,
	"BEFORE_VERIFICATION": dbsqlc.UserStatusBeforeVerification,
}

// userFields is user_list's filter/order table. Every name has a converter, so a literal of
// the wrong type is a parsing error, never a database error. is_active is the status being
// active, and resource_policy the user's policy (the columns Backend.AI meant).
var userFields = typedFields(minilang.Fields{ //nolint:gochecknoglobals // read-only table
	"uuid":                 {Column: "u.uuid", Convert: minilang.UUID},
	"username":             {Column: "u.username", Convert: minilang.AsString},
	"email":                {Column: "u.email", Convert: minilang.AsString},
	"need_password_change": {Column: "u.need_password_change", Convert: minilang.AsBool},
	"full_name":            {Column: "u.full_name", Convert: minilang.AsString},
	"description":          {Column: "u.description", Convert: minilang.AsString, NoOrder: true},
	"is_active":            {Column: "(u.status = 'active')", Convert: minilang.AsBool},
	"status":               {Column: "u.status", OrderExpr: "u.status::text", Convert: userStatusValue},
	"status_info":          {Column: "u.status_info", Convert: minilang.AsString},
	"created_at":           {Column: "u.created_at", Convert: minilang.Timestamp},
	"modified_at":          {Column: "u.modified_at", Convert: minilang.Timestamp},
	"domain_name":          {Column: "u.domain_name", Convert: minilang.AsString},
	"role":                 {Column: "u.role", OrderExpr: "u.role::text", Convert: userRoleValue},
	"resource_policy":      {Column: "u.resource_policy", Convert: minilang.AsString},
	"allowed_client_ip":    {Column: "u.allowed_client_ip", Array: true, Convert: cidrValue, NoOrder: true},
	"totp_activated":       {Column: "u.totp_activated", Convert: minilang.AsBool},
	"totp_activated_at":    {Column: "u.totp_activated_at", Convert: minilang.Timestamp},
	"sudo_session_enabled": {Column: "u.sudo_session_enabled", Convert: minilang.AsBool},
	"main_access_key":      {Column: "u.main_access_key", Convert: minilang.AsString},
})

// userStatusValue converts a UserStatus name (ACTIVE, before_verification, ...) or value
// (before-verification) to the stored value.
func userStatusValue(v minilang.Value) (any, error) {
	if v.Kind == minilang.String {
		if s, ok := userStatuses[strings.ToUpper(v.S)]; ok {
			return string(s), nil
		}
		if dbsqlc.UserStatus(v.S).Valid() {
			return v.S, nil
		}
	}
	return nil, fmt.Errorf("expected one of `ACTIVE, INACTIVE, DELETED, BEFORE_VERIFICATION` or lower names; got `%s`", v.Raw)
}

// userRoleValue converts a UserRole name (SUPERADMIN, admin, ...) to the stored value.
func userRoleValue(v minilang.Value) (any, error) {
	if v.Kind == minilang.String {
		if r := dbsqlc.UserRole(strings.ToLower(v.S)); r.Valid() {
			return string(r), nil
		}
	}
	return nil, fmt.Errorf("expected one of `SUPERADMIN, ADMIN, USER, MONITOR` or lower names; got `%s`", v.Raw)
}

// cidrValue converts an address ("10.0.0.5") or network ("10.0.0.0/24") literal to the
// network PostgreSQL's cidr type holds; host bits right of the mask are refused, as cidr does.
func cidrValue(v minilang.Value) (any, error) {
	if v.Kind == minilang.String {
		if a, err := netip.ParseAddr(v.S); err == nil {
			return netip.PrefixFrom(a, a.BitLen()), nil
		}
		if p, err := netip.ParsePrefix(v.S); err == nil && p == p.Masked() {
			return p, nil
		}
	}
	return nil, fmt.Errorf("expected an IP address or network, e.g. \"10.0.0.0/24\"; got `%s`", v.Raw)
}

// userStatusArg is the status argument of users/user_list: one UserStatus value.
func userStatusArg(status *string) (string, error) {
	if status == nil {
		return "", nil
	}
	if !dbsqlc.UserStatus(*status).Valid() {
		return "", fmt.Errorf("'%s' is not a valid UserStatus", *status)
	}
	return *status, nil
}

func userModel(u *dbsqlc.User) *model.User {
	return &model.User{
		ID: idOf(u.Uuid.String()), UUID: uuidp(u.Uuid), Username: u.Username, Email: str(u.Email),
		NeedPasswordChange: ptr(u.NeedPasswordChange), FullName: u.FullName, Description: u.Description,
		IsActive: ptr(u.Status == dbsqlc.UserStatusActive), Status: str(string(u.Status)),
		StatusInfo: u.StatusInfo, CreatedAt: timep(u.CreatedAt), ModifiedAt: timep(u.ModifiedAt),
		DomainName: str(u.DomainName), Role: str(string(u.Role)), ResourcePolicy: str(u.ResourcePolicy),
		AllowedClientIP: cidrs(u.AllowedClientIp), TotpActivated: ptr(u.TotpActivated),
		TotpActivatedAt: optTime(u.TotpActivatedAt), SudoSessionEnabled: ptr(u.SudoSessionEnabled),
		MainAccessKey: u.MainAccessKey,
	}
}

func userModels(rows []*dbsqlc.User) []*model.User {
	out := make([]*model.User, len(rows))
	for i, u := range rows {
		out[i] = userModel(u)
	}
	return out
}

// userQuery is the base of the user fields; domain "" means every domain.
func userQuery(domain string) *listQuery {
	q := &listQuery{
		Select: "u.*", From: "users u",
		Fields: userFields, DefaultOrder: "u.created_at DESC", Tiebreak: "u.uuid",
	}
	if domain != "" {
		q.where("u.domain_name = ?", domain)
	}
	return q
}

// oneUser answers the user matching the scope and cond, or nil.
func (r *queriesResolver) oneUser(ctx context.Context, sc scope, cond string, val any) (*model.User, error) {
	q := userQuery(sc.Domain)
	q.where(cond, val)
	rows, err := runAll[dbsqlc.User](ctx, r.Deps.Pool, q, 1)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	if err := prefetchUsers(ctx, rows, rootSelection(ctx, "User")); err != nil {
		return nil, err
	}
	return userModel(rows[0]), nil
}

// user is scoped on the e-mail address, which defaults to the caller's own.
func (r *queriesResolver) user(ctx context.Context, domainName, email *string) (*model.User, error) {
	sc, err := scopeOn(ctx, domainName, email, caller(ctx).User.Email, true)
	if err != nil {
		return nil, err
	}
	return r.oneUser(ctx, sc, "u.email = ?", sc.Key)
}

// userFromUUID is scoped on the user id, which defaults to the caller's own; ids are compared
// as UUIDs, so a user naming itself in any spelling is answered.
func (r *queriesResolver) userFromUUID(ctx context.Context, domainName, userID *string) (*model.User, error) {
	var key *string
	if userID != nil {
		id, err := uuid.Parse(*userID)
		if err != nil {
			return nil, fmt.Errorf("badly formed hexadecimal UUID string")
		}
		key = str(id.String())
	}
	sc, err := scopeOn(ctx, domainName, key, caller(ctx).User.Uuid.String(), true)
	if err != nil {
		return nil, err
	}
	return r.oneUser(ctx, sc, "u.uuid = ?", uuid.MustParse(sc.Key))
}

// userListQuery applies the admin-only scope and the arguments shared by users and user_list.
func userListQuery(ctx context.Context, domainName *string, groupID *uuid.UUID, isActive *bool, status *string) (*listQuery, error) {
	if caller(ctx).User.Role == dbsqlc.UserRoleMonitor {
		return nil, errUnknownClientRole
	}
	domain, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if domainName != nil && *domainName != "" {
		if domain != "" && *domainName != domain {
			return nil, errInsufficientPriv
		}
		domain = *domainName
	}
	st, err := userStatusArg(status)
	if err != nil {
		return nil, err
	}
	q := userQuery(domain)
	if groupID != nil {
		q.where("u.uuid IN (SELECT user_id FROM association_groups_users WHERE group_id = ?)", *groupID)
	}
	switch {
	case st != "":
		q.where("u.status = ?", st)
	case isActive != nil && *isActive:
		q.where("u.status = 'active'")
	case isActive != nil:
		q.where("u.status <> 'active'")
	}
	return q, nil
}

func (r *queriesResolver) users(ctx context.Context, domainName *string, groupID *uuid.UUID, isActive *bool, status *string) ([]*model.User, error) {
	q, err := userListQuery(ctx, domainName, groupID, isActive, status)
	if err != nil {
		return nil, err
	}
	rows, err := runAll[dbsqlc.User](ctx, r.Deps.Pool, q, usersCap)
	if err != nil {
		return nil, err
	}
	if err := prefetchUsers(ctx, rows, rootSelection(ctx, "User")); err != nil {
		return nil, err
	}
	return userModels(rows), nil
}

func (r *queriesResolver) userList(ctx context.Context, limit, offset int, filter, order, domainName *string, groupID *uuid.UUID, isActive *bool, status *string) (*model.UserList, error) {
	q, err := userListQuery(ctx, domainName, groupID, isActive, status)
	if err != nil {
		return nil, err
	}
	rows, total, err := runList[dbsqlc.User](ctx, r.Deps.Pool, q, limit, offset, filter, order)
	if err != nil {
		return nil, err
	}
	if err := prefetchUsers(ctx, rows, pageSelection(ctx, "User")); err != nil {
		return nil, err
	}
	return &model.UserList{Items: userModels(rows), TotalCount: total}, nil
}

// userGroups is every project the user belongs to, the model store included.
func userGroups(ctx context.Context, obj *model.User) ([]*model.UserGroup, error) {
	if obj.UUID == nil {
		return nil, nil
	}
	gs, err := loaders(ctx).UserGroups.Load(ctx, *obj.UUID)
	if err != nil {
		return nil, err
	}
	out := make([]*model.UserGroup, len(gs))
	for i, g := range gs {
		out[i] = &model.UserGroup{ID: uuidp(g.ID), Name: str(g.Name)}
	}
	return out, nil
}
