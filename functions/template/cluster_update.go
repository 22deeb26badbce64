package template

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

type clusterTemplateUpdateInput struct {
	TemplateID string `path:"template_id" doc:"Template id (with or without dashes)."`
	Body       struct {
		Payload        string  `json:"payload" doc:"The cluster template, as JSON or YAML text."`
		OwnerAccessKey *string `json:"owner_access_key,omitempty" nullable:"true" doc:"Accepted for compatibility (admins only)."`
	}
}

func registerClusterUpdate(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "update-cluster-template", Method: http.MethodPut, Path: "/template/cluster/{template_id}", Tag: tag,
		Summary:     "Replace a cluster template",
		Description: "Replaces the content (and name) of a cluster template the caller may change.",
		Role:        functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{403, 404},
	}), func(ctx context.Context, in *clusterTemplateUpdateInput) (*TemplateSuccessOutput, error) {
		if err := checkOwnerKey(ctx, s, in.Body.OwnerAccessKey); err != nil {
			return nil, err
		}
		row, err := load(ctx, s, in.TemplateID, dbsqlc.TemplateTypeCLUSTER, true)
		if err != nil {
			return nil, err
		}
		t, raw, err := clusterPayload(in.Body.Payload)
		if err != nil {
			return nil, err
		}
		name := t.Name
		n, err := db.Q.TemplateUpdate(ctx, s.Deps().Pool, &dbsqlc.TemplateUpdateParams{
			GroupID: row.GroupID, UserUuid: row.UserUuid, Name: &name, Template: raw, ID: row.ID, Type: dbsqlc.TemplateTypeCLUSTER,
		})
		if err != nil {
			return nil, functions.FromDB(err, "task template")
		}
		if n == 0 {
			return nil, errNotFound()
		}
		return success(), nil
	})
}
