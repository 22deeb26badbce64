package functions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
)

// bodyContext is the huma context every operation sees. It ignores huma's read deadline
// (the server's body deadline, withBodyDeadline, is in charge) and, when the middleware has
// read the body already, serves it from memory.
type bodyContext struct {
	hctx
	body     []byte
	buffered bool
	// renamed maps the canonical path of every alias the params layer renamed to the name
	// the client sent, for validation errors to name the latter (see Aliases).
	renamed map[string]string
}

// hctx lets the contexts embed huma.Context without the field shadowing its Context method.
type hctx = huma.Context

func (c *bodyContext) BodyReader() io.Reader {
	if c.buffered {
		return bytes.NewReader(c.body)
	}
	return c.hctx.BodyReader()
}

// SetReadDeadline ignores huma's deadline: see withBodyDeadline.
func (c *bodyContext) SetReadDeadline(time.Time) error { return nil }

// Unwrap lets humago.Unwrap reach the request.
func (c *bodyContext) Unwrap() huma.Context { return c.hctx }

// paramsContext presents Backend.AI parameters to huma: the body as JSON whatever the method
// and Content-Type, or, when there is no body, the query string converted to a JSON object
// typed by the operation's body schema.
type paramsContext struct {
	bodyContext
}

func (c *paramsContext) Header(name string) string {
	if strings.EqualFold(name, "Content-Type") {
		return "application/json"
	}
	if strings.EqualFold(name, "Content-Length") {
		return strconv.Itoa(len(c.body))
	}
	return c.hctx.Header(name)
}

// paramsMiddleware is the last middleware. It refuses text no handler could store: a path
// parameter that is not valid UTF-8 or holds a NUL is 404 (no object has such a name), a query
// value or a JSON string (or object key) that is not valid UTF-8 or holds a NUL is 400
// invalid-api-params naming it. It reads JSON bodies (bounded by the operation's MaxBodyBytes)
// and, for Backend.AI parameter operations, presents the body or the query string as JSON.
// Parameter aliases (OpSpec.Aliases) are renamed to their canonical keys on the way.
func (s *Server) paramsMiddleware(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if op == nil {
		next(ctx)
		return
	}
	u := ctx.URL()
	for _, p := range op.Parameters {
		if p != nil && p.In == "path" && !cleanText(ctx.Param(p.Name)) {
			pr := ErrURLNotFound(u.EscapedPath())
			huma.WriteErr(s.api, ctx, pr.Status, "", pr)
			return
		}
	}
	q := u.Query()
	if p := checkQuery(q); p != nil {
		huma.WriteErr(s.api, ctx, p.Status, "", p)
		return
	}
	params := opParams(op)
	if op.RequestBody == nil || (!params && !jsonRequest(ctx, op)) {
		next(&bodyContext{hctx: ctx})
		return
	}
	body, err := io.ReadAll(io.LimitReader(ctx.BodyReader(), op.MaxBodyBytes+1))
	if err != nil {
		p := ErrInvalidAPIParams("Malformed body", nil)
		huma.WriteErr(s.api, ctx, p.Status, "", p)
		return
	}
	if op.MaxBodyBytes > 0 && int64(len(body)) > op.MaxBodyBytes {
		p := ErrGenericBadRequest("Request body too large.")
		huma.WriteErr(s.api, ctx, p.Status, "", p)
		return
	}
	if p := checkJSONText(body); p != nil {
		huma.WriteErr(s.api, ctx, p.Status, "", p)
		return
	}
	aliases := opAliases(op)
	if !params {
		body, renamed := normalizeBody(body, aliases)
		next(&bodyContext{hctx: ctx, body: body, buffered: true, renamed: renamed})
		return
	}
	var renamed map[string]string
	if len(bytes.TrimSpace(body)) == 0 {
		if len(q) > 0 {
			q, renamed = normalizeQuery(q, aliases)
			body, err = json.Marshal(queryToObject(q, s.bodySchema(op)))
			if err != nil {
				p := ErrInvalidAPIParams("Malformed query string", nil)
				huma.WriteErr(s.api, ctx, p.Status, "", p)
				return
			}
		} else {
			// No body and no query: the parameters are an empty object, so missing required
			// keys are reported as such.
			body = []byte("{}")
		}
	} else {
		body, renamed = normalizeBody(body, aliases)
	}
	next(&paramsContext{bodyContext{hctx: ctx, body: body, buffered: true, renamed: renamed}})
}

// jsonRequest reports whether the request carries a JSON body of an operation that takes one
// (not a multipart upload, which huma streams).
func jsonRequest(ctx huma.Context, op *huma.Operation) bool {
	if _, ok := op.RequestBody.Content["application/json"]; !ok {
		return false
	}
	ct := strings.ToLower(strings.TrimSpace(ctx.Header("Content-Type")))
	return ct == "" || strings.Contains(ct, "json")
}

// cleanText reports whether s is valid UTF-8 without NUL: text PostgreSQL can store.
func cleanText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// textProblem describes why s is not clean text.
func textProblem(s string) string {
	if !utf8.ValidString(s) {
		return "invalid UTF-8"
	}
	return "NUL character not allowed"
}

