package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
)

// ProjectResourcePolicyUpdate is the body of update-project-resource-policy: only the fields given
// change.
type ProjectResourcePolicyUpdate struct {
	MaxVfolderCount   *int32 `json:"max_vfolder_count,omitempty" minimum:"0" doc:"Most virtual folders a project may own; 0 means no limit."`
	MaxQuotaScopeSize *int64 `json:"max_quota_scope_size,omitempty" minimum:"-1" doc:"Bytes a project's quota scope may hold; -1 means no limit."`
}

func registerUpdateProjectResourcePolicy(s *functions.Server) {
	type input struct {
		NameParam
		Body ProjectResourcePolicyUpdate
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "update-project-resource-policy", Method: http.MethodPatch, Path: "/admin/project-resource-policies/{name}",
		Summary:     "Update a project resource policy",
		Description: "Changes the fields given and leaves the others.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded,
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*projectResourcePolicyOutput, error) {
		b := in.Body
		row, err := s.AdminService().ModifyProjectResourcePolicy(ctx, svcCaller(ctx), in.Name, adminsvc.ProjectResourcePolicyModify{
			MaxVfolderCount:   b.MaxVfolderCount,
			MaxQuotaScopeSize: b.MaxQuotaScopeSize,
		})
		if err != nil {
			return nil, functions.FromService(err)
		}
		return &projectResourcePolicyOutput{Body: projectResourcePolicyFromRow(row)}, nil
	})
}
