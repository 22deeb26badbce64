package admin

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
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
			"anyone but its owner again. A user without a main access key gets this one as main. Domain admins " +
			"create keypairs for users of their own domain, never for superadmins.",
		Tag: tag, Role: functions.Admin, Frozen: functions.WriteOp, Status: http.StatusCreated,
		Errors: []int{http.StatusForbidden, http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*keypairOutput, error) {
		b := in.Body
		id := caller(ctx)
		var out Keypair
		err := db.InTx(ctx, s.Deps().Pool, func(tx pgx.Tx) error {
			u, err := lookupUser(ctx, tx, b.User)
			if err != nil {
				return err
			}
			if err := checkUser(id, u); err != nil {
				return err
			}
			isAdmin := deref(b.IsAdmin, false)
			if err := checkAdminFlag(id, isAdmin, u.Role); err != nil {
				return err
			}
			kp, err := insertKeypair(ctx, tx, newKeypair{
				user:           u,
				isActive:       deref(b.IsActive, true),
				isAdmin:        isAdmin,
				resourcePolicy: deref(b.ResourcePolicy, defaultPolicy),
				rateLimit:      deref(b.RateLimit, int32(defaultRateLimit)),
			})
			if err != nil {
				return err
			}
			isMain := false
			if u.MainAccessKey == nil && kp.IsActive {
				if _, err := db.Q.UserSetMainAccessKey(ctx, tx, &dbsqlc.UserSetMainAccessKeyParams{Uuid: u.Uuid, MainAccessKey: &kp.AccessKey}); err != nil {
					return err
				}
				isMain = true
			}
			out = keypairFromRow(kp, isMain, true)
			return nil
		})
		if err != nil {
			return nil, functions.FromDB(err, "keypair")
		}
		return &keypairOutput{Body: out}, nil
	})
}
