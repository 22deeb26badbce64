package resolver

import (
	"encoding/json"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions/gql/model"
)

// Small helpers turning row values into the optional fields of the models.

func ptr[T any](v T) *T { return &v }

func str(s string) *string { return &s }

func intp[T ~int32 | ~int64 | ~int](v T) *int {
	i := int(v)
	return &i
}

func idOf(s string) *string { return &s }

func uuidp(u uuid.UUID) *uuid.UUID { return &u }

func timep(t time.Time) *time.Time {
	u := t.UTC()
	return &u
}

func optTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return timep(*t)
}

func strs(ss []string) []*string {
	out := make([]*string, len(ss))
	for i := range ss {
		out[i] = &ss[i]
	}
	return out
}

// jsonOrEmpty is stored JSON as a JSONString, "{}" when empty (resource-slot fields are never
// null on the wire).
func jsonOrEmpty(raw json.RawMessage) model.JSONString {
	if j := model.RawJSON(raw); j != nil {
		return j
	}
	return model.JSONString("{}")
}

func cidrs(ps []netip.Prefix) []*string {
	if ps == nil {
		return nil
	}
	out := make([]*string, len(ps))
	for i, p := range ps {
		s := p.String()
		out[i] = &s
	}
	return out
}
