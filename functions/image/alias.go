package image

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
)

// Alias is an image alias.
type Alias struct {
	Alias        string `json:"alias" minLength:"1" maxLength:"128" pattern:"^[a-zA-Z0-9]([a-zA-Z0-9._:-]*[a-zA-Z0-9])?(/[a-zA-Z0-9]([a-zA-Z0-9._:-]*[a-zA-Z0-9])?)*$" doc:"The alias: '/'-separated segments of ASCII letters, digits, '.', '_', ':' and '-', each starting and ending with a letter or digit." example:"python"`
	Target       string `json:"target" minLength:"1" doc:"Canonical name of the image." example:"cr.backend.ai/stable/python:3.11-ubuntu22.04"`
	Architecture string `json:"architecture,omitempty" doc:"Architecture of the image; needed when the image has several. amd64 and arm64 are understood." example:"x86_64"`
}

// AliasOutput is the answer of POST /admin/images/aliases.
type AliasOutput struct {
	Body Alias
}

func registerSetAlias(s *functions.Server) {
	type input struct {
		Body Alias
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "set-image-alias", Method: http.MethodPost, Path: "/admin/images/aliases", Tag: tag,
		Summary:     "Create or re-point an image alias",
		Description: "Makes alias name the image target of the given architecture (the only one when omitted). An existing alias is re-pointed.",
		Role:        functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusCreated,
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*AliasOutput, error) {
		chosen, err := s.AdminService().AliasImage(ctx, svcCaller(ctx), in.Body.Alias, in.Body.Target, in.Body.Architecture)
		if err != nil {
			return nil, functions.FromService(err)
		}
		out := &AliasOutput{Body: in.Body}
		out.Body.Architecture = chosen
		return out, nil
	})
}

func registerDeleteAlias(s *functions.Server) {
	type input struct {
		Alias string `path:"alias" doc:"The alias." example:"python"`
	}
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-image-alias", Method: http.MethodDelete, Path: "/admin/images/aliases/{alias}", Tag: tag,
		Summary: "Remove an image alias",
		Role:    functions.Superadmin, Frozen: functions.ServiceGuarded, Status: http.StatusNoContent,
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *input) (*struct{}, error) {
		if err := s.AdminService().DealiasImage(ctx, svcCaller(ctx), in.Alias); err != nil {
			return nil, functions.FromService(err)
		}
		return nil, nil
	})
}

// svcCaller is the caller of an operation as the administration service sees it.
func svcCaller(ctx context.Context) adminsvc.Caller {
	return functions.ServiceCaller(functions.IdentityFrom(ctx))
}
