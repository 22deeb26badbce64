package apifuzz_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/events"
	"github.com/hangar-run/hangar/internal/fixture"
)

// isoClass is how an operation relates to other tenants' data.
type isoClass string

const (
	// isoPublic operations need no signature and show nothing of any tenant.
	isoPublic isoClass = "public"
	// isoSelf operations act on the caller's own keypair, user or projects.
	isoSelf isoClass = "self"
	// isoSessionItem operations act on one session named in the path.
	isoSessionItem isoClass = "session-item"
	// isoSessionCreate creates a session, possibly on behalf of another access key.
	isoSessionCreate isoClass = "session-create"
	// isoSessionMatch looks sessions up by reference.
	isoSessionMatch isoClass = "session-match"
	// isoSessionEvents streams session events.
	isoSessionEvents isoClass = "session-events"
	// isoAdmin operations need an admin keypair; domain admins act in their own domain only.
	isoAdmin isoClass = "admin"
	// isoSuperadmin operations need a superadmin.
	isoSuperadmin isoClass = "superadmin"
	// isoOwned operations act on one object of the caller's (a template, an error log) named
	// by id: the owner's, their domain admin's or a superadmin's only.
	isoOwned isoClass = "owned"
	// isoShared operations read what the caller's project or domain shares with its members:
	// admins of another domain are refused.
	isoShared isoClass = "shared"
	// isoAdminGlobal operations need an admin keypair and name no tenant's object.
	isoAdminGlobal isoClass = "admin-global"
)

