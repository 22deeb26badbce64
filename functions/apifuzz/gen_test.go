package apifuzz_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/fixture"
)

// request is one generated request.
type request struct {
	op    *operation
	actor string
	// mutation says what was made hostile ("baseline" when nothing was).
	mutation string
	method   string
	// target is the escaped path and query.
	target      string
	body        []byte
	contentType string
	// preSign headers are set before signing (they are signed over), postSign ones after.
	preSign, postSign [][2]string
	// unsigned requests carry no credentials.
	unsigned bool
	// creds sign the request instead of the actor's.
	creds *auth.Credentials
	// mustRefuse says that the isolation test requires a refusal (401, 403 or 404).
	mustRefuse string
}

// mutation kinds, cycled through per operation so that each gets all of them.
var kinds = []string{"baseline", "field", "path", "whole-body", "drop-required", "query", "unknown-key", "header", "field", "type-confusion"} //nolint:gochecknoglobals // read-only

// generator builds requests for one operation and actor.
type generator struct {
	s     *spec
	o     *objects
	r     *rand.Rand
	seq   *int
	vals  []hostile
	whole []struct{ name, body string }
	// note names the baseline variant baselineBody chose (a GraphQL document), for messages.
	note string
}

func (g *generator) next() int {
	*g.seq++
	return *g.seq
}

func (g *generator) unique(prefix string) string { return prefix + strconv.Itoa(g.next()) }

// changes reports whether op changes or deletes what its path names.
func changes(op *operation) bool {
	return op.Method != http.MethodGet && strings.Count(op.Path, "{") > 0
}

// pathValue is the baseline (escaped) value of a path parameter: an object the fixtures hold
// for reads, one the suite created for changes, so that the fixtures' identities stay intact.
func (g *generator) pathValue(op *operation, name string, superadmin bool) string {
	o, mut := g.o, changes(op)
	pick := func(read, change string) string {
		if mut {
			return url.PathEscape(change)
		}
		return url.PathEscape(read)
	}
	switch {
	case name == "session_name":
		switch op.ID {
		case "destroy-session", "restart-session":
			return url.PathEscape(o.VictimName)
		}
		if g.r.IntN(2) == 0 {
			return o.RunningID
		}
		return url.PathEscape(o.RunningName)
	case name == "scaling_group":
		return fixture.DefaultScalingGroup
	case name == "template_id":
		if strings.HasPrefix(op.Path, "/template/cluster") {
			return url.PathEscape(o.ClusterTemplateID)
		}
		return url.PathEscape(o.SessionTemplateID)
	case name == "log_id":
		return url.PathEscape(o.ErrorLogID)
	case strings.HasPrefix(op.Path, "/admin/domains"):
		return pick(fixture.DefaultDomain, o.Domain)
	case strings.HasPrefix(op.Path, "/admin/images/aliases"):
		return url.PathEscape(o.Alias)
	case strings.HasPrefix(op.Path, "/admin/keypair-resource-policies"):
		return pick(fixture.DefaultResourcePolicy, o.KPPolicy)
	case strings.HasPrefix(op.Path, "/admin/user-resource-policies"):
		return pick(fixture.DefaultResourcePolicy, o.UserPolicy)
	case strings.HasPrefix(op.Path, "/admin/project-resource-policies"):
		return pick(fixture.DefaultResourcePolicy, o.ProjPolicy)
	case strings.HasPrefix(op.Path, "/admin/keypairs"):
		return pick(fixture.UserAccessKey, o.AccessKey)
	case strings.HasPrefix(op.Path, "/admin/projects"):
		return pick(fixture.DefaultProjectID, o.ProjectID)
	case strings.HasPrefix(op.Path, "/admin/users"):
		if g.r.IntN(2) == 0 {
			return pick(fixture.UserEmail, o.UserEmail)
		}
		return pick(fixture.UserUUID, o.UserUUID)
	case strings.HasPrefix(op.Path, "/admin/resource-presets"):
		return pick("cpu01-small", o.Preset)
	case strings.HasPrefix(op.Path, "/admin/scaling-groups"):
		switch name {
		case "domain":
			return url.PathEscape(o.Domain)
		case "access_key":
			return url.PathEscape(o.AccessKey)
		case "project_id":
			return url.PathEscape(o.ProjectID)
		}
		return pick(fixture.DefaultScalingGroup, o.SGroup)
	}
	return "fuzz"
}

