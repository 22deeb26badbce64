package admin

import (
	"context"

	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
	"github.com/hangar-run/hangar/internal/hostperm"
)

// ProjectUpdate is the body of update-project: only the fields given change.
type ProjectUpdate struct {
	Name                *string                          `json:"name,omitempty" minLength:"1" maxLength:"64" pattern:"^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$" doc:"Renames the project (ASCII letters, digits, '.', '_' and '-', starting and ending with a letter or digit; 400 if the name is taken in its domain)."`
	Description         *string                          `json:"description,omitempty" maxLength:"512" doc:"Free-form description."`
	IsActive            *bool                            `json:"is_active,omitempty" doc:"Whether the project is active."`
	TotalResourceSlots  map[string]string                `json:"total_resource_slots,omitempty" doc:"Replaces the resource limit: known slot → amount; {} means no limit."`
	AllowedVfolderHosts map[string][]hostperm.Permission `json:"allowed_vfolder_hosts,omitempty" doc:"Replaces the storage hosts and their permissions."`
	IntegrationID       *string                          `json:"integration_id,omitempty" maxLength:"512" doc:"Identifier of the project in an external system."`
	ResourcePolicy      *string                          `json:"resource_policy,omitempty" minLength:"1" maxLength:"256" doc:"Project resource policy; it must exist."`
}

func registerUpdateProject(s *functions.Server) {
	type input struct {
		ProjectParam
		Body ProjectUpdate
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "update-project", Method: http.MethodPatch, Path: "/admin/projects/{project_id}",
		Summary:     "Update a project",
		Description: "Changes the fields given and leaves the others. Domain admins change projects of their own domain only. Members are managed with the members operations.",
		Tag:         tag, Role: functions.Admin, Frozen: functions.ServiceGuarded,
		Errors: []int{http.StatusServiceUnavailable, http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*projectOutput, error) {
		b := in.Body
		row, err := s.AdminService().ModifyProject(ctx, svcCaller(ctx), in.id(), adminsvc.ProjectModify{
			Name:                b.Name,
			Description:         b.Description,
			IsActive:            b.IsActive,
			TotalResourceSlots:  b.TotalResourceSlots,
			AllowedVfolderHosts: b.AllowedVfolderHosts,
			IntegrationID:       b.IntegrationID,
			ResourcePolicy:      b.ResourcePolicy,
		})
		if err != nil {
			return nil, functions.FromService(err)
		}
		p, err := projectFromRow(row)
		if err != nil {
			return nil, err
		}
		return &projectOutput{Body: p}, nil
	})
}