// isolation classifies every operation of the OpenAPI document. A new operation must be added
// here, which makes whoever adds it decide which tenants may reach it.
var isolation = map[string]isoClass{ //nolint:gochecknoglobals // read-only
	"get-version": isoPublic, "authorize": isoPublic, "get-resource-slots": isoPublic,
	"get-resource-slot-details": isoPublic, "get-vfolder-types": isoPublic, "get-manager-announcement": isoPublic,
	"get-manager-status": isoPublic,

	"test-auth": isoSelf, "test-auth-post": isoSelf, "test-auth-test": isoSelf, "test-auth-test-post": isoSelf,
	"get-role": isoSelf, "get-my-keypair": isoSelf, "list-resource-presets": isoSelf, "check-resource-presets": isoSelf,
	"list-available-scaling-groups": isoSelf, "get-wsproxy-version": isoSelf,

	"create-session": isoSessionCreate, "create-session-alt": isoSessionCreate,
	"match-sessions":        isoSessionMatch,
	"stream-session-events": isoSessionEvents,
	"get-session-info":      isoSessionItem, "destroy-session": isoSessionItem, "restart-session": isoSessionItem,
	"execute-session": isoSessionItem, "complete-session-code": isoSessionItem, "download-session-files": isoSessionItem,
	"download-session-file": isoSessionItem, "list-session-files": isoSessionItem, "interrupt-session": isoSessionItem,
	"get-session-logs": isoSessionItem, "rename-session": isoSessionItem, "upload-session-files": isoSessionItem,
	"stream-execute-session": isoSessionItem, "get-session-abusing-report": isoSessionItem,
	"get-session-dependency-graph": isoSessionItem, "get-session-status-history": isoSessionItem,
	"create-session-cluster": isoSessionCreate, "create-session-from-template": isoSessionCreate,

	// GraphQL scopes every field by role itself (functions/gql has the per-role tests).
	"graphql": isoSelf, "graphql-legacy": isoSelf,
	"get-task-logs": isoSelf, "head-task-logs": isoSelf,
	"list-error-logs": isoSelf, "append-error-log": isoSelf, "clear-error-log": isoOwned,
	"get-bootstrap-script": isoSelf, "set-bootstrap-script": isoSelf,
	"list-user-dotfiles": isoSelf, "create-user-dotfile": isoSelf, "update-user-dotfile": isoSelf, "delete-user-dotfile": isoSelf,
	"list-group-dotfiles": isoShared, "create-group-dotfile": isoAdmin, "update-group-dotfile": isoAdmin, "delete-group-dotfile": isoAdmin,
	"list-domain-dotfiles": isoShared, "create-domain-dotfile": isoAdmin, "update-domain-dotfile": isoAdmin, "delete-domain-dotfile": isoAdmin,
	"list-session-templates": isoSelf, "create-session-template": isoSelf, "get-session-template": isoOwned,
	"update-session-template": isoOwned, "delete-session-template": isoOwned,
	"list-cluster-templates": isoSelf, "create-cluster-template": isoSelf, "get-cluster-template": isoOwned,
	"update-cluster-template": isoOwned, "delete-cluster-template": isoOwned,
	"usage-per-month": isoSuperadmin, "usage-per-period": isoSuperadmin,
	"admin-month-stats": isoSuperadmin, "user-month-stats": isoSelf,

	"list-keypairs": isoAdmin, "get-keypair": isoAdmin, "list-projects": isoAdmin, "create-project": isoAdmin,
	"delete-project": isoAdmin, "get-project": isoAdmin, "update-project": isoAdmin, "remove-project-members": isoAdmin,
	"list-project-members": isoAdmin, "add-project-members": isoAdmin, "list-users": isoAdmin, "get-user": isoAdmin,

	"create-keypair": isoSuperadmin, "delete-keypair": isoSuperadmin, "update-keypair": isoSuperadmin,
	"set-main-keypair": isoSuperadmin, "create-user": isoSuperadmin, "delete-user": isoSuperadmin,
	"update-user": isoSuperadmin,

	"list-domains": isoSuperadmin, "create-domain": isoSuperadmin, "delete-domain": isoSuperadmin,
	"get-domain": isoSuperadmin, "update-domain": isoSuperadmin, "list-images": isoSuperadmin,
	"set-image-alias": isoSuperadmin, "delete-image-alias": isoSuperadmin, "rescan-images": isoAdminGlobal,
	"list-keypair-resource-policies": isoSuperadmin, "create-keypair-resource-policy": isoSuperadmin,
	"delete-keypair-resource-policy": isoSuperadmin, "get-keypair-resource-policy": isoSuperadmin,
	"update-keypair-resource-policy": isoSuperadmin, "list-project-resource-policies": isoSuperadmin,
	"create-project-resource-policy": isoSuperadmin, "delete-project-resource-policy": isoSuperadmin,
	"get-project-resource-policy": isoSuperadmin, "update-project-resource-policy": isoSuperadmin,
	"list-admin-resource-presets": isoSuperadmin, "create-resource-preset": isoSuperadmin,
	"delete-resource-preset": isoSuperadmin, "get-resource-preset": isoSuperadmin, "update-resource-preset": isoSuperadmin,
	"list-admin-scaling-groups": isoSuperadmin, "create-scaling-group": isoSuperadmin, "delete-scaling-group": isoSuperadmin,
	"get-scaling-group": isoSuperadmin, "update-scaling-group": isoSuperadmin, "list-scaling-group-domains": isoSuperadmin,
	"add-scaling-group-domain": isoSuperadmin, "remove-scaling-group-domain": isoSuperadmin,
	"list-scaling-group-keypairs": isoSuperadmin, "add-scaling-group-keypair": isoSuperadmin,
	"remove-scaling-group-keypair": isoSuperadmin, "list-scaling-group-projects": isoSuperadmin,
	"add-scaling-group-project": isoSuperadmin, "remove-scaling-group-project": isoSuperadmin,
	"list-user-resource-policies": isoSuperadmin, "create-user-resource-policy": isoSuperadmin,
	"delete-user-resource-policy": isoSuperadmin, "get-user-resource-policy": isoSuperadmin,
	"update-user-resource-policy": isoSuperadmin, "delete-config": isoSuperadmin, "get-docker-registries": isoSuperadmin,
	"get-config": isoSuperadmin, "set-config": isoSuperadmin, "update-manager-announcement": isoSuperadmin,
	"update-manager-status": isoSuperadmin, "recalculate-usage": isoSuperadmin,
}

