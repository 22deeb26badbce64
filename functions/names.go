package functions

import "github.com/hangar-run/hangar/internal/names"

// CheckName validates the name given in field as a slug of at most maxLen bytes
// (names.SlugPattern: domains, projects, scaling groups, resource policies and presets);
// a bad name is 400 invalid-api-params naming field.
func CheckName(field, name string, maxLen int) error {
	return InvalidParam(field, names.Slug(name, maxLen))
}

// InvalidParam turns a validation error about field into 400 invalid-api-params naming it;
// a nil err gives nil.
func InvalidParam(field string, err error) error {
	if err == nil {
		return nil
	}
	return ErrInvalidAPIParams(field+": "+err.Error(), map[string]string{field: err.Error()})
}