// baselineBody is a valid body for op (nil when it takes none).
func (g *generator) baselineBody(op *operation, superadmin bool) map[string]any {
	o := g.o
	var b map[string]any
	switch op.ID {
	case "create-session", "create-session-alt":
		b = map[string]any{"image": "python", "name": g.unique("fz-s-"), "enqueueOnly": true, "maxWaitSeconds": 1,
			"config": map[string]any{"resources": map[string]any{"cpu": "1", "mem": "256m"}, "environ": map[string]any{"FZ": "1"}}}
	case "execute-session":
		b = map[string]any{"mode": "query", "code": "1+1", "runId": g.unique("fz-run-")}
		if g.r.IntN(3) == 0 {
			b = map[string]any{"mode": "batch", "code": "", "runId": g.unique("fz-run-"),
				"options": map[string]any{"build": "true", "exec": "true"}}
		}
	case "complete-session-code":
		b = map[string]any{"code": "pri", "options": map[string]any{}}
	case "rename-session":
		b = map[string]any{"session_name": g.unique("fz-renamed-")}
	case "download-session-files":
		b = map[string]any{"files": []any{"fz.txt"}}
	case "download-session-file":
		b = map[string]any{"file": "fz.txt"}
	case "list-session-files":
		b = map[string]any{"path": "."}
	case "match-sessions":
		b = map[string]any{"id": o.RunningName}
	case "stream-session-events":
		b = map[string]any{"sessionId": o.RunningID, "scope": "*"}
	case "authorize":
		b = map[string]any{"type": "keypair", "domain": "default", "username": fixture.UserEmail, "password": "not-the-password"}
	case "set-config", "get-config", "delete-config":
		b = map[string]any{"key": "fuzz/key"}
		if op.ID == "set-config" {
			b["value"] = "v"
		}
	case "update-manager-status":
		b = map[string]any{"status": "frozen", "force_kill": false}
	case "update-manager-announcement":
		b = map[string]any{"enabled": false, "message": "fuzz"}
	case "create-domain":
		b = map[string]any{"name": g.unique("fz-d-")}
	case "set-image-alias":
		b = map[string]any{"alias": g.unique("fz-a-"), "target": "cr.backend.ai/stable/python:3.11-ubuntu22.04", "architecture": functionstest.HostArch()}
	case "create-keypair":
		b = map[string]any{"user": o.UserEmail}
	case "create-project":
		b = map[string]any{"name": g.unique("fz-p-"), "domain_name": o.Domain}
	case "add-project-members", "remove-project-members":
		b = map[string]any{"emails": []any{o.UserEmail}}
	case "create-resource-preset":
		b = map[string]any{"name": g.unique("fz-rp-"), "resource_slots": map[string]any{"cpu": "1", "mem": "1g"}}
	case "create-scaling-group":
		b = map[string]any{"name": g.unique("fz-sg-")}
	case "add-scaling-group-domain":
		b = map[string]any{"domain": o.Domain}
	case "add-scaling-group-keypair":
		b = map[string]any{"access_key": o.AccessKey}
	case "add-scaling-group-project":
		b = map[string]any{"project_id": o.ProjectID}
	case "create-keypair-resource-policy", "create-user-resource-policy", "create-project-resource-policy":
		b = map[string]any{"name": g.unique("fz-pol-")}
	case "create-user":
		name := g.unique("fz-u-")
		b = map[string]any{"email": name + "@example.com", "password": "Fuzz-pass-1", "domain_name": o.Domain, "username": name}
	case "update-user", "update-domain", "update-project":
		b = map[string]any{"description": "fuzzed"}
	case "update-keypair":
		b = map[string]any{"rate_limit": 1000}
	case "test-auth", "test-auth-post", "test-auth-test", "test-auth-test-post":
		b = map[string]any{"echo": "hello"}
	case "graphql", "graphql-legacy":
		docs := gqlDocs(o)
		d := docs[g.r.IntN(len(docs))]
		g.note = d.name
		b = d.body()
	case "create-session-template", "update-session-template":
		b = map[string]any{"payload": taskPayload(g.unique("fz-t-"), "fz")}
		// An update names no project: the caller's default one passes the scope check, so
		// that the template's owner check is what answers another tenant.
		if op.ID == "create-session-template" && o.TemplateGroup != "" {
			b["group"] = o.TemplateGroup
		}
	case "create-cluster-template", "update-cluster-template":
		b = map[string]any{"payload": clusterPayload(g.unique("fz-ct-"), o.NodeTemplateID)}
		if op.ID == "create-cluster-template" && o.TemplateGroup != "" {
			b["group"] = o.TemplateGroup
		}
	case "list-session-templates", "list-cluster-templates":
		b = map[string]any{}
		switch g.r.IntN(3) {
		case 0:
			b["group_id"] = o.TemplateGroupID
		case 1:
			b["all"] = true
		}
	case "get-session-template", "get-cluster-template":
		b = map[string]any{"format": []string{"json", "yaml"}[g.r.IntN(2)]}
	case "create-session-from-template":
		b = map[string]any{"template_id": o.SessionTemplateID, "name": g.unique("fz-ft-"), "enqueueOnly": true, "maxWaitSeconds": 1,
			"config": map[string]any{"resources": map[string]any{"cpu": "1", "mem": "256m"}}}
	case "create-session-cluster":
		b = map[string]any{"clientSessionToken": g.unique("fz-cl-"), "template_id": o.ClusterTemplateID, "enqueueOnly": true,
			"maxWaitSeconds": 1}
	case "list-error-logs":
		b = map[string]any{"page_no": 1, "page_size": 10, "mark_read": g.r.IntN(2) == 0}
	case "append-error-log":
		b = map[string]any{"severity": "warning", "source": "fuzz", "message": g.unique("fz-log-"), "context_lang": "en",
			"context_env": `{"fz": 1}`, "request_url": "/fz", "request_status": 500, "traceback": "Traceback: fz"}
	case "set-bootstrap-script":
		b = map[string]any{"script": "echo fz"}
	case "list-user-dotfiles":
		b = map[string]any{}
		if g.r.IntN(2) == 0 {
			b["path"] = o.Dotfile
		}
	case "create-user-dotfile", "update-user-dotfile", "create-group-dotfile", "update-group-dotfile",
		"create-domain-dotfile", "update-domain-dotfile":
		b = map[string]any{"path": o.Dotfile, "permission": "600", "data": "# fz\n"}
		if strings.HasPrefix(op.ID, "create-") {
			b["path"], b["permission"] = g.unique(".fz-"), "644"
		}
	case "delete-user-dotfile", "delete-group-dotfile", "delete-domain-dotfile":
		b = map[string]any{"path": o.Dotfile}
	case "list-group-dotfiles", "list-domain-dotfiles":
		b = map[string]any{}
		if g.r.IntN(2) == 0 {
			b["path"] = o.Dotfile
		}
	case "usage-per-month":
		b = map[string]any{"month": "202406"}
		if g.r.IntN(2) == 0 {
			b["group_ids"] = []any{o.ProjectID, fixture.DefaultProjectID}
		}
	case "usage-per-period":
		b = map[string]any{"start_date": "20240601", "end_date": "20240630"}
		if g.r.IntN(2) == 0 {
			b["project_id"] = fixture.DefaultProjectID
		}
	case "get-task-logs", "head-task-logs":
		b = map[string]any{"taskId": o.RunningID}
	default:
		sch := g.s.resolve(op.jsonBody())
		if sch == nil {
			return nil
		}
		v, _ := g.fill(sch, 0).(map[string]any)
		b = v
	}
	switch op.ID {
	case "list-group-dotfiles":
		b["group"] = fixture.DefaultProjectID
		if g.r.IntN(3) == 0 {
			b["group"], b["domain"] = "default", fixture.DefaultDomain // by name
		}
	case "create-group-dotfile", "update-group-dotfile", "delete-group-dotfile":
		b["group"] = o.ProjectID
	case "list-domain-dotfiles":
		b["domain"] = fixture.DefaultDomain
	case "create-domain-dotfile", "update-domain-dotfile", "delete-domain-dotfile":
		b["domain"] = o.Domain
	}
	if superadmin && b != nil {
		// Superadmins act on User's sessions on User's behalf.
		if sch := g.s.resolve(op.jsonBody()); sch != nil && sch.Properties["owner_access_key"] != nil {
			b["owner_access_key"] = fixture.UserAccessKey
		}
	}
	return b
}