// fromTemplate are the session creates that read a template the caller names.
var fromTemplate = map[string]bool{"create-session-from-template": true, "create-session-cluster": true} //nolint:gochecknoglobals // read-only

// scopeOf is the security scope an isolation class goes with.
func (c isoClass) scope() string {
	switch c {
	case isoPublic:
		return ""
	case isoAdmin, isoAdminGlobal:
		return "admin"
	case isoSuperadmin:
		return "superadmin"
	}
	return "user"
}

// attacker is someone who must not reach the victim's data.
type attacker struct {
	name   string
	creds  *auth.Credentials
	domain string
	admin  bool // a domain admin (of another domain)
}

// victim is User's data the attackers aim at.
type victim struct {
	o        *objects
	kernelID string
	pending  string // id of the PENDING session
}

// snapshot is everything of the victim's that an attack could change: sessions, kernels, the
// user, keypairs (with their dotfiles and bootstrap script), project and domain (with theirs),
// templates and error logs.
func snapshot(t *testing.T, env *functionstest.Env, v *victim) string {
	t.Helper()
	var out string
	require.NoError(t, env.DB.Pool.QueryRow(t.Context(), `SELECT jsonb_build_object(
		'sessions', (SELECT jsonb_agg(to_jsonb(s) ORDER BY s.id) FROM sessions s WHERE s.access_key = $1),
		'kernels', (SELECT jsonb_agg(to_jsonb(k) ORDER BY k.id) FROM kernels k WHERE k.access_key = $1),
		'user', (SELECT to_jsonb(u) FROM users u WHERE u.uuid = $2::uuid),
		'keypairs', (SELECT jsonb_agg(to_jsonb(k) - 'num_queries' - 'last_used' ORDER BY k.access_key) FROM keypairs k WHERE k."user" = $2::uuid),
		'project', (SELECT to_jsonb(g) FROM groups g WHERE g.id = $3::uuid),
		'members', (SELECT jsonb_agg(to_jsonb(a) ORDER BY a.user_id) FROM association_groups_users a WHERE a.group_id = $3::uuid),
		'domain', (SELECT to_jsonb(d) FROM domains d WHERE d.name = 'default'),
		'sgroup_domains', (SELECT jsonb_agg(to_jsonb(x) ORDER BY x.scaling_group) FROM sgroups_for_domains x WHERE x.domain = 'default'),
		'private_project', (SELECT to_jsonb(g) FROM groups g WHERE g.id = $4::uuid),
		'private_members', (SELECT jsonb_agg(to_jsonb(a) ORDER BY a.user_id) FROM association_groups_users a WHERE a.group_id = $4::uuid),
		'templates', (SELECT jsonb_agg(to_jsonb(x) ORDER BY x.id) FROM session_templates x WHERE x.user_uuid = $2::uuid OR x.group_id = $4::uuid),
		'error_logs', (SELECT jsonb_agg(to_jsonb(x) ORDER BY x.id) FROM error_logs x WHERE x."user" = $2::uuid)
	)::text`, fixture.UserAccessKey, fixture.UserUUID, fixture.DefaultProjectID, v.o.TemplateGroupID).Scan(&out))
	return out
}

