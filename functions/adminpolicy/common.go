package adminpolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/slots"
)

// PageParams are the query parameters of every list operation.
type PageParams struct {
	Limit  int32 `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Most items to return (1 to 100)."`
	Offset int32 `query:"offset" minimum:"0" default:"0" doc:"Items to skip, for paging."`
}

// NameParam is the {name} path parameter of policy and preset operations.
type NameParam struct {
	Name string `path:"name" minLength:"1" maxLength:"256" doc:"Name of the object."`
}

// deleteOutput is the empty answer of a 204 operation.
type deleteOutput struct{}

// Optional is a PATCH field that tells an absent field (leave unchanged) from an explicit null
// (clear the value) and from a value.
type Optional[T any] struct {
	// Set is true when the field was present in the request, even as null.
	Set bool
	// Null is true when the field was an explicit null.
	Null bool
	// Value is the value given when Set and not Null.
	Value T
}

// UnmarshalJSON implements json.Unmarshaler; it is only called for fields present in the body.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// Schema implements huma.SchemaProvider: the schema of T, nullable.
func (o Optional[T]) Schema(r huma.Registry) *huma.Schema {
	s := r.Schema(reflect.TypeFor[T](), true, "")
	s.Nullable = true
	return s
}

// ptr returns the value as a pointer: nil when absent or null.
func (o Optional[T]) ptr() *T {
	if !o.Set || o.Null {
		return nil
	}
	v := o.Value
	return &v
}

// slotTypes returns the known resource slots: the shared configuration's when there is one,
// else the intrinsic cpu and mem.
func slotTypes(s *functions.Server) map[string]string {
	if sh := s.Deps().Shared; sh != nil {
		if types := sh.ResourceSlots(); len(types) > 0 {
			return types
		}
	}
	return slots.Intrinsic()
}

// normalizeSlots validates a resource slot map given in field and returns it normalized,
// both as a map and encoded for the database. Errors are 400 invalid-api-params naming the
// field and slot.
func normalizeSlots(field string, in map[string]string, types map[string]string) (map[string]string, json.RawMessage, error) {
	norm, err := slots.Normalize(in, types)
	if err != nil {
		key := field
		var se *slots.SlotError
		if errors.As(err, &se) {
			key = field + "." + se.Slot
		}
		return nil, nil, functions.ErrInvalidAPIParams(field+": "+err.Error(), map[string]string{key: err.Error()})
	}
	raw, err := json.Marshal(norm)
	if err != nil {
		return nil, nil, fmt.Errorf("encode %s: %w", field, err)
	}
	return norm, raw, nil
}

// decodeSlots reads a stored resource slot object with slots.DecodeMap; amounts stored as
// JSON numbers become decimal strings as written. A NULL column gives nil.
func decodeSlots(raw json.RawMessage) (map[string]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	return slots.DecodeMap(raw)
}

// decodeSlotsNonNil is decodeSlots for NOT NULL columns: never nil.
func decodeSlotsNonNil(raw json.RawMessage) (map[string]string, error) {
	m, err := decodeSlots(raw)
	if m == nil && err == nil {
		m = map[string]string{}
	}
	return m, err
}

// encodeObject stores a free-form JSON object; nil becomes {}.
func encodeObject(field string, m map[string]any) (json.RawMessage, error) {
	if m == nil {
		m = map[string]any{}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, functions.ErrInvalidAPIParams(field+": cannot encode object", map[string]string{field: err.Error()})
	}
	return raw, nil
}

// decodeObject reads a stored free-form JSON object; NULL or a non-object gives {}.
func decodeObject(raw json.RawMessage) map[string]any {
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil || out == nil {
			return map[string]any{}
		}
	}
	return out
}

// deref returns *p, or def when p is nil.
func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
