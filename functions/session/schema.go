package session

import (
	"sort"
	"strings"
	"unicode"

	"github.com/danielgtaylor/huma/v2"
)

// goFieldName approximates how SDK generators name a property: the first letter and every
// letter after '_' or '-' upper-cased, separators dropped.
func goFieldName(key string) string {
	var b strings.Builder
	up := true
	for _, r := range key {
		if r == '_' || r == '-' {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// nameAliases gives the snake_case spelling of an alias pair that generated SDKs would map to
// the same field name (service_ports and servicePorts, ...) its own name through x-go-name.
func nameAliases(s *huma.Schema) *huma.Schema {
	byName := map[string][]string{}
	for key := range s.Properties {
		n := goFieldName(key)
		byName[n] = append(byName[n], key)
	}
	for name, keys := range byName {
		if len(keys) < 2 {
			continue
		}
		sort.Strings(keys)
		for _, key := range keys {
			if !strings.Contains(key, "_") {
				continue
			}
			prop := s.Properties[key]
			if prop.Extensions == nil {
				prop.Extensions = map[string]any{}
			}
			prop.Extensions["x-go-name"] = name + "Snake"
		}
	}
	return s
}

// TransformSchema names the alias properties apart for SDK generators.
func (CreateParams) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	return nameAliases(s)
}

// TransformSchema names the alias properties apart for SDK generators.
func (CreationConfig) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	return nameAliases(s)
}

// TransformSchema names the alias properties apart for SDK generators.
func (CreateResult) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	return nameAliases(s)
}
