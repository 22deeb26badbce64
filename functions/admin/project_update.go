package admin

import (
	"context"

	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/hostperm"
	"github.com/hangar-run/hangar/internal/names"
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
		Tag:         tag, Role: functions.Admin, Frozen: functions.WriteOp,
		Errors: []int{http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*projectOutput, error) {
		b := in.Body
		if b.Name != nil {
			if err := functions.CheckName("name", *b.Name, names.MaxShortName); err != nil {
				return nil, err
			}
		}
		pool := s.Deps().Pool
		if _, err := loadProject(ctx, pool, caller(ctx), in.id()); err != nil {
			return nil, err
		}
		params := &dbsqlc.GroupUpdateParams{
			ID:             in.id(),
			Name:           b.Name,
			Description:    b.Description,
			IsActive:       b.IsActive,
			IntegrationID:  b.IntegrationID,
			ResourcePolicy: b.ResourcePolicy,
		}
		var err error
		if b.TotalResourceSlots != nil {
			if params.TotalResourceSlots, err = encodeSlots(s, "total_resource_slots", b.TotalResourceSlots); err != nil {
				return nil, err
			}
		}
		if b.AllowedVfolderHosts != nil {
			if params.AllowedVfolderHosts, err = hostperm.Encode(b.AllowedVfolderHosts); err != nil {
				return nil, err
			}
		}
		row, err := db.Q.GroupUpdate(ctx, pool, params)
		if err != nil {
			return nil, functions.FromDB(err, "project")
		}
		p, err := projectFromRow(row)
		if err != nil {
			return nil, err
		}
		return &projectOutput{Body: p}, nil
	})
}
