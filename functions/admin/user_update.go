package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// statusInfoAdmin records that an administrator set a user's status.
const statusInfoAdmin = "admin-requested"

// UserUpdate is the body of update-user: only the fields given change.
type UserUpdate struct {
	Username           *string  `json:"username,omitempty" minLength:"1" maxLength:"64" doc:"User name, unique."`
	Password           *string  `json:"password,omitempty" minLength:"8" maxLength:"72" doc:"New password, stored only as a bcrypt hash; password_changed_at is set."`
	FullName           *string  `json:"full_name,omitempty" maxLength:"64" doc:"Full name."`
	Description        *string  `json:"description,omitempty" maxLength:"500" doc:"Free-form description."`
	Status             *string  `json:"status,omitempty" enum:"active,inactive,deleted,before-verification" doc:"Account status. Leaving active deactivates all the user's keypairs; returning to active reactivates the main one."`
	DomainName         *string  `json:"domain_name,omitempty" minLength:"1" maxLength:"64" doc:"Moves the user to another domain (superadmins only); memberships of projects outside it end."`
	Role               *string  `json:"role,omitempty" enum:"superadmin,admin,user,monitor" doc:"Role. Only superadmins may grant admin or superadmin. The user's keypairs become is_admin exactly when the role is admin or superadmin."`
	NeedPasswordChange *bool    `json:"need_password_change,omitempty" doc:"Whether the user must change the password at the next login."`
	ResourcePolicy     *string  `json:"resource_policy,omitempty" minLength:"1" maxLength:"256" doc:"User resource policy; it must exist."`
	GroupIDs           []string `json:"group_ids,omitempty" maxItems:"1000" doc:"Replaces the user's projects, by id; they must be in the user's domain. [] leaves every project."`
	AllowedClientIP    []string `json:"allowed_client_ip,omitempty" maxItems:"1000" doc:"Replaces the addresses and CIDR networks the user may sign requests from; [] means anywhere."`
}

func registerUpdateUser(s *functions.Server) {
	type input struct {
		UserParam
		Body UserUpdate
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "update-user", Method: http.MethodPatch, Path: "/admin/users/{user}",
		Summary: "Update a user",
		Description: "Changes the fields given and leaves the others; the user is named by id or e-mail address. " +
			"Domain admins change users of their own domain only, never superadmins, and cannot grant admin or " +
			"superadmin or move users to another domain.",
		Tag: tag, Role: functions.Admin, Frozen: functions.WriteOp,
		Errors: []int{http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*userOutput, error) {
		b := in.Body
		id := caller(ctx)
		params := &dbsqlc.UserUpdateParams{
			Username:           b.Username,
			FullName:           b.FullName,
			Description:        b.Description,
			DomainName:         b.DomainName,
			NeedPasswordChange: b.NeedPasswordChange,
			ResourcePolicy:     b.ResourcePolicy,
		}
		if b.Role != nil {
			role := dbsqlc.UserRole(*b.Role)
			if err := checkGrantRole(id, role); err != nil {
				return nil, err
			}
			params.Role = &role
		}
		if b.Status != nil {
			status := dbsqlc.UserStatus(*b.Status)
			info := statusInfoAdmin
			params.Status, params.StatusInfo = &status, &info
		}
		if b.AllowedClientIP != nil {
			ips, err := parseClientIPs(b.AllowedClientIP)
			if err != nil {
				return nil, err
			}
			params.SetAllowedClientIp = true
			if len(ips) > 0 {
				params.AllowedClientIp = ips
			}
		}
		groupIDs, err := parseUUIDs("group_ids", b.GroupIDs)
		if err != nil {
			return nil, err
		}
		if b.Password != nil {
			hash, err := hashPassword(s, *b.Password)
			if err != nil {
				return nil, err
			}
			now := s.Deps().Clock()
			params.Password, params.PasswordChangedAt = &hash, &now
		}

		var out User
		err = db.InTx(ctx, s.Deps().Pool, func(tx pgx.Tx) error {
			old, err := lookupUser(ctx, tx, in.User)
			if err != nil {
				return err
			}
			if err := checkUser(id, old); err != nil {
				return err
			}
			if b.DomainName != nil {
				if err := checkDomain(id, *b.DomainName); err != nil {
					return err
				}
			}
			params.Uuid = old.Uuid
			u, err := db.Q.UserUpdate(ctx, tx, params)
			if err != nil {
				return functions.FromDB(err, "user")
			}
			if isAdminRole(old.Role) != isAdminRole(u.Role) {
				if err := db.Q.KeypairSetAdminByUser(ctx, tx, &dbsqlc.KeypairSetAdminByUserParams{UserUuid: u.Uuid, IsAdmin: isAdminRole(u.Role)}); err != nil {
					return err
				}
			}
			if err := syncKeypairsWithStatus(ctx, tx, old.Status, u); err != nil {
				return err
			}
			if u.DomainName != old.DomainName {
				if err := db.Q.AssociationGroupsUsersRemoveOutsideDomain(ctx, tx, &dbsqlc.AssociationGroupsUsersRemoveOutsideDomainParams{
					UserID: u.Uuid, DomainName: u.DomainName,
				}); err != nil {
					return err
				}
			}
			if b.GroupIDs != nil {
				if err := checkProjectsInDomain(ctx, tx, u.DomainName, groupIDs); err != nil {
					return err
				}
				if err := db.Q.AssociationGroupsUsersRemoveByUser(ctx, tx, u.Uuid); err != nil {
					return err
				}
				if _, err := db.Q.AssociationGroupsUsersAddGroups(ctx, tx, &dbsqlc.AssociationGroupsUsersAddGroupsParams{UserID: u.Uuid, GroupIds: groupIDs}); err != nil {
					return err
				}
			}
			out, err = oneUser(ctx, tx, u)
			return err
		})
		if err != nil {
			return nil, functions.FromDB(err, "user")
		}
		return &userOutput{Body: out}, nil
	})
}

// syncKeypairsWithStatus deactivates all keypairs of a user who stopped being active and
// reactivates the main keypair of one who became active again.
func syncKeypairsWithStatus(ctx context.Context, tx pgx.Tx, before dbsqlc.UserStatus, u *dbsqlc.User) error {
	switch {
	case u.Status == before:
		return nil
	case u.Status != dbsqlc.UserStatusActive:
		return db.Q.KeypairSetActiveByUser(ctx, tx, &dbsqlc.KeypairSetActiveByUserParams{UserUuid: u.Uuid, IsActive: false})
	case u.MainAccessKey != nil:
		active := true
		_, err := db.Q.KeypairUpdate(ctx, tx, &dbsqlc.KeypairUpdateParams{AccessKey: *u.MainAccessKey, IsActive: &active})
		return err
	}
	return nil
}
