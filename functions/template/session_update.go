package template

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/session"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

type sessionTemplateUpdateInput struct {
	TemplateID string `path:"template_id" doc:"Template id (with or without dashes)."`
	Body       templateCreateBody
}

// TemplateSuccessOutput is the answer of template updates and deletes.
type TemplateSuccessOutput struct {
	Body struct {
		Success bool `json:"success" doc:"Always true."`
	}
}

func success() *TemplateSuccessOutput {
	out := &TemplateSuccessOutput{}
	out.Body.Success = true
	return out
}

func registerSessionUpdate(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "update-session-template", Method: http.MethodPut, Path: "/template/session/{template_id}", Tag: tag,
		Summary: "Replace a session template",
		Description: "Replaces a session template the caller may change with the entry of payload (as for create; " +
			"with several entries the last one wins). The template moves to the project group of domain unless the " +
			"entry gives group_id.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true, Errors: []int{403, 404},
		Aliases: scopeAliases,
	}), func(ctx context.Context, in *sessionTemplateUpdateInput) (*TemplateSuccessOutput, error) {
		sc, err := session.ResolveScope(ctx, s, in.Body.OwnerAccessKey, in.Body.Domain, in.Body.Group)
		if err != nil {
			return nil, err
		}
		row, err := load(ctx, s, in.TemplateID, dbsqlc.TemplateTypeTASK, true)
		if err != nil {
			return nil, err
		}
		docs, err := decodePayload(in.Body.Payload)
		if err != nil {
			return nil, err
		}
		var items []any
		for _, d := range docs {
			if l, ok := d.([]any); ok {
				items = append(items, l...)
			} else {
				items = append(items, d)
			}
		}
		if len(items) == 0 {
			return nil, errPayload("holds no template")
		}
		// The template keeps its user unless the entry names one.
		sc.UserUUID = row.UserUuid
		var last entry
		for i, it := range items {
			if last, err = checkEntry(ctx, s, sc, it, "payload."+itoa(i)+"."); err != nil {
				return nil, err
			}
		}
		raw, err := encodeJSON(last.template.Doc, "template")
		if err != nil {
			return nil, err
		}
		name := last.name
		err = db.InTx(ctx, s.Deps().Pool, func(tx pgx.Tx) error {
			n, err := db.Q.TemplateUpdate(ctx, tx, &dbsqlc.TemplateUpdateParams{
				GroupID: last.group, UserUuid: last.user, Name: &name, Template: raw, ID: row.ID, Type: dbsqlc.TemplateTypeTASK,
			})
			if err == nil && n == 0 {
				return errNotFound()
			}
			return err
		})
		if err != nil {
			var p *functions.Problem
			if errors.As(err, &p) {
				return nil, p
			}
			return nil, functions.FromDB(err, "task template")
		}
		return success(), nil
	})
}
