package adminpolicy

import (
	"time"

	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// ProjectResourcePolicy limits what the projects under it may own.
type ProjectResourcePolicy struct {
	Name              string    `json:"name" doc:"Policy name." example:"default"`
	CreatedAt         time.Time `json:"created_at" doc:"When the policy was created."`
	MaxVfolderCount   int32     `json:"max_vfolder_count" doc:"Most virtual folders a project may own; 0 means no limit."`
	MaxQuotaScopeSize int64     `json:"max_quota_scope_size" doc:"Bytes a project's quota scope may hold; -1 means no limit."`
}

// ProjectResourcePolicyList is a page of project resource policies.
type ProjectResourcePolicyList struct {
	Items      []ProjectResourcePolicy `json:"items" doc:"The policies of this page, by name."`
	TotalCount int64                   `json:"total_count" doc:"Number of policies in all pages."`
}

type projectResourcePolicyOutput struct {
	Body ProjectResourcePolicy
}

func projectResourcePolicyFromRow(r *dbsqlc.ProjectResourcePolicy) ProjectResourcePolicy {
	return ProjectResourcePolicy{
		Name:              r.Name,
		CreatedAt:         r.CreatedAt,
		MaxVfolderCount:   r.MaxVfolderCount,
		MaxQuotaScopeSize: r.MaxQuotaScopeSize,
	}
}
