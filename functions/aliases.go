package functions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/danielgtaylor/huma/v2"
)

// Aliases declares the parameter keys an operation accepts under several names, as
// Backend.AI's tx.AliasedKey does. Each entry lists the names of one key in the order
// Backend.AI tries them; the first is the canonical name, the only one the operation's body
// type declares. A canonical name may be a dotted path ("config.scaling_group") for a key of a
// nested object; the other names of the entry are keys of that same object.
//
// Before validation the params layer renames the first name found in the request to the
// canonical one and drops the others, unvalidated: upstream's rule, under which a request may
// give several names of a key and the first one in the list wins. Validation errors about a
// renamed key name the key the client sent, as upstream's do. The OpenAPI document lists every
// alias as a property of its own ("Alias of …", x-alias-of) and the canonical property's
// aliases under x-aliases (see Server.Finalize).
type Aliases [][]string

// aliasTable is Aliases compiled for one object level.
type aliasTable struct {
	keys   [][]string             // names of each key, canonical first
	nested map[string]*aliasTable // tables of nested objects, by canonical key
}

// compileAliases builds the table of a declaration; a malformed one is a programming error.
func compileAliases(a Aliases) *aliasTable {
	if len(a) == 0 {
		return nil
	}
	root := &aliasTable{}
	seen := map[string]bool{}
	for _, names := range a {
		if len(names) < 2 {
			panic(fmt.Sprintf("functions: alias entry %v needs a canonical name and at least one alias", names))
		}
		parts := strings.Split(names[0], ".")
		t := root
		for _, p := range parts[:len(parts)-1] {
			if t.nested == nil {
				t.nested = map[string]*aliasTable{}
			}
			if t.nested[p] == nil {
				t.nested[p] = &aliasTable{}
			}
			t = t.nested[p]
		}
		prefix := strings.Join(parts[:len(parts)-1], ".")
		level := append([]string{parts[len(parts)-1]}, names[1:]...)
		for _, n := range level {
			full := joinPath(prefix, n)
			if n == "" || strings.Contains(n, ".") || seen[full] {
				panic(fmt.Sprintf("functions: alias %q of %v is empty, dotted or declared twice", n, names))
			}
			seen[full] = true
		}
		t.keys = append(t.keys, level)
	}
	return root
}

func joinPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// renameLevel applies the keys of t to one object: the first name present (null counts as
// present) moves to the canonical name, the others are dropped. renamed records canonical
// path → given path for every moved key. It reports whether m changed.
func renameLevel[V any](m map[string]V, t *aliasTable, prefix string, renamed map[string]string) bool {
	changed := false
	for _, names := range t.keys {
		found := -1
		for i, n := range names {
			if _, ok := m[n]; ok {
				found = i
				break
			}
		}
		if found < 0 {
			continue
		}
		if found > 0 {
			m[names[0]] = m[names[found]]
			renamed[joinPath(prefix, names[0])] = joinPath(prefix, names[found])
		}
		for _, n := range names[1:] {
			if _, ok := m[n]; ok {
				delete(m, n)
				changed = true
			}
		}
	}
	return changed
}

// renameJSON applies t to a JSON object and the nested objects t covers. A value that is not
// an object is returned as it is, for validation to report.
func renameJSON(raw json.RawMessage, t *aliasTable, prefix string, renamed map[string]string) (json.RawMessage, bool) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return raw, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(trimmed, &m) != nil {
		return raw, false
	}
	changed := renameLevel(m, t, prefix, renamed)
	for key, sub := range t.nested {
		if v, ok := m[key]; ok {
			if nv, ch := renameJSON(v, sub, joinPath(prefix, key), renamed); ch {
				m[key], changed = nv, true
			}
		}
	}
	if !changed {
		return raw, false
	}
	out, err := json.Marshal(m)
	if err != nil {
		return raw, false
	}
	return out, true
}

// normalizeBody renames the aliases of a JSON body to their canonical keys.
func normalizeBody(body []byte, t *aliasTable) ([]byte, map[string]string) {
	if t == nil {
		return body, nil
	}
	renamed := map[string]string{}
	out, _ := renameJSON(body, t, "", renamed)
	return out, renamed
}

