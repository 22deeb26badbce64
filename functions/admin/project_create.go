package admin

import (
	"context"

	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/hostperm"
)

// ProjectCreate is the body of create-project.
type ProjectCreate struct {
	Name                string                           `json:"name" minLength:"1" maxLength:"64" pattern:"^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$" doc:"Project name, unique within the domain: ASCII letters, digits, '.', '_' and '-', starting and ending with a letter or digit." example:"team-a"`
	DomainName          *string                          `json:"domain_name,omitempty" minLength:"1" maxLength:"64" doc:"Domain of the project. Default: the caller's domain." example:"default"`
	Description         *string                          `json:"description,omitempty" maxLength:"512" doc:"Free-form description."`
	IsActive            *bool                            `json:"is_active,omitempty" default:"true" doc:"Whether the project is active."`
	TotalResourceSlots  map[string]string                `json:"total_resource_slots,omitempty" doc:"Most resources the project's sessions may occupy together: known slot → amount; \"Infinity\" means no limit. Default {} (no limit)." example:"{\"cpu\":\"16\",\"mem\":\"64g\"}"`
	AllowedVfolderHosts map[string][]hostperm.Permission `json:"allowed_vfolder_hosts,omitempty" doc:"Storage hosts the project may use, each with the permissions granted on it. Default {}."`
	IntegrationID       *string                          `json:"integration_id,omitempty" maxLength:"512" doc:"Identifier of the project in an external system."`
	ResourcePolicy      *string                          `json:"resource_policy,omitempty" minLength:"1" maxLength:"256" default:"default" doc:"Project resource policy; it must exist."`
	Type                *string                          `json:"type,omitempty" enum:"general,model-store" default:"general" doc:"Project type."`
}

func registerCreateProject(s *functions.Server) {
	type input struct {
		Body ProjectCreate
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "create-project", Method: http.MethodPost, Path: "/admin/projects",
		Summary: "Create a project",
		Description: "Creates a project (a Backend.AI group) in a domain. Domain admins create projects in their own " +
			"domain only (403 otherwise). A name already used in the domain, or an unknown domain or resource policy, is 400.",
		Tag: tag, Role: functions.Admin, Frozen: functions.ServiceGuarded, Status: http.StatusCreated,
		Errors: []int{http.StatusServiceUnavailable, http.StatusForbidden},
	}), func(ctx context.Context, in *input) (*projectOutput, error) {
		b := in.Body
		var typ *dbsqlc.ProjectType
		if b.Type != nil {
			t := dbsqlc.ProjectType(*b.Type)
			typ = &t
		}
		row, err := s.AdminService().CreateProject(ctx, svcCaller(ctx), adminsvc.ProjectCreate{
			Name:                b.Name,
			DomainName:          b.DomainName,
			Description:         b.Description,
			IsActive:            b.IsActive,
			TotalResourceSlots:  b.TotalResourceSlots,
			AllowedVfolderHosts: b.AllowedVfolderHosts,
			IntegrationID:       b.IntegrationID,
			ResourcePolicy:      b.ResourcePolicy,
			Type:                typ,
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
