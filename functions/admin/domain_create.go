package admin

import (
	"context"

	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
	"github.com/hangar-run/hangar/internal/hostperm"
)

// DomainCreate is the body of create-domain.
type DomainCreate struct {
	Name                    string                           `json:"name" minLength:"1" maxLength:"64" pattern:"^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$" doc:"Domain name, unique: ASCII letters, digits, '.', '_' and '-', starting and ending with a letter or digit." example:"research"`
	Description             *string                          `json:"description,omitempty" maxLength:"512" doc:"Free-form description."`
	IsActive                *bool                            `json:"is_active,omitempty" default:"true" doc:"Whether the domain is active."`
	TotalResourceSlots      map[string]string                `json:"total_resource_slots,omitempty" doc:"Most resources the domain's sessions may occupy together: known slot → amount. Memory-like slots take binary sizes such as \"64g\"; \"Infinity\" means no limit. Default {} (no limit)." example:"{\"cpu\":\"64\",\"mem\":\"256g\"}"`
	AllowedVfolderHosts     map[string][]hostperm.Permission `json:"allowed_vfolder_hosts,omitempty" doc:"Storage hosts the domain may use, each with the permissions granted on it. Default {}."`
	AllowedDockerRegistries []string                         `json:"allowed_docker_registries,omitempty" doc:"Container registries the domain's sessions may pull from. Default []." example:"[\"cr.backend.ai\"]"`
	IntegrationID           *string                          `json:"integration_id,omitempty" maxLength:"512" doc:"Identifier of the domain in an external system."`
}

func registerCreateDomain(s *functions.Server) {
	type input struct {
		Body DomainCreate
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "create-domain", Method: http.MethodPost, Path: "/admin/domains",
		Summary:     "Create a domain",
		Description: "Creates a domain. Resource slots must be known slots; their amounts are normalized (binary sizes become bytes). A duplicate name is 400.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusCreated,
		Errors: []int{http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*domainOutput, error) {
		b := in.Body
		row, err := s.AdminService().CreateDomain(ctx, svcCaller(ctx), adminsvc.DomainCreate{
			Name:                    b.Name,
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
