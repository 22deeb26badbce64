// Package template is the Backend.AI-compatible template API: session templates
// (/template/session) and cluster templates (/template/cluster) stored in session_templates, and
// the two ways of creating sessions from them (POST /session/_/create-from-template and
// /session/_/create-cluster), which go through the one create path of package session.
//
// Payloads are JSON or YAML, as Backend.AI reads them; YAML aliases are followed within a
// budget, so a small document cannot expand into a huge one (payload.go).
//
// Who sees what: a template belongs to a user and a project. A user sees their own templates
// and those of their projects, and changes or deletes only their own; a domain admin sees and
// changes every template of their domain; a superadmin all of them. A template the caller may
// not see is answered as if it did not exist (404).
package template

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/session"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// tag groups the template operations in the OpenAPI document; sessionTag the two creates.
const (
	tag        = "template"
	sessionTag = "session"
)

// Register adds the area's operations to s.
func Register(s *functions.Server) {
	registerSessionCreate(s)
	registerSessionList(s)
	registerSessionGet(s)
	registerSessionUpdate(s)
	registerSessionDelete(s)
	registerClusterCreate(s)
	registerClusterList(s)
	registerClusterGet(s)
	registerClusterUpdate(s)
	registerClusterDelete(s)
	registerCreateFromTemplate(s)
	registerCreateCluster(s)
}

// scopeAliases are the other names of the domain and group keys of a template create.
var scopeAliases = functions.Aliases{ //nolint:gochecknoglobals // read-only
	{"group", "groupName", "group_name"},
	{"domain", "domainName", "domain_name"},
}

// errNotFound is Backend.AI's TaskTemplateNotFound.
func errNotFound() error {
	return functions.ErrObjectNotFound("task template", "")
}

// visibility is the caller's part of the templates, as the queries take it.
type visibility struct {
	seeAll      bool
	adminDomain *string
	user        uuid.UUID
}

func visibilityOf(id *functions.Identity) visibility {
	v := visibility{seeAll: id.IsSuperadmin(), user: id.UserUUID()}
	if id.IsDomainAdmin() {
		d := id.Domain()
		v.adminDomain = &d
	}
	return v
}

// checkOwnerKey applies the owner_access_key rules (403 for users naming another key, 400 for
// an unknown key) to the operations that take the key but act as the caller.
func checkOwnerKey(ctx context.Context, s *functions.Server, key *string) error {
	_, err := session.OwnerAccessKey(ctx, s, key)
	return err
}

// load returns the active template ref names of type typ if the caller sees it (404 otherwise);
// write also requires that the caller may change it.
func load(ctx context.Context, s *functions.Server, ref string, typ dbsqlc.TemplateType, write bool) (*dbsqlc.TemplateGetRow, error) {
	id, err := uuid.Parse(ref)
	if err != nil {
		return nil, errNotFound()
	}
	v := visibilityOf(functions.IdentityFrom(ctx))
	row, err := db.Q.TemplateGet(ctx, s.Deps().Pool, &dbsqlc.TemplateGetParams{
		SeeAll: v.seeAll, AdminDomain: v.adminDomain, UserUuid: v.user, ID: id, Type: typ,
	})
	if err != nil {
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return nil, errNotFound()
		}
		return nil, functions.FromDB(err, "task template")
	}
	if write && !row.Writable {
		return nil, functions.ErrGenericForbidden("Only the owner of a template or an admin may change it.")
	}
	return row, nil
}

// decodeStored decodes a stored template into JSON-compatible values.
func decodeStored(raw json.RawMessage) (any, error) {
	docs, err := decodePayload(string(raw))
	if err != nil || len(docs) != 1 {
		return nil, functions.ErrInvalidAPIParams("The stored template is not valid.", nil)
	}
	return docs[0], nil
}

// hexID is an id as Backend.AI prints uuid.hex.
func hexID(u uuid.UUID) string { return strings.ReplaceAll(u.String(), "-", "") }

// pyTime is Python's str() of an aware datetime, which Backend.AI sends for created_at.
const pyTime = "2006-01-02 15:04:05.000000-07:00"
