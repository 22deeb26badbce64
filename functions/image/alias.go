package image

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/names"
	"github.com/hangar-run/hangar/internal/registry"
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
		Role:        functions.Superadmin, Frozen: functions.WriteOp, Status: http.StatusCreated,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*AliasOutput, error) {
		if err := functions.InvalidParam("alias", names.Alias(in.Body.Alias)); err != nil {
			return nil, err
		}
		pool := s.Deps().Pool
		rows, err := db.Q.ImageArchitectures(ctx, pool, in.Body.Target)
		if err != nil {
			return nil, functions.FromDB(err, "image")
		}
		if len(rows) == 0 {
			return nil, functions.ErrObjectNotFound("image", in.Body.Target)
		}
		archs := make([]string, len(rows))
		for i, r := range rows {
			archs[i] = r.Architecture
		}
		chosen, err := registry.ChooseArchitecture(in.Body.Target, archs, in.Body.Architecture)
		if err != nil {
			return nil, functions.ErrInvalidAPIParams(err.Error(), map[string]any{"architectures": archs})
		}
		for _, r := range rows {
			if r.Architecture != chosen {
				continue
			}
			if _, err := db.Q.ImageAliasSet(ctx, pool, &dbsqlc.ImageAliasSetParams{Alias: in.Body.Alias, Image: r.ID}); err != nil {
				return nil, functions.FromDB(err, "image alias")
			}
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
		Role:    functions.Superadmin, Frozen: functions.WriteOp, Status: http.StatusNoContent,
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *input) (*struct{}, error) {
		n, err := db.Q.ImageAliasDelete(ctx, s.Deps().Pool, in.Alias)
		if err != nil {
			return nil, functions.FromDB(err, "image alias")
		}
		if n == 0 {
			return nil, functions.ErrObjectNotFound("image alias", in.Alias)
		}
		return nil, nil
	})
}
