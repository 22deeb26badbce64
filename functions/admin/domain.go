package admin

import (
	"time"

	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/hostperm"
)

// Domain is a tenant: it owns projects and users and caps what they may use together.
type Domain struct {
	Name                    string                           `json:"name" doc:"Domain name, unique." example:"default"`
	Description             *string                          `json:"description" nullable:"true" doc:"Free-form description."`
	IsActive                bool                             `json:"is_active" doc:"Whether the domain is active; deleting a domain without purge deactivates it."`
	CreatedAt               time.Time                        `json:"created_at" doc:"When the domain was created."`
	ModifiedAt              time.Time                        `json:"modified_at" doc:"When the domain was last changed."`
	TotalResourceSlots      map[string]string                `json:"total_resource_slots" doc:"Most resources the domain's sessions may occupy together: slot → decimal amount (bytes for memory) or \"Infinity\"; {} means no limit." example:"{\"cpu\":\"64\",\"mem\":\"274877906944\"}"`
	AllowedVfolderHosts     map[string][]hostperm.Permission `json:"allowed_vfolder_hosts" doc:"Storage hosts the domain may use, each with the permissions granted on it." example:"{\"local:volume1\":[\"create-vfolder\",\"mount-in-session\"]}"`
	AllowedDockerRegistries []string                         `json:"allowed_docker_registries" doc:"Container registries the domain's sessions may pull images from." example:"[\"cr.backend.ai\"]"`
	IntegrationID           *string                          `json:"integration_id" nullable:"true" doc:"Identifier of the domain in an external system."`
}

// DomainList is a page of domains.
type DomainList struct {
	Items      []Domain `json:"items" doc:"The domains of this page, by name."`
	TotalCount int64    `json:"total_count" doc:"Number of domains in all pages."`
}

type domainOutput struct {
	Body Domain
}

// DomainParam is the {name} path parameter of domain operations.
type DomainParam struct {
	Name string `path:"name" minLength:"1" maxLength:"64" doc:"Domain name."`
}

// domainFromRow converts a database row.
func domainFromRow(r *dbsqlc.Domain) (Domain, error) {
	total, err := decodeSlots(r.TotalResourceSlots)
	if err != nil {
		return Domain{}, err
	}
	hosts, err := hostperm.Decode(r.AllowedVfolderHosts)
	if err != nil {
		return Domain{}, err
	}
	return Domain{
		Name:                    r.Name,
		Description:             r.Description,
		IsActive:                r.IsActive,
		CreatedAt:               r.CreatedAt,
		ModifiedAt:              r.ModifiedAt,
		TotalResourceSlots:      total,
		AllowedVfolderHosts:     hosts,
		AllowedDockerRegistries: nonNil(r.AllowedDockerRegistries),
		IntegrationID:           r.IntegrationID,
	}, nil
}
