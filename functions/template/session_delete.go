package template

import (
	"context"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

type templateDeleteInput struct {
	TemplateID string `path:"template_id" doc:"Template id (with or without dashes)."`
	Body       struct {
		OwnerAccessKey *string `json:"owner_access_key,omitempty" nullable:"true" doc:"Accepted for compatibility (admins only)."`
	} `required:"false"`
}

func registerSessionDelete(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-session-template", Method: http.MethodDelete, Path: "/template/session/{template_id}", Tag: tag,
		Summary:     "Delete a session template",
		Description: "Deletes (deactivates) a session template the caller may change.",
		Role:        functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{403, 404},
	}), func(ctx context.Context, in *templateDeleteInput) (*TemplateSuccessOutput, error) {
		return deleteTemplate(ctx, s, in, dbsqlc.TemplateTypeTASK)
	})
}

func deleteTemplate(ctx context.Context, s *functions.Server, in *templateDeleteInput, typ dbsqlc.TemplateType) (*TemplateSuccessOutput, error) {
	if err := checkOwnerKey(ctx, s, in.Body.OwnerAccessKey); err != nil {
		return nil, err
	}
	row, err := load(ctx, s, in.TemplateID, typ, true)
	if err != nil {
		return nil, err
	}
	n, err := db.Q.TemplateDeactivate(ctx, s.Deps().Pool, &dbsqlc.TemplateDeactivateParams{ID: row.ID, Type: typ})
	if err != nil {
		return nil, functions.FromDB(err, "task template")
	}
	if n == 0 {
		return nil, errNotFound()
	}
	return success(), nil
}

func itoa(i int) string { return strconv.Itoa(i) }
