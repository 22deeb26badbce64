package adminpolicy

import (
	"time"

	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// UserResourcePolicy limits what the users under it may own.
type UserResourcePolicy struct {
	Name                           string    `json:"name" doc:"Policy name." example:"default"`
	CreatedAt                      time.Time `json:"created_at" doc:"When the policy was created."`
	MaxVfolderCount                int32     `json:"max_vfolder_count" doc:"Most virtual folders a user may own; 0 means no limit."`
	MaxQuotaScopeSize              int64     `json:"max_quota_scope_size" doc:"Bytes a user's quota scope may hold; -1 means no limit."`
	MaxSessionCountPerModelSession int32     `json:"max_session_count_per_model_session" doc:"Most sessions (replicas) one model service of the user may run."`
	MaxCustomizedImageCount        int32     `json:"max_customized_image_count" doc:"Most customized images a user may keep."`
}

// UserResourcePolicyList is a page of user resource policies.
type UserResourcePolicyList struct {
	Items      []UserResourcePolicy `json:"items" doc:"The policies of this page, by name."`
	TotalCount int64                `json:"total_count" doc:"Number of policies in all pages."`
}

type userResourcePolicyOutput struct {
	Body UserResourcePolicy
}

func userResourcePolicyFromRow(r *dbsqlc.UserResourcePolicy) UserResourcePolicy {
	return UserResourcePolicy{
		Name:                           r.Name,
		CreatedAt:                      r.CreatedAt,
		MaxVfolderCount:                r.MaxVfolderCount,
		MaxQuotaScopeSize:              r.MaxQuotaScopeSize,
		MaxSessionCountPerModelSession: r.MaxSessionCountPerModelSession,
		MaxCustomizedImageCount:        r.MaxCustomizedImageCount,
	}
}
