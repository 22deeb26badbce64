package admin

import (
	"context"

	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
	"github.com/hangar-run/hangar/internal/hostperm"
)

// DomainUpdate is the body of update-domain: only the fields given change.
type DomainUpdate struct {
	NewName                 *string                          `json:"new_name,omitempty" minLength:"1" maxLength:"64" pattern:"^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$" doc:"Renames the domain (ASCII letters, digits, '.', '_' and '-', starting and ending with a letter or digit); its projects, users and scaling group associations follow." example:"research-2"`
	Description             *string                          `json:"description,omitempty" maxLength:"512" doc:"Free-form description."`
	IsActive                *bool                            `json:"is_active,omitempty" doc:"Whether the domain is active."`
	TotalResourceSlots      map[string]string                `json:"total_resource_slots,omitempty" doc:"Replaces the resource limit: known slot → amount; {} means no limit."`
	AllowedVfolderHosts     map[string][]hostperm.Permission `json:"allowed_vfolder_hosts,omitempty" doc:"Replaces the storage hosts and their permissions."`
	AllowedDockerRegistries []string                         `json:"allowed_docker_registries,omitempty" doc:"Replaces the allowed container registries."`
	IntegrationID           *string                          `json:"integration_id,omitempty" maxLength:"512" doc:"Identifier of the domain in an external system."`
}

func registerUpdateDomain(s *functions.Server) {
	type input struct {
		DomainParam
		Body DomainUpdate
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "update-domain", Method: http.MethodPatch, Path: "/admin/domains/{name}",
		Summary:     "Update a domain",
		Description: "Changes the fields given and leaves the others. new_name renames the domain (400 if the name is taken).",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded,
		Errors: []int{http.StatusServiceUnavailable, http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*domainOutput, error) {
		b := in.Body
		row, err := s.AdminService().ModifyDomain(ctx, svcCaller(ctx), in.Name, adminsvc.DomainModify{
			Name:                    b.NewName,
			Description:             b.Description,
			IsActive:                b.IsActive,
			TotalResourceSlots:      b.TotalResourceSlots,
			AllowedVfolderHosts:     b.AllowedVfolderHosts,
			AllowedDockerRegistries: b.AllowedDockerRegistries,
			IntegrationID:           b.IntegrationID,
		})
		if err != nil {
			return nil, functions.FromService(err)
		}
		d, err := domainFromRow(row)
		if err != nil {
			return nil, err
		}
		return &domainOutput{Body: d}, nil
	})
}