// fill makes a value valid for sch: its example, enum or default, or a value of its type with
// its required properties.
func (g *generator) fill(sch *schema, depth int) any {
	sch = g.s.resolve(sch)
	if sch == nil || depth > 6 {
		return "fuzz"
	}
	for _, ex := range [][]json.RawMessage{sch.Examples, sch.Enum} {
		if len(ex) > 0 {
			var v any
			if json.Unmarshal(ex[0], &v) == nil {
				return v
			}
		}
	}
	if len(sch.Default) > 0 {
		var v any
		if json.Unmarshal(sch.Default, &v) == nil {
			return v
		}
	}
	switch sch.Type.main() {
	case "object", "":
		m := map[string]any{}
		for _, k := range sch.Required {
			m[k] = g.fill(sch.Properties[k], depth+1)
		}
		return m
	case "array":
		return []any{g.fill(sch.Items, depth+1)}
	case "integer", "number":
		return 1
	case "boolean":
		return false
	}
	if sch.Format == "uuid" {
		return "00000000-0000-4000-8000-000000000001"
	}
	return "fuzz"
}

// protected fields are never mutated: their hostile values would have effects the rest of the
// run cannot undo (force_kill terminates every session, including the one the suite runs code in).
var protected = map[string]map[string]bool{ //nolint:gochecknoglobals // read-only
	"update-manager-status": {"force_kill": true},
}

