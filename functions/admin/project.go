package admin

import (
	"time"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/hostperm"
)

// Project is a Backend.AI group: users of a domain who share storage and resource limits.
type Project struct {
	ID                  uuid.UUID                        `json:"id" doc:"Project id." example:"2de2b969-1d04-48a6-af16-0bc8adb3c831"`
	Name                string                           `json:"name" doc:"Project name, unique within its domain." example:"default"`
	Description         *string                          `json:"description" nullable:"true" doc:"Free-form description."`
	IsActive            bool                             `json:"is_active" doc:"Whether the project is active; deleting a project without purge deactivates it."`
	CreatedAt           time.Time                        `json:"created_at" doc:"When the project was created."`
	ModifiedAt          time.Time                        `json:"modified_at" doc:"When the project was last changed."`
	DomainName          string                           `json:"domain_name" doc:"Domain the project belongs to." example:"default"`
	TotalResourceSlots  map[string]string                `json:"total_resource_slots" doc:"Most resources the project's sessions may occupy together: slot → decimal amount (bytes for memory) or \"Infinity\"; {} means no limit."`
	AllowedVfolderHosts map[string][]hostperm.Permission `json:"allowed_vfolder_hosts" doc:"Storage hosts the project may use, each with the permissions granted on it."`
	IntegrationID       *string                          `json:"integration_id" nullable:"true" doc:"Identifier of the project in an external system."`
	ResourcePolicy      string                           `json:"resource_policy" doc:"Project resource policy." example:"default"`
	Type                string                           `json:"type" enum:"general,model-store" doc:"Project type: general, or model-store for the project holding a domain's model store."`
}

// ProjectList is a page of projects.
type ProjectList struct {
	Items      []Project `json:"items" doc:"The projects of this page, by domain and name."`
	TotalCount int64     `json:"total_count" doc:"Number of projects in all pages."`
}

type projectOutput struct {
	Body Project
}

// ProjectParam is the {project_id} path parameter of project operations.
type ProjectParam struct {
	ProjectID string `path:"project_id" format:"uuid" doc:"Project id."`
}

// id returns the parsed project id (format-validated by the schema).
func (p ProjectParam) id() uuid.UUID {
	id, _ := uuid.Parse(p.ProjectID)
	return id
}

// projectFromRow converts a database row.
func projectFromRow(r *dbsqlc.Group) (Project, error) {
	total, err := decodeSlots(r.TotalResourceSlots)
	if err != nil {
		return Project{}, err
	}
	hosts, err := hostperm.Decode(r.AllowedVfolderHosts)
	if err != nil {
		return Project{}, err
	}
	return Project{
		ID:                  r.ID,
		Name:                r.Name,
		Description:         r.Description,
		IsActive:            r.IsActive,
		CreatedAt:           r.CreatedAt,
		ModifiedAt:          r.ModifiedAt,
		DomainName:          r.DomainName,
		TotalResourceSlots:  total,
		AllowedVfolderHosts: hosts,
		IntegrationID:       r.IntegrationID,
		ResourcePolicy:      r.ResourcePolicy,
		Type:                string(r.Type),
	}, nil
}
