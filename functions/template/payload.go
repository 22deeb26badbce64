package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/hangar-run/hangar/functions"
)

// Limits on a template payload. A payload is at most one request body (1 MiB); YAML aliases
// are followed with a budget so that a small document cannot expand into a huge one.
const (
	// maxNodes bounds the values a payload decodes into, aliases expanded.
	maxNodes = 100_000
	// maxDepth bounds the nesting of a payload.
	maxDepth = 64
	// maxTemplates bounds the templates of one create request.
	maxTemplates = 100
	// maxTemplateBytes bounds one stored template (its JSON form).
	maxTemplateBytes = 64 << 10
)

// errPayload is a payload that is neither JSON nor YAML, or exceeds the limits.
func errPayload(why string) error {
	return functions.ErrInvalidAPIParams("Malformed payload", map[string]string{"payload": why})
}

// decodePayload reads a payload as Backend.AI does: as JSON when it is JSON, else as YAML (all
// its documents). It returns the documents as JSON-compatible values (maps with string keys,
// lists, strings, float64 or int64 numbers, booleans, nil).
func decodePayload(payload string) ([]any, error) {
	if strings.TrimSpace(payload) == "" {
		return nil, errPayload("is empty")
	}
	if json.Valid([]byte(payload)) {
		dec := json.NewDecoder(strings.NewReader(payload))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, errPayload(err.Error())
		}
		b := budget{left: maxNodes}
		v, err := b.fromJSON(v, 0)
		if err != nil {
			return nil, err
		}
		return []any{v}, nil
	}
	dec := yaml.NewDecoder(strings.NewReader(payload))
	var docs []any
	b := budget{left: maxNodes}
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errPayload("neither JSON nor YAML: " + err.Error())
		}
		v, err := b.fromYAML(&n, 0)
		if err != nil {
			return nil, err
		}
		docs = append(docs, v)
	}
	if len(docs) == 0 {
		return nil, errPayload("holds no document")
	}
	return docs, nil
}

// budget counts the values decoded so far against maxNodes.
type budget struct{ left int }

func (b *budget) take(depth int) error {
	if depth > maxDepth {
		return errPayload(fmt.Sprintf("nested deeper than %d levels", maxDepth))
	}
	b.left--
	if b.left < 0 {
		return errPayload(fmt.Sprintf("expands to more than %d values", maxNodes))
	}
	return nil
}

// fromJSON turns json.Number into int64 or float64 and counts the values.
func (b *budget) fromJSON(v any, depth int) (any, error) {
	if err := b.take(depth); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			c, err := b.fromJSON(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
	case []any:
		for i, e := range x {
			c, err := b.fromJSON(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, errPayload("number out of range: " + x.String())
		}
		return f, nil
	}
	return v, nil
}

// fromYAML converts a YAML node into a JSON-compatible value, following aliases within the
// budget. Mapping keys must be scalars; scalars other than null, booleans, integers and finite
// floats (timestamps, binary) are kept as their text.
func (b *budget) fromYAML(n *yaml.Node, depth int) (any, error) {
	if err := b.take(depth); err != nil {
		return nil, err
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return b.fromYAML(n.Content[0], depth)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, errPayload("unknown alias")
		}
		return b.fromYAML(n.Alias, depth+1)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := b.fromYAML(c, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		if err := b.mergeMapping(out, n, depth); err != nil {
			return nil, err
		}
		return out, nil
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil, errPayload("unsupported YAML node")
}

// mergeMapping adds the pairs of mapping n to out, merge keys ("<<") first so that the
// mapping's own keys win, as YAML specifies.
func (b *budget) mergeMapping(out map[string]any, n *yaml.Node, depth int) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag != "!!merge" {
			continue
		}
		src := v
		if src.Kind == yaml.AliasNode && src.Alias != nil {
			src = src.Alias
		}
		var maps []*yaml.Node
		switch src.Kind {
		case yaml.MappingNode:
			maps = []*yaml.Node{src}
		case yaml.SequenceNode:
			for _, c := range src.Content {
				if c.Kind == yaml.AliasNode && c.Alias != nil {
					c = c.Alias
				}
				maps = append(maps, c)
			}
		}
		for _, m := range maps {
			if m.Kind != yaml.MappingNode {
				return errPayload("a merge key must name mappings")
			}
			if err := b.take(depth + 1); err != nil {
				return err
			}
			if err := b.mergeMapping(out, m, depth+1); err != nil {
				return err
			}
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			return errPayload("mapping keys must be strings")
		}
		if k.Tag == "!!merge" {
			continue
		}
		val, err := b.fromYAML(v, depth+1)
		if err != nil {
			return err
		}
		out[k.Value] = val
	}
	return nil
}

func scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var v bool
		if err := n.Decode(&v); err != nil {
			return nil, errPayload(err.Error())
		}
		return v, nil
	case "!!int":
		var v int64
		if err := n.Decode(&v); err != nil {
			return nil, errPayload("integer out of range: " + n.Value)
		}
		return v, nil
	case "!!float":
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, errPayload("not a finite number: " + n.Value)
		}
		return f, nil
	}
	return n.Value, nil
}

// encodeJSON is v as compact JSON, refused past maxTemplateBytes.
func encodeJSON(v any, what string) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, errPayload(err.Error())
	}
	if buf.Len() > maxTemplateBytes {
		return nil, functions.ErrInvalidAPIParams(fmt.Sprintf("The %s is too large.", what),
			map[string]string{"payload": fmt.Sprintf("%d bytes, at most %d", buf.Len(), maxTemplateBytes)})
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
