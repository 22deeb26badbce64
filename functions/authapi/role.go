package authapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

type authRoleInput struct {
	Body struct {
		Group *string `json:"group,omitempty" nullable:"true" format:"uuid" doc:"Project id: also report the caller's role in it (the caller must be a member)." example:"2de2b969-1d04-48a6-af16-0bc8adb3c831"`
	} `required:"false"`
}

// AuthRoleOutput is the answer of GET /auth/role.
type AuthRoleOutput struct {
	Body struct {
		GlobalRole string  `json:"global_role" enum:"superadmin,user" doc:"superadmin for superadmins, user for everyone else." example:"user"`
		DomainRole string  `json:"domain_role" enum:"admin,user" doc:"admin when the caller's keypair is an admin keypair, user otherwise." example:"user"`
		GroupRole  *string `json:"group_role" nullable:"true" doc:"user when a project was given (per-project roles do not exist yet), null otherwise." example:"user"`
	}
}

func registerGetRole(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-role", Method: http.MethodGet, Path: "/auth/role", Tag: tag,
		Summary:     "The caller's roles",
		Description: "The caller's global and domain role and, with a project id, their role in that project.",
		Role:        functions.User, Params: true,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *authRoleInput) (*AuthRoleOutput, error) {
		id := functions.IdentityFrom(ctx)
		out := &AuthRoleOutput{}
		out.Body.GlobalRole, out.Body.DomainRole = "user", "user"
		if id.IsSuperadmin() {
			out.Body.GlobalRole = "superadmin"
		}
		if id.IsAdmin() {
			out.Body.DomainRole = "admin"
		}
		if in.Body.Group != nil {
			gid, err := uuid.Parse(*in.Body.Group)
			if err != nil {
				return nil, functions.ErrInvalidAPIParams("Invalid project id.", map[string]string{"group": "must be a UUID"})
			}
			member, err := db.Q.AuthGroupMember(ctx, s.Deps().Pool, &dbsqlc.AuthGroupMemberParams{GroupID: gid, UserID: id.UserUUID()})
			if err != nil {
				return nil, functions.FromDB(err, "project (user group)")
			}
			if !member {
				return nil, functions.ErrObjectNotFound("project (user group)", "No such project or you are not the member of it.")
			}
			role := "user"
			out.Body.GroupRole = &role
		}
		return out, nil
	})
}
