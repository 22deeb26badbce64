package template

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

type sessionTemplateGetInput struct {
	TemplateID string `path:"template_id" doc:"Template id (with or without dashes)."`
	Body       struct {
		Format         *string `json:"format,omitempty" nullable:"true" enum:"yaml,json" doc:"Accepted for compatibility; the answer is JSON."`
		OwnerAccessKey *string `json:"owner_access_key,omitempty" nullable:"true" doc:"Accepted for compatibility (admins only)."`
	} `required:"false"`
}

// SessionTemplateGetOutput is the answer of GET /template/session/{template_id}.
type SessionTemplateGetOutput struct {
	Body struct {
		Template   any     `json:"template" doc:"The template."`
		Name       *string `json:"name"`
		UserUUID   string  `json:"user_uuid" format:"uuid"`
		GroupID    string  `json:"group_id" doc:"Project id (\"None\" when none)."`
		DomainName string  `json:"domain_name"`
	}
}

func registerSessionGet(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-session-template", Method: http.MethodGet, Path: "/template/session/{template_id}", Tag: tag,
		Summary:     "Get a session template",
		Description: "A session template the caller sees (404 task template not found otherwise).",
		Role:        functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{403, 404},
	}), func(ctx context.Context, in *sessionTemplateGetInput) (*SessionTemplateGetOutput, error) {
		if err := checkOwnerKey(ctx, s, in.Body.OwnerAccessKey); err != nil {
			return nil, err
		}
		row, err := load(ctx, s, in.TemplateID, dbsqlc.TemplateTypeTASK, false)
		if err != nil {
			return nil, err
		}
		doc, err := decodeStored(row.Template)
		if err != nil {
			return nil, err
		}
		out := &SessionTemplateGetOutput{}
		out.Body.Template, out.Body.Name, out.Body.UserUUID, out.Body.GroupID, out.Body.DomainName =
			doc, row.Name, row.UserUuid.String(), "None", row.DomainName
		if row.GroupID != nil {
			out.Body.GroupID = row.GroupID.String()
		}
		return out, nil
	})
}