// normalizeQuery renames the aliases among query keys (query parameters are flat: only the
// top-level keys of the table apply).
func normalizeQuery(q url.Values, t *aliasTable) (url.Values, map[string]string) {
	if t == nil {
		return q, nil
	}
	renamed := map[string]string{}
	out := make(url.Values, len(q))
	for k, v := range q {
		out[k] = v
	}
	renameLevel(out, t, "", renamed)
	return out, renamed
}

// givenNames rewrites the locations of validation errors about renamed keys to the names
// the client sent.
func givenNames(ctx huma.Context, errs []error) []error {
	var renamed map[string]string
	switch c := ctx.(type) {
	case *paramsContext:
		renamed = c.renamed
	case *bodyContext:
		renamed = c.renamed
	}
	if len(renamed) == 0 {
		return errs
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
		var d *huma.ErrorDetail
		if !errors.As(e, &d) || !strings.HasPrefix(d.Location, "body.") {
			continue
		}
		loc := strings.TrimPrefix(d.Location, "body.")
		// The longest renamed path the location starts with: a nested key renamed inside a
		// renamed object keeps both names.
		best := ""
		for canon := range renamed {
			if len(canon) > len(best) && (loc == canon || strings.HasPrefix(loc, canon+".") || strings.HasPrefix(loc, canon+"[")) {
				best = canon
			}
		}
		if best == "" {
			continue
		}
		cp := *d
		cp.Location = "body." + renamed[best] + loc[len(best):]
		out[i] = &cp
	}
	return out
}

// documentAliases adds the aliases of op to its body schema: every alias as a property of its
// own (a copy of the canonical one, "Alias of …", x-alias-of) and the list under the canonical
// property's x-aliases. Properties whose names an SDK generator would map to the same field
// (group_name and groupName) are named apart through x-go-name (see NameApart). It panics when
// a canonical key is not a property of the body: the table and the type disagree.
func (s *Server) documentAliases(op *huma.Operation) {
	t, _ := op.Metadata[metaAliases].(*aliasTable)
	if t == nil || op.RequestBody == nil {
		return
	}
	s.documentLevel(op.OperationID, s.bodySchema(op), t, "")
}

func (s *Server) resolve(sch *huma.Schema) *huma.Schema {
	if sch != nil && sch.Ref != "" {
		return s.api.OpenAPI().Components.Schemas.SchemaFromRef(sch.Ref)
	}
	return sch
}

func (s *Server) documentLevel(opID string, sch *huma.Schema, t *aliasTable, prefix string) {
	sch = s.resolve(sch)
	for _, names := range t.keys {
		canon := names[0]
		var prop *huma.Schema
		if sch != nil {
			prop = sch.Properties[canon]
		}
		if prop == nil {
			panic(fmt.Sprintf("functions: operation %s declares aliases of %q, which its body does not have", opID, joinPath(prefix, canon)))
		}
		if prop.Extensions == nil {
			prop.Extensions = map[string]any{}
		}
		prop.Extensions["x-aliases"] = slices.Clone(names[1:])
		for _, alias := range names[1:] {
			if _, ok := sch.Properties[alias]; ok {
				continue // shared schema, documented already
			}
			cp := *prop
			cp.Title, cp.Examples, cp.Default = "", nil, nil
			cp.Description = "Alias of " + canon + "."
			if len(cp.Enum) > 0 {
				// An enum of its own would give SDK generators two types of one name; the
				// values are the canonical property's.
				cp.Enum = nil
				cp.Description = "Alias of " + canon + " (same values)."
			}
			cp.Extensions = map[string]any{"x-alias-of": canon}
			sch.Properties[alias] = &cp
		}
	}
	for key, sub := range t.nested {
		var prop *huma.Schema
		if sch != nil {
			prop = sch.Properties[key]
		}
		if prop == nil {
			panic(fmt.Sprintf("functions: operation %s declares aliases inside %q, which its body does not have", opID, joinPath(prefix, key)))
		}
		s.documentLevel(opID, prop, sub, joinPath(prefix, key))
	}
	NameApart(sch)
}

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

// NameApart gives the snake_case spelling of properties that generated SDKs would map to the
// same field name (service_ports and servicePorts, ...) its own name through x-go-name.
func NameApart(s *huma.Schema) *huma.Schema {
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