// mutateField puts val somewhere in body: a top-level key (present or declared), or one level
// down into an object.
func (g *generator) mutateField(op *operation, body map[string]any, val any) string {
	sch := g.s.resolve(op.jsonBody())
	cur, curSch, path := body, sch, ""
	for depth := 0; ; depth++ {
		keys := map[string]bool{}
		for k := range cur {
			keys[k] = true
		}
		if curSch != nil {
			for k := range curSch.Properties {
				keys[k] = true
			}
		}
		for k := range protected[op.ID] {
			if depth == 0 {
				delete(keys, k)
			}
		}
		names := sortedKeys(keys)
		if len(names) == 0 {
			cur["fz"] = val
			return path + "fz"
		}
		k := names[g.r.IntN(len(names))]
		var ks *schema
		if curSch != nil {
			ks = g.s.resolve(curSch.Properties[k])
		}
		if sub, ok := cur[k].(map[string]any); ok && depth < 3 && g.r.IntN(2) == 0 {
			cur, curSch, path = sub, ks, path+k+"."
			continue
		}
		if arr, ok := cur[k].([]any); ok && len(arr) > 0 && g.r.IntN(2) == 0 {
			arr[g.r.IntN(len(arr))] = val
			return path + k + "[]"
		}
		cur[k] = val
		return path + k
	}
}

// gqlHostile are gqlHostileBodies, built once.
var gqlHostile = sync.OnceValue(gqlHostileBodies) //nolint:gochecknoglobals // read-only

// mutatePayload puts val somewhere inside the JSON document payload holds (a template), and
// returns where ("[0].template.spec…") and the new payload.
func (g *generator) mutatePayload(payload string, val any) (string, string, bool) {
	var doc any
	if json.Unmarshal([]byte(payload), &doc) != nil {
		return "", "", false
	}
	where := ""
	set := func(any) {}
	cur := doc
	for depth := 0; ; depth++ {
		switch c := cur.(type) {
		case map[string]any:
			if len(c) == 0 {
				c["fz"] = val
				return where + ".fz", string(encodeJSON(doc)), true
			}
			keys := sortedKeys(c)
			k := keys[g.r.IntN(len(keys))]
			where += "." + k
			set, cur = func(v any) { c[k] = v }, c[k]
		case []any:
			if len(c) == 0 {
				set(append(c, val))
				return where + "[]", string(encodeJSON(doc)), true
			}
			i := g.r.IntN(len(c))
			where += "[" + strconv.Itoa(i) + "]"
			set, cur = func(v any) { c[i] = v }, c[i]
		default:
			set(val)
			return where, string(encodeJSON(doc)), true
		}
		if depth > 1 && g.r.IntN(4) == 0 {
			set(val)
			return where, string(encodeJSON(doc)), true
		}
	}
}