// checkQuery refuses query keys and values that are not clean text.
func checkQuery(q url.Values) *Problem {
	for key, vals := range q {
		if !cleanText(key) {
			return ErrInvalidAPIParams("Invalid query parameter name: "+textProblem(key),
				map[string]string{printableKey(key): textProblem(key)})
		}
		for _, v := range vals {
			if !cleanText(v) {
				return ErrInvalidAPIParams(key+": "+textProblem(v), map[string]string{key: textProblem(v)})
			}
		}
	}
	return nil
}

// printableKey makes a bad key fit for a problem's data.
func printableKey(k string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(k, "\ufffd"), "\x00", "\\u0000")
}

// maxJSONDepth bounds the nesting of a JSON body.
const maxJSONDepth = 256

// checkJSONText walks a JSON body and refuses the first string or object key that is not
// valid UTF-8 or holds a NUL (encoding/json would silently replace invalid UTF-8 with U+FFFD;
// PostgreSQL rejects NUL in text), naming it by its dotted path ("config.environ", "tags[2]").
// It also refuses bodies nested deeper than maxJSONDepth. A body that is not JSON is left to
// the operation's decoder to report.
func checkJSONText(body []byte) *Problem {
	type frame struct {
		path    string
		obj     bool
		key     string
		wantKey bool
		idx     int
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []frame
	// here is the path of the value the next token starts.
	here := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if f.obj {
			if f.path == "" {
				return f.key
			}
			return f.path + "." + f.key
		}
		return f.path + "[" + strconv.Itoa(f.idx) + "]"
	}
	// consumed advances the enclosing container past one value.
	consumed := func() {
		if len(stack) == 0 {
			return
		}
		f := &stack[len(stack)-1]
		if f.obj {
			f.wantKey = true
		} else {
			f.idx++
		}
	}
	bad := func(path, why string) *Problem {
		if path == "" {
			path = "body"
		}
		return ErrInvalidAPIParams(path+": "+why, map[string]string{path: why})
	}
	var prev int64
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or not JSON: the decoder reports the latter
		}
		end := dec.InputOffset()
		raw := body[prev:end]
		prev = end
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= maxJSONDepth {
					return bad(here(), fmt.Sprintf("nested deeper than %d levels", maxJSONDepth))
				}
				stack = append(stack, frame{path: here(), obj: t == '{', wantKey: t == '{'})
			default:
				stack = stack[:len(stack)-1]
				consumed()
			}
		case string:
			clean := utf8.Valid(raw) && strings.IndexByte(t, 0) < 0
			if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
				if !clean {
					where := stack[n-1].path
					if where == "" {
						where = printableKey(t)
					}
					why := "key: NUL character not allowed"
					if !utf8.Valid(raw) {
						why = "key: invalid UTF-8"
					}
					return bad(where, why)
				}
				stack[n-1].key, stack[n-1].wantKey = t, false
				continue
			}
			if !clean {
				why := "NUL character not allowed"
				if !utf8.Valid(raw) {
					why = "invalid UTF-8"
				}
				return bad(here(), why)
			}
			consumed()
		default:
			consumed()
		}
	}
}

func (s *Server) bodySchema(op *huma.Operation) *huma.Schema {
	mt, ok := op.RequestBody.Content["application/json"]
	if !ok || mt.Schema == nil {
		return nil
	}
	sch := mt.Schema
	if sch.Ref != "" {
		sch = s.api.OpenAPI().Components.Schemas.SchemaFromRef(sch.Ref)
	}
	return sch
}

// queryToObject converts query values to JSON values of the property types the schema declares:
// booleans accept true/false/1/0/yes/no/on/off, numbers parse, arrays take repeated keys or a
// comma-separated value, everything else stays a string. Unknown keys are kept, so validation
// rejects them as it would in a body.
func queryToObject(q url.Values, schema *huma.Schema) map[string]any {
	out := make(map[string]any, len(q))
	for key, vals := range q {
		v := vals[len(vals)-1]
		var prop *huma.Schema
		if schema != nil {
			prop = schema.Properties[key]
		}
		out[key] = coerce(v, vals, prop)
	}
	return out
}

func schemaType(s *huma.Schema) string {
	if s == nil {
		return ""
	}
	if s.Type != "" {
		return s.Type
	}
	for _, alt := range append(s.OneOf, s.AnyOf...) {
		if alt != nil && alt.Type != "" && alt.Type != "null" {
			return alt.Type
		}
	}
	return ""
}

func coerce(v string, all []string, prop *huma.Schema) any {
	switch schemaType(prop) {
	case "boolean":
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "1", "yes", "on", "t", "y":
			return true
		case "false", "0", "no", "off", "f", "n", "":
			return false
		}
	case "integer":
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			return n
		}
	case "number":
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			return f
		}
	case "array":
		items := all
		if len(all) == 1 {
			items = strings.Split(v, ",")
		}
		arr := make([]any, 0, len(items))
		for _, it := range items {
			arr = append(arr, coerce(it, []string{it}, prop.Items))
		}
		return arr
	case "null":
		return nil
	}
	if v == "null" && prop != nil && prop.Nullable {
		return nil
	}
	return v
}
