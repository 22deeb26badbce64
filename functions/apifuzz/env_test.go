package apifuzz_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hangar-run/hangar/functions/api"
	"github.com/hangar-run/hangar/functions/functionstest"
	agentd "github.com/hangar-run/hangar/internal/agent"
	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/fixture"
)

// logHook records what the API logs at warning level and above, and every recovered panic.
type logHook struct {
	mu      sync.Mutex
	panics  []string
	errors  map[string]int
	current string // the request being sent, to name the panic's cause
}

func (h *logHook) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *logHook) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Message == "panic while serving request" {
		var b strings.Builder
		b.WriteString(h.current)
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "panic" || a.Key == "path" {
				b.WriteString(" " + a.Key + "=" + truncate(a.Value.String(), 300))
			}
			return true
		})
		h.panics = append(h.panics, b.String())
	}
	if r.Level >= slog.LevelError {
		if h.errors == nil {
			h.errors = map[string]int{}
		}
		h.errors[r.Message]++
	}
	return nil
}

func (h *logHook) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logHook) WithGroup(string) slog.Handler      { return h }

func (h *logHook) setCurrent(s string) {
	h.mu.Lock()
	h.current = s
	h.mu.Unlock()
}

func (h *logHook) takePanics() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.panics
	h.panics = nil
	return p
}

// newHookedEnv starts a functionstest.Env and serves it through a second server built on the
// same dependencies but logging into a logHook, so that recovered panics are seen.
func newHookedEnv(t *testing.T) (*functionstest.Env, *logHook) {
	t.Helper()
	env := functionstest.New(t)
	hook := &logHook{}
	deps := *env.Deps
	deps.Logger = slog.New(hook)
	deps.Metrics = prometheus.NewRegistry()
	srv := api.New(&deps)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	t.Cleanup(srv.Shutdown) // runs first: WebSocket streams end before the listener closes
	env.Deps, env.Server, env.HTTP = &deps, srv, hs
	return env, hook
}

// discardEnqueuer stands in for the manager's queues behind an in-process agent.
type discardEnqueuer struct{}

func (discardEnqueuer) Enqueue(context.Context, *asynq.Task, ...asynq.Option) (*asynq.TaskInfo, error) {
	return &asynq.TaskInfo{}, nil
}

// startAgent runs an in-process agent with the process runtime, registered ALIVE in scaling
// group "default", until the test ends.
func startAgent(t *testing.T, env *functionstest.Env) (*agentd.Agent, *agentd.ProcessRuntime) {
	t.Helper()
	return env.StartAgent(t, "i-fuzz", discardEnqueuer{})
}

// startRunningSession inserts a RUNNING Python session of creds' owner whose kernel runs on a,
// and creates the kernel there. It returns the session id.
func startRunningSession(t *testing.T, env *functionstest.Env, a *agentd.Agent, name string, creds *auth.Credentials) string {
	t.Helper()
	sid, _ := env.RunningSession(t, a.ID(), a.Addr(), name, "cr.backend.ai/stable/python:3.11-ubuntu22.04", creds)
	return sid.String()
}

// multipartBody is one multipart/form-data body with the files under field.
func multipartBody(field string, files map[string]string) (contentType string, body []byte) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.SetBoundary("fuzzboundary0123456789")
	for _, name := range sortedKeys(files) {
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{`form-data; name="` + field + `"; filename="` + escapeQuotes(name) + `"`}
		h["Content-Type"] = []string{"application/octet-stream"}
		p, _ := w.CreatePart(h)
		_, _ = p.Write([]byte(files[name]))
	}
	_ = w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

func escapeQuotes(s string) string { return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) }

// objects are the names of what the suite creates as superadmin: the targets of the operations
// that change or delete, so that the fixtures' own identities are never touched.
type objects struct {
	Domain      string // fz-domain
	ProjectID   string // a project of fz-domain
	UserEmail   string
	UserUUID    string
	AccessKey   string // the fz user's keypair
	Alias       string
	SGroup      string
	Preset      string
	KPPolicy    string
	UserPolicy  string
	ProjPolicy  string
	RunningID   string // User's RUNNING session (kernel on the in-process agent)
	RunningName string
	VictimName  string // User's PENDING session, the target of destroy and restart
	victimSeq   int

	// User's objects of the template, error log and dotfile APIs (see ensureExtras).
	TemplateGroup     string // the project (name) User's templates belong to; "" for default
	TemplateGroupID   string // its id
	SessionTemplateID string // the target of the session template reads and changes
	NodeTemplateID    string // the session template of ClusterTemplateID's node (never changed)
	ClusterTemplateID string
	ErrorLogID        string // one of User's error logs, not cleared
	Dotfile           string // path of User's keypair dotfile, ProjectID's and Domain's dotfile
	Marker            string // in the content of User's own ones, to recognize them in answers
	SharedMarker      string // in the content of the project's and the domain's dotfiles
}

// superDo sends a superadmin request outside the fuzzing (setup and restore).
func superDo(t *testing.T, env *functionstest.Env, method, path string, body any) *functionstest.Response {
	t.Helper()
	return env.Do(t, method, path, body, &functionstest.Superadmin)
}

