package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
)

// UserResourcePolicyCreate is the body of create-user-resource-policy.
type UserResourcePolicyCreate struct {
	Name                           string `json:"name" minLength:"1" maxLength:"256" pattern:"^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$" doc:"Policy name, unique: ASCII letters, digits, '.', '_' and '-', starting and ending with a letter or digit." example:"researchers"`
	MaxVfolderCount                *int32 `json:"max_vfolder_count,omitempty" minimum:"0" default:"0" doc:"Most virtual folders a user may own; 0 means no limit."`
	MaxQuotaScopeSize              *int64 `json:"max_quota_scope_size,omitempty" minimum:"-1" default:"-1" doc:"Bytes a user's quota scope may hold; -1 means no limit."`
	MaxSessionCountPerModelSession *int32 `json:"max_session_count_per_model_session,omitempty" minimum:"0" default:"10" doc:"Most sessions (replicas) one model service of the user may run."`
	MaxCustomizedImageCount        *int32 `json:"max_customized_image_count,omitempty" minimum:"0" default:"3" doc:"Most customized images a user may keep."`
}

func registerCreateUserResourcePolicy(s *functions.Server) {
	type input struct {
		Body UserResourcePolicyCreate
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "create-user-resource-policy", Method: http.MethodPost, Path: "/admin/user-resource-policies",
		Summary:     "Create a user resource policy",
		Description: "Creates a user resource policy.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusCreated,
		Errors: []int{http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*userResourcePolicyOutput, error) {
		b := in.Body
		row, err := s.AdminService().CreateUserResourcePolicy(ctx, svcCaller(ctx), adminsvc.UserResourcePolicyCreate{
			Name:                           b.Name,
			MaxVfolderCount:                b.MaxVfolderCount,
			MaxQuotaScopeSize:              b.MaxQuotaScopeSize,
			MaxSessionCountPerModelSession: b.MaxSessionCountPerModelSession,
			MaxCustomizedImageCount:        b.MaxCustomizedImageCount,
		})
		if err != nil {
			return nil, functions.FromService(err)
		}
		return &userResourcePolicyOutput{Body: userResourcePolicyFromRow(row)}, nil
	})
}
