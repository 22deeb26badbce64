package template

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

func registerClusterDelete(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-cluster-template", Method: http.MethodDelete, Path: "/template/cluster/{template_id}", Tag: tag,
		Summary:     "Delete a cluster template",
		Description: "Deletes (deactivates) a cluster template the caller may change.",
		Role:        functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{403, 404},
	}), func(ctx context.Context, in *templateDeleteInput) (*TemplateSuccessOutput, error) {
		return deleteTemplate(ctx, s, in, dbsqlc.TemplateTypeCLUSTER)
	})
}
