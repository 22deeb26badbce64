package functions

import (
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// paramsContext presents Backend.AI parameters to huma: the body as JSON whatever the method
// and Content-Type, or, when there is no body, the query string converted to a JSON object
// typed by the operation's body schema.
type paramsContext struct {
	hctx
	body []byte
}

// hctx lets paramsContext embed huma.Context without the field shadowing its Context method.
type hctx = huma.Context

func (c *paramsContext) BodyReader() io.Reader { return bytes.NewReader(c.body) }

func (c *paramsContext) Header(name string) string {
	if strings.EqualFold(name, "Content-Type") {
		return "application/json"
	}
	if strings.EqualFold(name, "Content-Length") {
		return strconv.Itoa(len(c.body))
	}
	return c.hctx.Header(name)
}

// Unwrap lets humago.Unwrap reach the request.
func (c *paramsContext) Unwrap() huma.Context { return c.hctx }

func (s *Server) paramsMiddleware(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if !opParams(op) || op.RequestBody == nil {
		next(ctx)
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
	if len(bytes.TrimSpace(body)) == 0 {
		u := ctx.URL()
		if q := u.Query(); len(q) > 0 {
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
	}
	next(&paramsContext{hctx: ctx, body: body})
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
