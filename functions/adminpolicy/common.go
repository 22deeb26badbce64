package adminpolicy

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/adminsvc"
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

// svcCaller is the caller of an operation as the administration service sees it.
func svcCaller(ctx context.Context) adminsvc.Caller {
	return functions.ServiceCaller(functions.IdentityFrom(ctx))
}