// TestTenantIsolation checks that every session and admin route keeps User's session and
// objects away from another user, a monitor and another domain's admin: they are refused
// (401, 403 or 404), see none of the victim's identifiers, and change nothing.
func TestTenantIsolation(t *testing.T) {
	s := loadSpec(t)
	// Every operation is classified, with the scope the document gives it.
	for _, op := range s.ops {
		c, ok := isolation[op.ID]
		if !ok {
			t.Errorf("operation %s (%s %s) is not classified: add it to the isolation table in %s "+
				"(public, self, a session route, admin or superadmin) so that the tenant-isolation test covers it",
				op.ID, op.Method, op.Path, "functions/apifuzz/isolation_test.go")
			continue
		}
		require.Equal(t, c.scope(), op.scope(), "operation %s is classified %s but its security scope is %q", op.ID, c, op.scope())
	}
	if t.Failed() {
		t.FailNow()
	}

	env, hook := newHookedEnv(t)
	// Another domain with its own admin, created through the admin API.
	superDo(t, env, http.MethodPost, "/admin/domains", map[string]any{"name": "tenant-b"}).RequireStatus(t, http.StatusCreated)
	res := superDo(t, env, http.MethodPost, "/admin/users", map[string]any{"email": "admin@tenant-b.example", "password": "Tenant-b-pass",
		"domain_name": "tenant-b", "role": "admin", "username": "tenant-b-admin"})
	res.RequireStatus(t, http.StatusCreated)
	var created struct {
		Keypair struct {
			AccessKey string `json:"access_key"`
			SecretKey string `json:"secret_key"`
			IsAdmin   bool   `json:"is_admin"`
		} `json:"keypair"`
	}
	res.JSON(t, &created)
	require.True(t, created.Keypair.IsAdmin)
	otherAdmin := auth.Credentials{AccessKey: created.Keypair.AccessKey, SecretKey: created.Keypair.SecretKey}
	env.Do(t, http.MethodGet, "/admin/users", nil, &otherAdmin).RequireStatus(t, http.StatusOK)

	attackers := []attacker{
		{name: "user2", creds: &functionstest.User2, domain: fixture.DefaultDomain},
		{name: "monitor", creds: &functionstest.Monitor, domain: fixture.DefaultDomain},
		{name: "other-domain-admin", creds: &otherAdmin, domain: "tenant-b", admin: true},
	}

	// The victim: User's RUNNING session (a live kernel), a PENDING one, and User's objects.
	a, _ := startAgent(t, env)
	v := &victim{o: &objects{Domain: fixture.DefaultDomain, ProjectID: fixture.DefaultProjectID, UserEmail: fixture.UserEmail,
		UserUUID: fixture.UserUUID, AccessKey: fixture.UserAccessKey, Alias: "python", SGroup: fixture.DefaultScalingGroup,
		Preset: "cpu01-small", KPPolicy: fixture.DefaultResourcePolicy, UserPolicy: fixture.DefaultResourcePolicy,
		ProjPolicy: fixture.DefaultResourcePolicy, RunningName: "victim-running"}}
	v.o.RunningID = startRunningSession(t, env, a, v.o.RunningName, &functionstest.User)
	require.NoError(t, env.DB.Pool.QueryRow(t.Context(), `SELECT id::text FROM kernels WHERE session_id = $1`, v.o.RunningID).Scan(&v.kernelID))
	ct, body := multipartBody("src", map[string]string{"fz.txt": "victim's file\n"})
	env.Do(t, http.MethodPost, "/session/"+v.o.RunningName+"/upload", body, &functionstest.User, "Content-Type: "+ct).RequireStatus(t, http.StatusNoContent)
	ensureVictim(t, env, v.o)
	require.NoError(t, env.DB.Pool.QueryRow(t.Context(), `SELECT id::text FROM sessions WHERE name = $1 AND access_key = $2`,
		v.o.VictimName, fixture.UserAccessKey).Scan(&v.pending))
	// User's templates (in a project of which User is the only member), error log, keypair
	// dotfile and bootstrap script; the default project's and domain's dotfiles.
	res = superDo(t, env, http.MethodPost, "/admin/projects", map[string]any{"name": "victim-private", "domain_name": fixture.DefaultDomain})
	res.RequireStatus(t, http.StatusCreated)
	var private struct {
		ID string `json:"id"`
	}
	res.JSON(t, &private)
	superDo(t, env, http.MethodPost, "/admin/projects/"+private.ID+"/members", map[string]any{"emails": []any{fixture.UserEmail}}).
		RequireStatus(t, http.StatusNoContent)
	marker := uuid.NewString()[:8]
	v.o.TemplateGroup, v.o.TemplateGroupID = "victim-private", private.ID
	v.o.Dotfile, v.o.Marker, v.o.SharedMarker = ".victimrc", "victim-private-"+marker, "victim-shared-"+marker
	ensureExtras(t, env, v.o)
	superDo(t, env, http.MethodPost, "/group-config/dotfiles", map[string]any{"group": private.ID, "path": v.o.Dotfile,
		"permission": "644", "data": "# " + v.o.Marker + "\n"}).RequireStatus(t, http.StatusOK)

	r := &runner{t: t, env: env, hook: hook, client: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, counts: map[string]map[string]int{}, failures: map[string]*failure{}, trace: os.Getenv("HANGAR_FUZZ_TRACE")}
	seq := 0
	for _, op := range s.ops {
		c := isolation[op.ID]
		if c == isoPublic {
			continue
		}
		if c == isoSessionEvents {
			checkEventIsolation(t, env, v, attackers)
			continue
		}
		before := snapshot(t, env, v)
		for _, at := range attackers {
			g := &generator{s: s, o: v.o, r: rand.New(rand.NewPCG(1, uint64(len(op.ID)))), seq: &seq} //nolint:gosec // deterministic
			var reqs []*request
			// The request as the victim's own client would send it (by name, then by id), and
			// as an admin acting on the victim's behalf (owner_access_key).
			for i := range 4 {
				onBehalf := i%2 == 1
				if c == isoSessionCreate && !onBehalf && !fromTemplate[op.ID] {
					continue // creating one's own session is no attack, unless from the victim's template
				}
				req := g.generate(op, map[bool]string{true: "superadmin", false: "user"}[onBehalf], 0)
				req.actor, req.creds = at.name, at.creds
				reqs = append(reqs, req)
			}
			if op.ID == "list-group-dotfiles" {
				// The victim's private project: none of the attackers is a member.
				for _, ref := range []map[string]any{{"group": v.o.TemplateGroupID}, {"group": v.o.TemplateGroup, "domain": fixture.DefaultDomain},
					{"group": v.o.TemplateGroupID, "path": v.o.Dotfile}} {
					req := g.generate(op, "user", 0)
					req.actor, req.creds, req.mutation = at.name, at.creds, "private project"
					req.body, req.mustRefuse = encodeJSON(ref), "the dotfiles of a project the caller is no member of"
					reqs = append(reqs, req)
				}
			}
			if op.ID == "graphql" || op.ID == "graphql-legacy" {
				// Every document, each naming the victim's session, user, keypair.
				for _, d := range gqlDocs(v.o) {
					req := g.generate(op, "user", 0)
					req.actor, req.creds, req.mutation = at.name, at.creds, d.name
					req.body = encodeJSON(d.body())
					reqs = append(reqs, req)
				}
			}
			for _, req := range reqs {
				if op.ID == "stream-execute-session" {
					req.preSign = append(req.preSign, [2]string{"Connection", "Upgrade"}, [2]string{"Upgrade", "websocket"},
						[2]string{"Sec-WebSocket-Version", "13"}, [2]string{"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="})
				}
				out := r.send(req)
				r.check(req, out)
				if msg := isolationViolation(c, at, v, req, out); msg != "" {
					t.Errorf("%s as %s: %s\n    %s\n    → %d %s", op.ID, at.name, msg, req.describe(), out.status, truncate(string(out.body), 300))
				}
			}
		}
		if after := snapshot(t, env, v); after != before {
			t.Errorf("%s: the attackers' requests changed the victim's data:\nbefore %s\nafter  %s", op.ID, before, after)
		}
	}
	// A control: the owner reaches the session the attackers could not.
	env.Do(t, http.MethodGet, "/session/"+v.o.RunningID, nil, &functionstest.User).RequireStatus(t, http.StatusOK)
	res = env.Do(t, http.MethodGet, "/session/"+v.o.RunningName+"/download_single?file=fz.txt", nil, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	require.Contains(t, string(res.Body), "victim's file")
	for _, id := range sortedKeys(r.counts) {
		var parts []string
		for _, st := range sortedKeys(r.counts[id]) {
			parts = append(parts, fmt.Sprintf("%s×%d", st, r.counts[id][st]))
		}
		t.Logf("  %-36s %s", id, strings.Join(parts, " "))
	}
	for _, c := range sortedKeys(r.failures) {
		t.Errorf("%s (%d×), e.g.\n    %s", c, r.failures[c].count, r.failures[c].example)
	}
}

// isolationViolation says what is wrong with an attacker's answer, or "".
func isolationViolation(c isoClass, at attacker, v *victim, req *request, out outcome) string {
	if out.err != nil {
		return "" // reported by the runner
	}
	sent := req.target + " " + string(req.body)
	for _, tok := range leakTokens(v, at) {
		if !strings.Contains(sent, tok) && bytes.Contains(out.body, []byte(tok)) {
			return fmt.Sprintf("the answer shows the victim's %q", tok)
		}
	}
	refused := out.status == http.StatusUnauthorized || out.status == http.StatusForbidden || out.status == http.StatusNotFound
	if (c == isoSelf || c == isoOwned || c == isoShared) && strings.Contains(string(req.body), `"owner_access_key":"`+fixture.UserAccessKey+`"`) &&
		(out.status < 400 || out.status >= 500) {
		return "acting with the victim's owner_access_key must be refused"
	}
	if req.mustRefuse != "" && !refused {
		return req.mustRefuse + " must be refused (401, 403 or 404)"
	}
	switch c {
	case isoAdminGlobal:
		if !at.admin && (out.status != http.StatusUnauthorized || problemType(out.body) != "auth-failed") {
			return "an admin route must refuse non-admins with 401 auth-failed"
		}
	case isoOwned:
		// An update checks the caller's scope (domain, project) first, as Backend.AI does: an
		// admin of another domain is refused there, before the template is looked up.
		if !refused && !(req.op.ID == "update-session-template" && scopeRefused(out)) {
			return "another tenant's object must be refused (401, 403 or 404)"
		}
	case isoShared:
		if at.admin && !refused {
			return "a domain admin must be refused outside their domain (401, 403 or 404)"
		}
	case isoSuperadmin:
		if out.status != http.StatusUnauthorized || problemType(out.body) != "auth-failed" {
			return "a superadmin route must refuse with 401 auth-failed"
		}
	case isoAdmin:
		if !at.admin {
			if out.status != http.StatusUnauthorized || problemType(out.body) != "auth-failed" {
				return "an admin route must refuse non-admins with 401 auth-failed"
			}
			return ""
		}
		// A domain admin of another domain: a list may answer (with its own domain's items, the
		// leak check above covers that); anything naming the victim's objects is refused.
		if req.op.Method == http.MethodGet && len(req.op.params("path")) == 0 && out.status == http.StatusOK {
			return ""
		}
		if !refused {
			return "a domain admin must be refused outside their domain (401, 403 or 404)"
		}
	case isoSessionCreate:
		// Refused, by the owner check (403) or the domain check (400); the snapshot shows that
		// no session was created for the victim.
		if out.status < 400 || out.status >= 500 {
			return "creating a session on another tenant's behalf must be refused"
		}
	case isoSessionItem:
		if !refused {
			return "another tenant's session must be refused (401, 403 or 404)"
		}
	case isoSessionMatch:
		if out.status == http.StatusOK && bytes.Contains(out.body, []byte(`"matches":[]`)) {
			return ""
		}
		if !refused {
			return "matching another tenant's session must find nothing"
		}
	}
	return ""
}

// scopeRefused reports whether out is the 400 of a domain or project the caller may not use.
func scopeRefused(out outcome) bool {
	var p struct {
		Data map[string]any `json:"data"`
	}
	if out.status != http.StatusBadRequest || problemType(out.body) != "invalid-api-params" || json.Unmarshal(out.body, &p) != nil {
		return false
	}
	_, domain := p.Data["domain"]
	_, group := p.Data["group"]
	return len(p.Data) == 1 && (domain || group)
}

// leakTokens are the victim's identifiers that must not appear in an attacker's answer.
func leakTokens(v *victim, at attacker) []string {
	dashed := func(hex string) string {
		if u, err := uuid.Parse(hex); err == nil {
			return u.String()
		}
		return hex
	}
	o := v.o
	toks := []string{o.RunningID, o.RunningName, v.pending, o.VictimName, v.kernelID,
		fixture.UserUUID, fixture.UserEmail, fixture.UserSecretKey,
		o.Marker, o.TemplateGroupID, o.ErrorLogID, o.SessionTemplateID, dashed(o.SessionTemplateID),
		o.NodeTemplateID, dashed(o.NodeTemplateID), o.ClusterTemplateID, dashed(o.ClusterTemplateID)}
	if at.admin {
		toks = append(toks, fixture.UserAccessKey, fixture.DefaultProjectID, o.SharedMarker)
	}
	return toks
}

// checkEventIsolation opens event streams as each attacker (all events, the victim's session by
// id, by name and owner) and as the victim, publishes an event of the victim's session and then
// one sentinel per stream, and checks that only the victim's stream saw the victim's event.
func checkEventIsolation(t *testing.T, env *functionstest.Env, v *victim, attackers []attacker) {
	t.Helper()
	type stream struct {
		who      string
		lines    chan string
		sentinel events.Event
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	victimEvent := events.Event{Name: "session_started", SessionID: v.o.RunningID, SessionName: v.o.RunningName,
		KernelID: v.kernelID, AccessKey: fixture.UserAccessKey, Domain: fixture.DefaultDomain,
		ProjectID: fixture.DefaultProjectID, Reason: "victim-event", Status: "RUNNING", Time: time.Now()}
	open := func(who string, creds *auth.Credentials, query url.Values, sentinel events.Event) *stream {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.HTTP.URL+"/events/session?"+query.Encode(), nil)
		require.NoError(t, err)
		require.NoError(t, creds.SignRequest(req, functions.APIVersion, env.Clock.Now()))
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { _ = res.Body.Close() })
		if res.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(res.Body)
			require.Contains(t, []int{http.StatusForbidden, http.StatusNotFound}, res.StatusCode, "%s %v: %s", who, query, b)
			return nil
		}
		st := &stream{who: who, lines: make(chan string, 64), sentinel: sentinel}
		go func() {
			defer close(st.lines)
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
				select {
				case st.lines <- sc.Text():
				case <-ctx.Done():
					return
				}
			}
		}()
		return st
	}
	var streams []*stream
	for i, at := range attackers {
		for j, q := range []url.Values{
			{},
			{"sessionId": {v.o.RunningID}},
			{"name": {v.o.RunningName}, "ownerAccessKey": {fixture.UserAccessKey}},
		} {
			// The sentinel passes the attacker's filter: the attacker's domain, and for
			// non-admins the attacker's key (a name filter also needs the owner's key).
			s := victimEvent
			s.Name, s.Reason, s.Domain, s.ProjectID = "kernel_pulling", fmt.Sprintf("sentinel-%d-%d", i, j), at.domain, uuid.NewString()
			if !at.admin {
				s.AccessKey = at.creds.AccessKey
			}
			if st := open(at.name, at.creds, q, s); st != nil {
				streams = append(streams, st)
			}
		}
	}
	control := victimEvent
	control.Name, control.Reason = "kernel_pulling", "sentinel-victim"
	own := open("victim", &functionstest.User, url.Values{"sessionId": {v.o.RunningID}}, control)
	require.NotNil(t, own)
	evs := []events.Event{victimEvent}
	for _, st := range append(streams, own) {
		evs = append(evs, st.sentinel)
	}
	require.NoError(t, events.NewPublisher(env.Redis, env.Deps.Enqueuer.Prefix()).Publish(ctx, evs...))
	for _, st := range append(streams, own) {
		sawVictim := false
		for line := range st.lines {
			if strings.Contains(line, `"reason":"victim-event"`) {
				sawVictim = true
			}
			if strings.Contains(line, `"reason":"`+st.sentinel.Reason+`"`) {
				break
			}
		}
		require.NoError(t, ctx.Err(), "%s's stream did not deliver its sentinel", st.who)
		if st == own {
			require.True(t, sawVictim, "the victim's own stream must see the victim's event (control)")
		} else if sawVictim {
			t.Errorf("stream-session-events as %s: the victim's session event leaked", st.who)
		}
	}
}
