package apifuzz_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
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
	"stream-execute-session": isoSessionItem,

	"list-keypairs": isoAdmin, "create-keypair": isoAdmin, "delete-keypair": isoAdmin, "get-keypair": isoAdmin,
	"update-keypair": isoAdmin, "set-main-keypair": isoAdmin, "list-projects": isoAdmin, "create-project": isoAdmin,
	"delete-project": isoAdmin, "get-project": isoAdmin, "update-project": isoAdmin, "remove-project-members": isoAdmin,
	"list-project-members": isoAdmin, "add-project-members": isoAdmin, "list-users": isoAdmin, "create-user": isoAdmin,
	"delete-user": isoAdmin, "get-user": isoAdmin, "update-user": isoAdmin,

	"list-domains": isoSuperadmin, "create-domain": isoSuperadmin, "delete-domain": isoSuperadmin,
	"get-domain": isoSuperadmin, "update-domain": isoSuperadmin, "list-images": isoSuperadmin,
	"set-image-alias": isoSuperadmin, "delete-image-alias": isoSuperadmin, "rescan-images": isoSuperadmin,
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

// scopeOf is the security scope an isolation class goes with.
func (c isoClass) scope() string {
	switch c {
	case isoPublic:
		return ""
	case isoAdmin:
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

// snapshot is everything of the victim's that an attack could change.
func snapshot(t *testing.T, env *functionstest.Env) string {
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
		'sgroup_domains', (SELECT jsonb_agg(to_jsonb(x) ORDER BY x.scaling_group) FROM sgroups_for_domains x WHERE x.domain = 'default')
	)::text`, fixture.UserAccessKey, fixture.UserUUID, fixture.DefaultProjectID).Scan(&out))
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

	r := &runner{t: t, env: env, hook: hook, client: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, counts: map[string]map[string]int{}, failures: map[string]*failure{}}
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
		before := snapshot(t, env)
		for _, at := range attackers {
			g := &generator{s: s, o: v.o, r: rand.New(rand.NewPCG(1, uint64(len(op.ID)))), seq: &seq} //nolint:gosec // deterministic
			var reqs []*request
			// The request as the victim's own client would send it (by name, then by id), and
			// as an admin acting on the victim's behalf (owner_access_key).
			for i := range 4 {
				onBehalf := i%2 == 1
				if c == isoSessionCreate && !onBehalf {
					continue // creating one's own session is no attack
				}
				req := g.generate(op, map[bool]string{true: "superadmin", false: "user"}[onBehalf], 0)
				req.actor, req.creds = at.name, at.creds
				reqs = append(reqs, req)
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
		if after := snapshot(t, env); after != before {
			t.Errorf("%s: the attackers' requests changed the victim's data:\nbefore %s\nafter  %s", op.ID, before, after)
		}
	}
	// A control: the owner reaches the session the attackers could not.
	env.Do(t, http.MethodGet, "/session/"+v.o.RunningID, nil, &functionstest.User).RequireStatus(t, http.StatusOK)
	res = env.Do(t, http.MethodGet, "/session/"+v.o.RunningName+"/download_single?file=fz.txt", nil, &functionstest.User)
	res.RequireStatus(t, http.StatusOK)
	require.Contains(t, string(res.Body), "victim's file")
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
	switch c {
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

// leakTokens are the victim's identifiers that must not appear in an attacker's answer.
func leakTokens(v *victim, at attacker) []string {
	toks := []string{v.o.RunningID, v.o.RunningName, v.pending, v.o.VictimName, v.kernelID,
		fixture.UserUUID, fixture.UserEmail, fixture.UserSecretKey}
	if at.admin {
		toks = append(toks, fixture.UserAccessKey, fixture.DefaultProjectID)
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
