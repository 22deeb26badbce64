package template

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"go.yaml.in/yaml/v3"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

type clusterTemplateGetInput struct {
	TemplateID string `path:"template_id" doc:"Template id (with or without dashes)."`
	Body       struct {
		Format         *string `json:"format,omitempty" nullable:"true" enum:"yaml,json" doc:"Answer as YAML (default) or JSON."`
		OwnerAccessKey *string `json:"owner_access_key,omitempty" nullable:"true" doc:"Accepted for compatibility (admins only)."`
	} `required:"false"`
}

// ClusterTemplateGetOutput is the answer of GET /template/cluster/{template_id}: the template as YAML
// (text/yaml) or JSON.
type ClusterTemplateGetOutput struct {
	ContentType string `header:"Content-Type"`
	Body        []byte
}

func registerClusterGet(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-cluster-template", Method: http.MethodGet, Path: "/template/cluster/{template_id}", Tag: tag,
		Summary:     "Get a cluster template",
		Description: "A cluster template the caller sees, as YAML (text/yaml, the default) or JSON.",
		Role:        functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{403, 404},
	}), func(ctx context.Context, in *clusterTemplateGetInput) (*ClusterTemplateGetOutput, error) {
		if err := checkOwnerKey(ctx, s, in.Body.OwnerAccessKey); err != nil {
			return nil, err
		}
		row, err := load(ctx, s, in.TemplateID, dbsqlc.TemplateTypeCLUSTER, false)
		if err != nil {
			return nil, err
		}
		if in.Body.Format != nil && *in.Body.Format == "json" {
			return &ClusterTemplateGetOutput{ContentType: "application/json; charset=utf-8", Body: row.Template}, nil
		}
		doc, err := decodeStored(row.Template)
		if err != nil {
			return nil, err
		}
		out, err := yaml.Marshal(doc)
		if err != nil {
			return nil, functions.ErrInternal("The template could not be rendered as YAML.")
		}
		return &ClusterTemplateGetOutput{ContentType: "text/yaml; charset=utf-8", Body: out}, nil
	})
}