// typeConfused is a value of another JSON type than v's.
func (g *generator) typeConfused(v any) (string, any) {
	all := []struct {
		name string
		v    any
	}{{"string", "1"}, {"number", 1}, {"bool", true}, {"array", []any{"x"}}, {"object", map[string]any{"x": 1}}, {"null", raw("null")}}
	kind := func(x any) string {
		switch x.(type) {
		case string:
			return "string"
		case int, float64:
			return "number"
		case bool:
			return "bool"
		case []any:
			return "array"
		case map[string]any:
			return "object"
		}
		return "null"
	}
	for {
		c := all[g.r.IntN(len(all))]
		if c.name != kind(v) {
			return c.name, c.v
		}
	}
}

var headerMutations = []struct { //nolint:gochecknoglobals // read-only
	name string
	pre  bool
	h    [2]string
}{
	{"auth-invalid-utf8", false, [2]string{"Authorization", "BackendAI signMethod=HMAC-SHA256, credential=\xff\xfe:00ff"}},
	{"auth-invalid-utf8-method", false, [2]string{"Authorization", "BackendAI signMethod=\x85\xff, credential=" + fixture.UserAccessKey + ":00"}},
	{"auth-garbage", false, [2]string{"Authorization", "\xff garbage ==="}},
	{"auth-no-signature", false, [2]string{"Authorization", "BackendAI signMethod=HMAC-SHA256, credential=" + fixture.UserAccessKey}},
	{"auth-empty-credential", false, [2]string{"Authorization", "BackendAI signMethod=HMAC-SHA256, credential="}},
	{"auth-unknown-hash", false, [2]string{"Authorization", "BackendAI signMethod=HMAC-SHA3-999, credential=" + fixture.UserAccessKey + ":00"}},
	{"auth-huge", false, [2]string{"Authorization", "BackendAI signMethod=HMAC-SHA256, credential=" + strings.Repeat("A", big) + ":00"}},
	{"date-garbage", false, [2]string{"Date", "yesterday"}},
	{"date-invalid-utf8", false, [2]string{"Date", "\xff\xfe"}},
	{"date-far-future", false, [2]string{"Date", "9999-12-31T23:59:59+00:00"}},
	{"date-bad-offset", false, [2]string{"Date", "2024-05-01T12:00:00+99:99"}},
	{"date-huge-year", false, [2]string{"Date", "99999999999-05-01T12:00:00Z"}},
	{"version-garbage", false, [2]string{"X-BackendAI-Version", "v\xff\xfe"}},
	{"version-huge", false, [2]string{"X-BackendAI-Version", strings.Repeat("9", big)}},
	{"content-type-garbage", true, [2]string{"Content-Type", "application/json; charset=\xff; boundary="}},
	{"content-type-multipart", true, [2]string{"Content-Type", "multipart/form-data"}},
	{"content-type-text", true, [2]string{"Content-Type", "text/plain"}},
	{"method-override-garbage", true, [2]string{"X-Method-Override", "PROPFIND"}},
	{"method-override-invalid-utf8", true, [2]string{"X-Method-Override", "\xff"}},
	{"forwarded-garbage", false, [2]string{"X-Forwarded-For", "\xff, ::::, 999.1.1.1"}},
	{"request-id-huge", false, [2]string{"X-Request-Id", strings.Repeat("r", big)}},
	{"accept-garbage", false, [2]string{"Accept", "\xff/\xfe;q=abc"}},
	{"huge-header", false, [2]string{"X-Fuzz", strings.Repeat("h", 256<<10)}},
}

