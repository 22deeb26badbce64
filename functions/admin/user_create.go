package admin

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// UserCreate is the body of create-user.
type UserCreate struct {
	Email              string   `json:"email" format:"email" minLength:"3" maxLength:"64" doc:"E-mail address, unique; the login name." example:"alice@example.com"`
	Username           *string  `json:"username,omitempty" minLength:"1" maxLength:"64" doc:"User name, unique. Default: the part of the e-mail address before '@'." example:"alice"`
	Password           string   `json:"password" minLength:"8" maxLength:"72" doc:"Password, stored only as a bcrypt hash." example:"correct-horse-battery"`
	FullName           *string  `json:"full_name,omitempty" maxLength:"64" doc:"Full name."`
	Description        *string  `json:"description,omitempty" maxLength:"500" doc:"Free-form description."`
	Status             *string  `json:"status,omitempty" enum:"active,inactive,deleted,before-verification" default:"active" doc:"Account status; the generated keypair is active only for active users."`
	DomainName         *string  `json:"domain_name,omitempty" minLength:"1" maxLength:"64" doc:"Domain of the user. Default: the caller's domain; domain admins may only use their own." example:"default"`
	Role               *string  `json:"role,omitempty" enum:"superadmin,admin,user,monitor" default:"user" doc:"Role. Only superadmins may create admins and superadmins."`
	NeedPasswordChange *bool    `json:"need_password_change,omitempty" default:"false" doc:"Whether the user must change the password at the next login."`
	ResourcePolicy     *string  `json:"resource_policy,omitempty" minLength:"1" maxLength:"256" default:"default" doc:"User resource policy; it must exist."`
	GroupIDs           []string `json:"group_ids,omitempty" maxItems:"1000" doc:"Projects to join, by id; they must be in the user's domain." example:"[\"2de2b969-1d04-48a6-af16-0bc8adb3c831\"]"`
	AllowedClientIP    []string `json:"allowed_client_ip,omitempty" maxItems:"1000" doc:"Addresses and CIDR networks the user may sign requests from; absent or [] means anywhere." example:"[\"10.0.0.0/8\"]"`
}

// UserCreated answers create-user: the user and the keypair generated for them, with its
// secret key shown this once.
type UserCreated struct {
	User
	Keypair Keypair `json:"keypair" doc:"The user's generated main keypair, with its secret key: store it now, it is not shown to anyone but the user again."`
}

func registerCreateUser(s *functions.Server) {
	type input struct {
		Body UserCreate
	}
	type output struct {
		Body UserCreated
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "create-user", Method: http.MethodPost, Path: "/admin/users",
		Summary: "Create a user",
		Description: "Creates a user with a generated main keypair (is_admin for admins and superadmins, resource " +
			"policy \"default\", rate limit 30000) and answers both; the secret key is shown this once. The password " +
			"is stored as a bcrypt hash. Domain admins create users in their own domain only, and never admins or " +
			"superadmins. A duplicate e-mail address or user name, or an unknown domain or resource policy, is 400.",
		Tag: tag, Role: functions.Admin, Frozen: functions.WriteOp, Status: http.StatusCreated,
		Errors: []int{http.StatusForbidden},
	}), func(ctx context.Context, in *input) (*output, error) {
		b := in.Body
		id := caller(ctx)
		if err := checkEmail("email", b.Email); err != nil {
			return nil, err
		}
		domain := deref(b.DomainName, id.Domain())
		if err := checkDomain(id, domain); err != nil {
			return nil, err
		}
		role := dbsqlc.UserRole(deref(b.Role, string(dbsqlc.UserRoleUser)))
		if err := checkGrantRole(id, role); err != nil {
			return nil, err
		}
		groupIDs, err := parseUUIDs("group_ids", b.GroupIDs)
		if err != nil {
			return nil, err
		}
		ips, err := parseClientIPs(b.AllowedClientIP)
		if err != nil {
			return nil, err
		}
		if len(ips) == 0 {
			ips = nil
		}
		hash, err := hashPassword(s, b.Password)
		if err != nil {
			return nil, err
		}
		username := b.Username
		if username == nil {
			local, _, _ := strings.Cut(b.Email, "@")
			username = &local
		}
		status := dbsqlc.UserStatus(deref(b.Status, string(dbsqlc.UserStatusActive)))
		now := s.Deps().Clock()

		var out UserCreated
		err = db.InTx(ctx, s.Deps().Pool, func(tx pgx.Tx) error {
			if err := checkProjectsInDomain(ctx, tx, domain, groupIDs); err != nil {
				return err
			}
			u, err := db.Q.UserInsert(ctx, tx, &dbsqlc.UserInsertParams{
				Username:           username,
				Email:              b.Email,
				Password:           &hash,
				NeedPasswordChange: deref(b.NeedPasswordChange, false),
				PasswordChangedAt:  &now,
				FullName:           b.FullName,
				Description:        b.Description,
				Status:             status,
				DomainName:         domain,
				Role:               role,
				AllowedClientIp:    ips,
				ResourcePolicy:     deref(b.ResourcePolicy, defaultPolicy),
			})
			if err != nil {
				return functions.FromDB(err, "user")
			}
			kp, err := insertKeypair(ctx, tx, newKeypair{
				user:           u,
				isActive:       status == dbsqlc.UserStatusActive,
				isAdmin:        isAdminRole(role),
				resourcePolicy: defaultPolicy,
				rateLimit:      defaultRateLimit,
			})
			if err != nil {
				return functions.FromDB(err, "keypair")
			}
			if u, err = db.Q.UserSetMainAccessKey(ctx, tx, &dbsqlc.UserSetMainAccessKeyParams{Uuid: u.Uuid, MainAccessKey: &kp.AccessKey}); err != nil {
				return err
			}
			if len(groupIDs) > 0 {
				if _, err := db.Q.AssociationGroupsUsersAddGroups(ctx, tx, &dbsqlc.AssociationGroupsUsersAddGroupsParams{UserID: u.Uuid, GroupIds: groupIDs}); err != nil {
					return err
				}
			}
			if out.User, err = oneUser(ctx, tx, u); err != nil {
				return err
			}
			out.Keypair = keypairFromRow(kp, true, true)
			return nil
		})
		if err != nil {
			return nil, functions.FromDB(err, "user")
		}
		return &output{Body: out}, nil
	})
}
