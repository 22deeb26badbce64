package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
)

// KeypairCreate is the body of create-keypair.
type KeypairCreate struct {
	User           string  `json:"user" minLength:"1" maxLength:"64" doc:"Owner, by id (uuid) or e-mail address." example:"user@lablup.com"`
	IsActive       *bool   `json:"is_active,omitempty" default:"true" doc:"Whether requests signed with the keypair are accepted."`
	IsAdmin        *bool   `json:"is_admin,omitempty" default:"false" doc:"Whether the keypair may call admin operations. Only superadmins may set it for users who are not admins."`
	ResourcePolicy *string `json:"resource_policy,omitempty" minLength:"1" maxLength:"256" default:"default" doc:"Keypair resource policy; it must exist."`
	RateLimit      *int32  `json:"rate_limit,omitempty" minimum:"1" default:"30000" doc:"Most requests per 15 minutes."`
}

func registerCreateKeypair(s *functions.Server) {
	type input struct {
		Body KeypairCreate
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "create-keypair", Method: http.MethodPost, Path: "/admin/keypairs",
		Summary: "Create a keypair",
		Description: "Generates a keypair for a user and answers it with its secret key, which is not shown to " +
			"anyone but its owner again. A user without a main access key gets this one as main. Superadmins only.",
		Tag: tag, Role: functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusCreated,
		Errors: []int{http.StatusServiceUnavailable, http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*keypairOutput, error) {
		b := in.Body
		kp, err := s.AdminService().CreateKeypair(ctx, svcCaller(ctx), adminsvc.KeypairCreate{
			User:           b.User,
			IsActive:       b.IsActive,
			IsAdmin:        b.IsAdmin,
			ResourcePolicy: b.ResourcePolicy,
			RateLimit:      b.RateLimit,
		})
		if err != nil {
			return nil, functions.FromService(err)
		}
		return &keypairOutput{Body: keypairFromRow(kp.Keypair, kp.IsMain, true)}, nil
	})
}
