package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
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
	DomainName         *string  `json:"domain_name,omitempty" minLength:"1" maxLength:"64" doc:"Domain of the user. Default: the caller's domain." example:"default"`
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
			"is stored as a bcrypt hash. The user joins the projects given and their domain's model-store projects. " +
			"Superadmins only. A duplicate e-mail address or user name, or an unknown domain or resource policy, is 400.",
		Tag: tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusCreated,
		Errors: []int{http.StatusServiceUnavailable, http.StatusForbidden},
	}), func(ctx context.Context, in *input) (*output, error) {
		b := in.Body
		uc := adminsvc.UserCreate{
			Email:              b.Email,
			Username:           b.Username,
			Password:           b.Password,
			FullName:           b.FullName,
			Description:        b.Description,
			DomainName:         b.DomainName,
			NeedPasswordChange: b.NeedPasswordChange,
			ResourcePolicy:     b.ResourcePolicy,
			GroupIDs:           b.GroupIDs,
			AllowedClientIP:    b.AllowedClientIP,
		}
		if b.Status != nil {
			st := dbsqlc.UserStatus(*b.Status)
			uc.Status = &st
		}
		if b.Role != nil {
			r := dbsqlc.UserRole(*b.Role)
			uc.Role = &r
		}
		u, err := s.AdminService().CreateUser(ctx, svcCaller(ctx), uc)
		if err != nil {
			return nil, functions.FromService(err)
		}
		return &output{Body: UserCreated{User: userFromService(u.User), Keypair: keypairFromRow(u.Keypair, true, true)}}, nil
	})
}
