package template

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// ClusterTemplateListOutput is the answer of GET /template/cluster.
type ClusterTemplateListOutput struct {
	Body []TemplateListed
}

func registerClusterList(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-cluster-templates", Method: http.MethodGet, Path: "/template/cluster", Tag: tag,
		Summary: "List cluster templates",
		Description: "The cluster templates the caller sees: their own and those of their projects (a domain " +
			"admin's: those of the domain); with all, a superadmin's: every one. group_id keeps one project's.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true, Aliases: listAliases,
	}), func(ctx context.Context, in *templateListInput) (*ClusterTemplateListOutput, error) {
		rows, err := list(ctx, s, dbsqlc.TemplateTypeCLUSTER, in.Body.All, in.Body.GroupID)
		if err != nil {
			return nil, err
		}
		return &ClusterTemplateListOutput{Body: rows}, nil
	})
}
