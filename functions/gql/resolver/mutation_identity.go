package resolver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/hangar-run/hangar/functions/gql/model"
	"github.com/hangar-run/hangar/internal/adminsvc"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/hostperm"
)

// Input decoding and upstream texts shared by the domain, group, user and keypair mutations.

// msgBadSlug is Backend.AI's text for a domain or group name that is not a slug.
const msgBadSlug = "invalid name format. slug format required."

// msgNothingToUpdate is modify_group's and modify_user's answer to a modify that changes
// nothing.
const msgNothingToUpdate = "nothing to update"

// queries is the query resolver, used to read a written object back in the shape and scope
// the query fields give it.
func (r *mutationsResolver) queries() *queriesResolver { return &queriesResolver{r.Resolver} }

// okPayload is the ok and msg fields of a payload.
func okPayload(ok bool, msg string) (*bool, *string) { return &ok, &msg }

// serviceErr returns the refusal in err when it is of kind k, else nil.
func serviceErr(err error, k adminsvc.Kind) *adminsvc.Error {
	if e := adminsvc.AsError(err); e != nil && e.Kind == k {
		return e
	}
	return nil
}

// isBadName reports whether err refuses a name that is not a slug.
func isBadName(err error) bool {
	e := serviceErr(err, adminsvc.KindInvalid)
	return e != nil && (e.Key == "name" || e.Key == "new_name")
}

// unexpected is upstream's answer for the RuntimeError refusals of its mutations.
func unexpected(e *adminsvc.Error) string { return "unexpected error: " + e.Error() }

// inputGiven reports whether the input object of argument arg of the current field carries
// field, given inline or through variables. gqlgen applies input defaults and turns explicit
// nulls into nil, so only the document tells absent, null and default apart.
func inputGiven(ctx context.Context, arg, field string) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return false
	}
	a := fc.Field.Arguments.ForName(arg)
	if a == nil || a.Value == nil {
		return false
	}
	var vars map[string]any
	if graphql.HasOperationContext(ctx) {
		vars = graphql.GetOperationContext(ctx).Variables
	}
	switch a.Value.Kind {
	case ast.Variable:
		obj, ok := vars[a.Value.Raw].(map[string]any)
		if !ok {
			return false
		}
		_, ok = obj[field]
		return ok
	case ast.ObjectValue:
		for _, c := range a.Value.Children {
			if c.Name != field {
				continue
			}
			if c.Value != nil && c.Value.Kind == ast.Variable {
				_, ok := vars[c.Value.Raw]
				return ok
			}
			return true
		}
	}
	return false
}

// slotsInput reads a resource-slot JSONString ({"cpu": "4", "mem": "16g"}, numbers allowed);
// null stays nil (not given).
func slotsInput(key string, j model.JSONString) (map[string]string, error) {
	if j == nil {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, errInvalidParams(key + ": a JSON object of slot amounts is required")
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			out[k] = v
		case json.Number:
			out[k] = v.String()
		default:
			return nil, errInvalidParams(fmt.Sprintf("%s.%s: an amount (string or number) is required", key, k))
		}
	}
	return out, nil
}

// hostsInput reads an allowed_vfolder_hosts JSONString (host → permissions); null stays nil.
func hostsInput(key string, j model.JSONString) (hostperm.Hosts, error) {
	if j == nil {
		return nil, nil
	}
	var raw map[string][]hostperm.Permission
	if err := json.Unmarshal(j, &raw); err != nil {
		return nil, errInvalidParams(key + ": a JSON object of storage hosts and their permission lists is required")
	}
	if raw == nil {
		raw = hostperm.Hosts{}
	}
	return raw, nil
}

// objectInput reads a JSONString holding an object (container_registry); null stays nil.
func objectInput(key string, j model.JSONString) (map[string]any, error) {
	if j == nil {
		return nil, nil
	}
	var raw map[string]any
	if err := json.Unmarshal(j, &raw); err != nil {
		return nil, errInvalidParams(key + ": a JSON object is required")
	}
	if raw == nil {
		raw = map[string]any{}
	}
	return raw, nil
}

// strList reads a [String] input; null elements are dropped, a null list stays nil.
func strList(in []*string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s != nil {
			out = append(out, *s)
		}
	}
	return out
}

// userStatusInput reads a user status by value; an unknown one is upstream's ValueError text.
func userStatusInput(s *string) (*dbsqlc.UserStatus, error) {
	if s == nil {
		return nil, nil
	}
	st := dbsqlc.UserStatus(*s)
	if !st.Valid() {
		return nil, fmt.Errorf("'%s' is not a valid UserStatus", *s)
	}
	return &st, nil
}

// userRoleInput reads a user role by value; an unknown one is upstream's ValueError text.
func userRoleInput(s *string) (*dbsqlc.UserRole, error) {
	if s == nil {
		return nil, nil
	}
	r := dbsqlc.UserRole(*s)
	if !r.Valid() {
		return nil, fmt.Errorf("'%s' is not a valid UserRole", *s)
	}
	return &r, nil
}

// projectTypeInput reads a group type by enum name (GENERAL, MODEL_STORE); an unknown one
// is upstream's KeyError text.
func projectTypeInput(s *string) (*dbsqlc.ProjectType, error) {
	if s == nil {
		return nil, nil
	}
	var t dbsqlc.ProjectType
	switch *s {
	case "GENERAL":
		t = dbsqlc.ProjectTypeGeneral
	case "MODEL_STORE":
		t = dbsqlc.ProjectTypeModelStore
	default:
		return nil, fmt.Errorf("'%s'", *s)
	}
	return &t, nil
}

// errBadSlug is the GraphQL error of a rename to a name that is not a slug.
var errBadSlug = errors.New(msgBadSlug)

// rateLimitInput reads a keypair's rate limit (requests per 15 minutes); nil stays nil.
func rateLimitInput(n *int) (*int32, error) {
	if n == nil {
		return nil, nil
	}
	if *n < 0 || *n > math.MaxInt32 {
		return nil, errInvalidParams("rate_limit: must be between 0 and 2147483647")
	}
	v := int32(*n)
	return &v, nil
}

// userModifyEmpty reports whether a modify_user changes nothing.
func userModifyEmpty(in *adminsvc.UserModify) bool {
	return in.Username == nil && in.Password == nil && in.FullName == nil && in.Description == nil &&
		in.Status == nil && in.DomainName == nil && in.Role == nil && in.NeedPasswordChange == nil &&
		in.ResourcePolicy == nil && in.GroupIDs == nil && in.AllowedClientIP == nil &&
		in.TotpActivated == nil && in.SudoSessionEnabled == nil && in.MainAccessKey == nil
}
