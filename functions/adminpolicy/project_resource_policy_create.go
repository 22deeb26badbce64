package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
)

// ProjectResourcePolicyCreate is the body of create-project-resource-policy.
type ProjectResourcePolicyCreate struct {
	Name              string `json:"name" minLength:"1" maxLength:"256" pattern:"^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$" doc:"Policy name, unique: ASCII letters, digits, '.', '_' and '-', starting and ending with a letter or digit." example:"research-lab"`
	MaxVfolderCount   *int32 `json:"max_vfolder_count,omitempty" minimum:"0" default:"0" doc:"Most virtual folders a project may own; 0 means no limit."`
	MaxQuotaScopeSize *int64 `json:"max_quota_scope_size,omitempty" minimum:"-1" default:"-1" doc:"Bytes a project's quota scope may hold; -1 means no limit."`
}

func registerCreateProjectResourcePolicy(s *functions.Server) {
	type input struct {
		Body ProjectResourcePolicyCreate
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "create-project-resource-policy", Method: http.MethodPost, Path: "/admin/project-resource-policies",
		Summary:     "Create a project resource policy",
		Description: "Creates a project resource policy.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusCreated,
		Errors: []int{http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*projectResourcePolicyOutput, error) {
		b := in.Body
		row, err := s.AdminService().CreateProjectResourcePolicy(ctx, svcCaller(ctx), adminsvc.ProjectResourcePolicyCreate{
			Name:              b.Name,
			MaxVfolderCount:   b.MaxVfolderCount,
			MaxQuotaScopeSize: b.MaxQuotaScopeSize,
		})
		if err != nil {
			return nil, functions.FromService(err)
		}
		return &projectResourcePolicyOutput{Body: projectResourcePolicyFromRow(row)}, nil
	})
}
