package template

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

type templateListInput struct {
	Body struct {
		All     bool    `json:"all,omitempty" doc:"Every template (superadmins; ignored for others)."`
		GroupID *string `json:"group_id,omitempty" nullable:"true" doc:"Only the templates of this project (id)."`
	} `required:"false"`
}

// listAliases are the other names of the list parameters.
var listAliases = functions.Aliases{{"group_id", "groupId"}} //nolint:gochecknoglobals // read-only

// TemplateListed is one template of a list.
type TemplateListed struct {
	Name       *string `json:"name"`
	ID         string  `json:"id" doc:"Template id (32 hex digits)."`
	CreatedAt  string  `json:"created_at" doc:"Creation time, as Python prints it." example:"2024-05-01 12:00:00.123456+00:00"`
	IsOwner    bool    `json:"is_owner" doc:"Whether the caller may change it."`
	User       string  `json:"user" format:"uuid" doc:"The user it belongs to."`
	Group      string  `json:"group" doc:"The project it belongs to (\"None\" when none)."`
	UserEmail  *string `json:"user_email"`
	GroupName  *string `json:"group_name"`
	DomainName string  `json:"domain_name,omitempty" doc:"Its domain (session templates)."`
	Type       string  `json:"type" enum:"user,group" doc:"\"user\" for the caller's own and assigned templates, \"group\" for those seen through a project."`
	Template   any     `json:"template,omitempty" doc:"The template (session templates)."`
}

// SessionTemplateListOutput is the answer of GET /template/session.
type SessionTemplateListOutput struct {
	Body []TemplateListed
}

func registerSessionList(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "list-session-templates", Method: http.MethodGet, Path: "/template/session", Tag: tag,
		Summary: "List session templates",
		Description: "The session templates the caller sees: their own and those of their projects (a domain " +
			"admin's: those of the domain); with all, a superadmin's: every one. group_id keeps one project's.",
		Role: functions.User, Frozen: functions.ReadAllowed, Params: true, Aliases: listAliases,
	}), func(ctx context.Context, in *templateListInput) (*SessionTemplateListOutput, error) {
		rows, err := list(ctx, s, dbsqlc.TemplateTypeTASK, in.Body.All, in.Body.GroupID)
		if err != nil {
			return nil, err
		}
		return &SessionTemplateListOutput{Body: rows}, nil
	})
}

// list lists the templates of type typ the caller sees; session templates carry their domain
// and content.
func list(ctx context.Context, s *functions.Server, typ dbsqlc.TemplateType, all bool, group *string) ([]TemplateListed, error) {
	id := functions.IdentityFrom(ctx)
	v := visibilityOf(id)
	// Without all, a superadmin lists like anyone else: their own and their projects' templates.
	v.seeAll = v.seeAll && all
	params := &dbsqlc.TemplateListParams{Type: typ, SeeAll: v.seeAll, AdminDomain: v.adminDomain, UserUuid: v.user}
	if group != nil && *group != "" {
		gid, err := uuid.Parse(*group)
		if err != nil {
			return nil, functions.ErrInvalidAPIParams("Invalid group_id.", map[string]string{"group_id": "must be a UUID"})
		}
		params.GroupID = &gid
	}
	rows, err := db.Q.TemplateList(ctx, s.Deps().Pool, params)
	if err != nil {
		return nil, functions.FromDB(err, "task template")
	}
	out := make([]TemplateListed, 0, len(rows))
	for _, r := range rows {
		own := r.UserUuid == v.user
		l := TemplateListed{
			Name: r.Name, ID: hexID(r.ID), CreatedAt: r.CreatedAt.Format(pyTime),
			IsOwner: own || v.seeAll || (v.adminDomain != nil && *v.adminDomain == r.DomainName),
			User:    r.UserUuid.String(), Group: "None", UserEmail: r.UserEmail, GroupName: r.GroupName,
			Type: "group",
		}
		if own || v.seeAll {
			l.Type = "user"
		}
		if r.GroupID != nil {
			l.Group = r.GroupID.String()
		}
		if typ == dbsqlc.TemplateTypeTASK {
			l.DomainName = r.DomainName
			if doc, err := decodeStored(r.Template); err == nil {
				l.Template = doc
			}
		}
		out = append(out, l)
	}
	return out, nil
}