// generate builds the i-th request of op for actor.
func (g *generator) generate(op *operation, actor string, i int) *request {
	superadmin := actor == "superadmin"
	kind := kinds[i%len(kinds)]
	req := &request{op: op, actor: actor, method: op.Method, mutation: kind}

	// Path.
	pathParams := op.params("path")
	values := map[string]string{}
	for _, p := range pathParams {
		values[p.Name] = g.pathValue(op, p.Name, superadmin)
	}
	if kind == "path" {
		if len(pathParams) == 0 {
			kind = "field"
		} else {
			p := pathParams[g.r.IntN(len(pathParams))]
			hv := hostilePathValues(g.r)
			c := hv[g.r.IntN(len(hv))]
			values[p.Name] = c.value
			req.mutation = "path " + p.Name + "=" + c.name
		}
	}
	path := op.Path
	for k, v := range values {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}

	// Query: declared parameters get valid values.
	q := url.Values{}
	for _, p := range op.params("query") {
		switch p.Name {
		case "limit":
			q.Set(p.Name, "10")
		case "offset":
			q.Set(p.Name, "0")
		}
	}

	if op.multipart() {
		return g.uploadRequest(req, kind, path, q)
	}

	g.note = ""
	body := g.baselineBody(op, superadmin)
	if g.note != "" {
		defer func() { req.mutation = g.note + " " + req.mutation }()
	}
	switch kind {
	case "field":
		if body == nil {
			body = map[string]any{}
		}
		v := g.vals[g.r.IntN(len(g.vals))]
		if p, ok := body["payload"].(string); ok && g.r.IntN(2) == 0 {
			// Into the template document the payload holds.
			if where, np, ok := g.mutatePayload(p, v.v); ok {
				body["payload"] = np
				req.mutation = "field payload" + where + "=" + v.name
				break
			}
		}
		req.mutation = "field " + g.mutateField(op, body, v.v) + "=" + v.name
	case "type-confusion":
		if body == nil {
			body = map[string]any{}
		}
		name, v := g.typeConfused(nil)
		if len(body) > 0 {
			keys := sortedKeys(body)
			k := keys[g.r.IntN(len(keys))]
			if !protected[op.ID][k] {
				name, v = g.typeConfused(body[k])
				body[k] = v
				req.mutation = "type-confusion " + k + "=" + name
				break
			}
		}
		req.mutation = "field " + g.mutateField(op, body, v) + "=" + name
	case "drop-required":
		if body == nil {
			body = map[string]any{}
		}
		sch := g.s.resolve(op.jsonBody())
		var candidates []string
		if sch != nil {
			for _, k := range sch.Required {
				if _, ok := body[k]; ok {
					candidates = append(candidates, k)
				}
			}
		}
		if len(candidates) == 0 {
			candidates = sortedKeys(body)
		}
		if len(candidates) > 0 {
			k := candidates[g.r.IntN(len(candidates))]
			delete(body, k)
			req.mutation = "drop " + k
		}
	case "unknown-key":
		if body == nil {
			body = map[string]any{}
		}
		v := g.vals[g.r.IntN(len(g.vals))]
		body["fz_unknown_"+strconv.Itoa(g.r.IntN(3))] = v.v
		req.mutation = "unknown-key=" + v.name
	case "whole-body":
		w := g.whole[g.r.IntN(len(g.whole))]
		if op.ID == "graphql" || op.ID == "graphql-legacy" {
			if gw := gqlHostile(); g.r.IntN(3) != 0 {
				w = gw[g.r.IntN(len(gw))]
			}
		}
		req.mutation = "whole-body " + w.name
		req.body, req.contentType = []byte(w.body), "application/json"
		body = nil
	case "query":
		qp := op.params("query")
		switch {
		case op.jsonBody() != nil && (op.Method == http.MethodGet || op.Method == http.MethodDelete):
			// Backend.AI parameters in the query string instead of the body.
			if body == nil {
				body = map[string]any{}
			}
			vals := hostileQueryValues()
			hv := vals[g.r.IntN(len(vals))]
			keys := sortedKeys(body)
			k := "fz"
			if len(keys) > 0 && g.r.IntN(4) != 0 {
				k = keys[g.r.IntN(len(keys))]
			}
			for bk, bv := range body {
				q.Set(bk, queryText(bv))
			}
			q.Set(k, hv)
			req.mutation = "query-params " + k + "=" + printable(hv)
			body = nil
		case len(qp) > 0:
			vals := hostileQueryValues()
			hv := vals[g.r.IntN(len(vals))]
			p := qp[g.r.IntN(len(qp))]
			q.Set(p.Name, hv)
			if g.r.IntN(4) == 0 {
				q.Add(p.Name, "again")
			}
			req.mutation = "query " + p.Name + "=" + printable(hv)
		default:
			vals := hostileQueryValues()
			hv := vals[g.r.IntN(len(vals))]
			q.Set("fz", hv)
			req.mutation = "query fz=" + printable(hv)
		}
	case "header":
		m := headerMutations[g.r.IntN(len(headerMutations))]
		req.mutation = "header " + m.name
		if m.pre {
			req.preSign = append(req.preSign, m.h)
		} else {
			req.postSign = append(req.postSign, m.h)
		}
	}
	if body != nil {
		req.body, req.contentType = encodeJSON(body), "application/json"
	}
	if op.ID == "stream-execute-session" && i%2 == 1 {
		// Half of the stream requests are real WebSocket handshakes.
		req.preSign = append(req.preSign, [2]string{"Connection", "Upgrade"}, [2]string{"Upgrade", "websocket"},
			[2]string{"Sec-WebSocket-Version", "13"}, [2]string{"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="})
	}
	req.target = path
	if len(q) > 0 {
		req.target += "?" + q.Encode()
	}
	return req
}