// ensureObjects (re)creates the objects the changing operations target, when missing.
func ensureObjects(t *testing.T, env *functionstest.Env, o *objects) {
	t.Helper()
	missing := func(path string) bool {
		res := superDo(t, env, http.MethodGet, path, nil)
		return res.Status == http.StatusNotFound
	}
	created := func(res *functionstest.Response) {
		t.Helper()
		require.Less(t, res.Status, 300, "restore: %s", res.Body)
	}
	if missing("/admin/keypair-resource-policies/" + o.KPPolicy) {
		created(superDo(t, env, http.MethodPost, "/admin/keypair-resource-policies", map[string]any{"name": o.KPPolicy}))
	}
	if missing("/admin/user-resource-policies/" + o.UserPolicy) {
		created(superDo(t, env, http.MethodPost, "/admin/user-resource-policies", map[string]any{"name": o.UserPolicy}))
	}
	if missing("/admin/project-resource-policies/" + o.ProjPolicy) {
		created(superDo(t, env, http.MethodPost, "/admin/project-resource-policies", map[string]any{"name": o.ProjPolicy}))
	}
	if missing("/admin/domains/" + o.Domain) {
		created(superDo(t, env, http.MethodPost, "/admin/domains", map[string]any{"name": o.Domain}))
	}
	if o.ProjectID == "" || missing("/admin/projects/"+o.ProjectID) {
		res := superDo(t, env, http.MethodPost, "/admin/projects", map[string]any{"name": "fz-project-" + uuid.NewString()[:6], "domain_name": o.Domain})
		created(res)
		var p struct {
			ID string `json:"id"`
		}
		res.JSON(t, &p)
		o.ProjectID = p.ID
	}
	if o.UserUUID == "" || missing("/admin/users/"+o.UserUUID) {
		o.UserEmail = "fz-user-" + uuid.NewString()[:6] + "@example.com"
		res := superDo(t, env, http.MethodPost, "/admin/users", map[string]any{
			"email": o.UserEmail, "password": "Fuzz-pass-1", "domain_name": o.Domain, "username": strings.Split(o.UserEmail, "@")[0]})
		created(res)
		var u struct {
			UUID    string `json:"uuid"`
			Keypair struct {
				AccessKey string `json:"access_key"`
			} `json:"keypair"`
		}
		res.JSON(t, &u)
		o.UserUUID, o.AccessKey = u.UUID, u.Keypair.AccessKey
	}
	if o.AccessKey == "" || missing("/admin/keypairs/"+o.AccessKey) {
		res := superDo(t, env, http.MethodPost, "/admin/keypairs", map[string]any{"user": o.UserUUID})
		created(res)
		var k struct {
			AccessKey string `json:"access_key"`
		}
		res.JSON(t, &k)
		o.AccessKey = k.AccessKey
	}
	if missing("/admin/scaling-groups/" + o.SGroup) {
		created(superDo(t, env, http.MethodPost, "/admin/scaling-groups", map[string]any{"name": o.SGroup}))
	}
	if missing("/admin/resource-presets/" + o.Preset) {
		created(superDo(t, env, http.MethodPost, "/admin/resource-presets", map[string]any{"name": o.Preset,
			"resource_slots": map[string]any{"cpu": "1", "mem": "1g"}}))
	}
	// An alias is recreated by setting it again (idempotent).
	superDo(t, env, http.MethodPost, "/admin/images/aliases", map[string]any{"alias": o.Alias,
		"target": "cr.backend.ai/stable/python:3.11-ubuntu22.04", "architecture": functionstest.HostArch()})
}

// ensureVictim gives User a live PENDING session to destroy or restart.
func ensureVictim(t *testing.T, env *functionstest.Env, o *objects) {
	t.Helper()
	if o.VictimName != "" {
		res := env.Do(t, http.MethodGet, "/session/"+o.VictimName, nil, &functionstest.User)
		var info struct {
			Status string `json:"status"`
		}
		if res.Status == http.StatusOK && json.Unmarshal(res.Body, &info) == nil && info.Status == "PENDING" {
			return
		}
	}
	o.victimSeq++
	o.VictimName = "fz-victim-" + strconv.Itoa(o.victimSeq)
	res := env.Do(t, http.MethodPost, "/session", map[string]any{"image": "python", "name": o.VictimName, "enqueueOnly": true},
		&functionstest.User)
	require.Equal(t, http.StatusCreated, res.Status, "victim session: %s", res.Body)
}

// setupObjects creates everything the fuzzing targets.
func setupObjects(t *testing.T, env *functionstest.Env) *objects {
	t.Helper()
	o := &objects{Domain: "fz-domain", Alias: "fz-alias", SGroup: "fz-sgroup", Preset: "fz-preset",
		KPPolicy: "fz-kp-policy", UserPolicy: "fz-user-policy", ProjPolicy: "fz-project-policy",
		TemplateGroupID: fixture.DefaultProjectID, Dotfile: ".fzrc", Marker: "fz-marker",
		SharedMarker: "fz-shared"}
	ensureObjects(t, env, o)
	ensureExtras(t, env, o)
	// The caller's project and domain have the dotfile too, for the reads.
	file := map[string]any{"path": o.Dotfile, "permission": "644", "data": "# fz\n"}
	dotfileCreated(t, superDo(t, env, http.MethodPost, "/group-config/dotfiles", with(file, "group", fixture.DefaultProjectID)))
	dotfileCreated(t, superDo(t, env, http.MethodPost, "/domain-config/dotfiles", with(file, "domain", fixture.DefaultDomain)))
	ensureVictim(t, env, o)
	a, _ := startAgent(t, env)
	o.RunningName = "fz-running"
	o.RunningID = startRunningSession(t, env, a, o.RunningName, &functionstest.User)
	ct, body := multipartBody("src", map[string]string{"fz.txt": "fuzz\n"})
	res := env.Do(t, http.MethodPost, "/session/"+o.RunningName+"/upload", body, &functionstest.User, "Content-Type: "+ct)
	require.Equal(t, http.StatusNoContent, res.Status, "upload: %s", res.Body)
	return o
}
