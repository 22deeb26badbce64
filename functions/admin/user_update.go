package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

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
			"Superadmins only.",
		Tag: tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded,
		Errors: []int{http.StatusServiceUnavailable, http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*userOutput, error) {
		b := in.Body
		um := adminsvc.UserModify{
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
			um.Status = &st
		}
		if b.Role != nil {
			r := dbsqlc.UserRole(*b.Role)
			um.Role = &r
		}
		u, err := s.AdminService().ModifyUser(ctx, svcCaller(ctx), in.User, um)
		if err != nil {
			return nil, functions.FromService(err)
		}
		return &userOutput{Body: userFromService(*u)}, nil
	})
}