// uploadRequest builds a multipart upload.
func (g *generator) uploadRequest(req *request, kind, path string, q url.Values) *request {
	files := map[string]string{g.unique("fz-up-") + ".txt": "hello"}
	switch kind {
	case "field", "type-confusion", "unknown-key":
		v := g.vals[g.r.IntN(len(g.vals))]
		if v.text != "" && len(v.text) < 4096 {
			files = map[string]string{v.text: "x"}
			req.mutation = "upload filename=" + v.name
		} else {
			files = map[string]string{"fz-empty.txt": ""}
			req.mutation = "upload empty file"
		}
	case "drop-required":
		req.contentType, req.body = multipartBody("other", files)
		req.mutation = "upload without src"
	case "whole-body":
		switch g.r.IntN(4) {
		case 0:
			req.contentType, req.body = "multipart/form-data", []byte("garbage")
			req.mutation = "upload no boundary"
		case 1:
			req.contentType, req.body = "multipart/form-data; boundary=xyz", []byte("--xyz\r\ngarbage\xff\x00")
			req.mutation = "upload truncated multipart"
		case 2:
			many := map[string]string{}
			for i := range 21 {
				many["many-"+strconv.Itoa(i)] = "x"
			}
			req.contentType, req.body = multipartBody("src", many)
			req.mutation = "upload 21 files"
		default:
			req.contentType, req.body = multipartBody("src", map[string]string{"big.bin": strings.Repeat("b", 1<<20)})
			req.mutation = "upload 1 MiB file"
		}
	case "query":
		q.Set("fz", "\xff")
		req.mutation = "upload query fz=invalid-utf8"
	case "header":
		m := headerMutations[g.r.IntN(len(headerMutations))]
		req.mutation = "header " + m.name
		if m.pre {
			req.preSign = append(req.preSign, m.h)
		} else {
			req.postSign = append(req.postSign, m.h)
		}
	}
	if req.body == nil {
		req.contentType, req.body = multipartBody("src", files)
	}
	req.target = path
	if len(q) > 0 {
		req.target += "?" + q.Encode()
	}
	return req
}

// queryText is a body value as a query-string value.
func queryText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case raw:
		return string(x)
	}
	return string(encodeJSON(v))
}

// printable shortens and quotes a value for messages.
func printable(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%q…(%d bytes)", s[:40], len(s))
	}
	return fmt.Sprintf("%q", s)
}
