package adminpolicy

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
)

// UserResourcePolicyUpdate is the body of update-user-resource-policy: only the fields given
// change.
type UserResourcePolicyUpdate struct {
	MaxVfolderCount                *int32 `json:"max_vfolder_count,omitempty" minimum:"0" doc:"Most virtual folders a user may own; 0 means no limit."`
	MaxQuotaScopeSize              *int64 `json:"max_quota_scope_size,omitempty" minimum:"-1" doc:"Bytes a user's quota scope may hold; -1 means no limit."`
	MaxSessionCountPerModelSession *int32 `json:"max_session_count_per_model_session,omitempty" minimum:"0" doc:"Most sessions (replicas) one model service of the user may run."`
	MaxCustomizedImageCount        *int32 `json:"max_customized_image_count,omitempty" minimum:"0" doc:"Most customized images a user may keep."`
}

func registerUpdateUserResourcePolicy(s *functions.Server) {
	type input struct {
		NameParam
		Body UserResourcePolicyUpdate
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "update-user-resource-policy", Method: http.MethodPatch, Path: "/admin/user-resource-policies/{name}",
		Summary:     "Update a user resource policy",
		Description: "Changes the fields given and leaves the others.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded,
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*userResourcePolicyOutput, error) {
		b := in.Body
		row, err := s.AdminService().ModifyUserResourcePolicy(ctx, svcCaller(ctx), in.Name, adminsvc.UserResourcePolicyModify{
			MaxVfolderCount:                b.MaxVfolderCount,
			MaxQuotaScopeSize:              b.MaxQuotaScopeSize,
			MaxSessionCountPerModelSession: b.MaxSessionCountPerModelSession,
			MaxCustomizedImageCount:        b.MaxCustomizedImageCount,
		})
		if err != nil {
			return nil, functions.FromService(err)
		}
		return &userResourcePolicyOutput{Body: userResourcePolicyFromRow(row)}, nil
	})
}
