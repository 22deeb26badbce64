package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
)

// KeypairUpdate is the body of update-keypair: only the fields given change.
type KeypairUpdate struct {
	IsActive       *bool   `json:"is_active,omitempty" doc:"Whether requests signed with the keypair are accepted."`
	IsAdmin        *bool   `json:"is_admin,omitempty" doc:"Whether the keypair may call admin operations. Only superadmins may set it for users who are not admins."`
	ResourcePolicy *string `json:"resource_policy,omitempty" minLength:"1" maxLength:"256" doc:"Keypair resource policy; it must exist."`
	RateLimit      *int32  `json:"rate_limit,omitempty" minimum:"1" doc:"Most requests per 15 minutes."`
}

func registerUpdateKeypair(s *functions.Server) {
	type input struct {
		KeypairParam
		Body KeypairUpdate
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "update-keypair", Method: http.MethodPatch, Path: "/admin/keypairs/{access_key}",
		Summary:     "Update a keypair",
		Description: "Changes the fields given and leaves the others. Superadmins only.",
		Tag:         tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded,
		Errors: []int{http.StatusServiceUnavailable, http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*keypairOutput, error) {
		b := in.Body
		kp, err := s.AdminService().ModifyKeypair(ctx, svcCaller(ctx), in.AccessKey, adminsvc.KeypairModify{
			IsActive:       b.IsActive,
			IsAdmin:        b.IsAdmin,
			ResourcePolicy: b.ResourcePolicy,
			RateLimit:      b.RateLimit,
		})
		if err != nil {
			return nil, functions.FromService(err)
		}
		return &keypairOutput{Body: keypairFromRow(kp.Keypair, kp.IsMain, false)}, nil
	})
}
