package template

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/session"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// FromTemplateParams are the parameters of POST /session/_/create-from-template: those of a
// session create, each one overriding the template's, and the template.
type FromTemplateParams struct {
	TemplateID *string `json:"template_id,omitempty" nullable:"true" doc:"The session template to start from." example:"c1b8441a-ba46-4a83-8727-de6645f521b4"`
	session.CreateParams
}

// fromTemplateAliases are the other names Backend.AI accepts (those of a session create, and
// templateId).
var fromTemplateAliases = functions.Aliases{ //nolint:gochecknoglobals // read-only
	{"template_id", "templateId"},
	{"name", "session_name", "clientSessionToken"},
	{"image", "lang"},
	{"arch", "architecture"},
	{"type", "sessionType"},
	{"group", "groupName", "group_name"},
	{"domain", "domainName", "domain_name"},
	{"cluster_size", "clusterSize"},
	{"cluster_mode", "clusterMode"},
	{"starts_at", "startsAt"},
	{"bootstrap_script", "bootstrapScript"},
	{"callback_url", "callbackUrl", "callbackURL"},
	{"config.mount_map", "mountMap"},
	{"config.mount_options", "mountOptions"},
	{"config.scaling_group", "scalingGroup"},
	{"config.resource_opts", "resourceOpts"},
	{"config.preopen_ports", "preopenPorts"},
	{"config.agent_list", "agentList"},
}

type createFromTemplateInput struct {
	Body FromTemplateParams
}

func registerCreateFromTemplate(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "create-session-from-template", Method: http.MethodPost, Path: "/session/_/create-from-template",
		Tag: sessionTag, Status: http.StatusCreated,
		Summary: "Create a compute session from a session template",
		Description: "Creates a session as POST /session does, from the values of a session template the caller " +
			"sees (image, architecture, session type, tag, bootstrap and startup commands, scaling group, " +
			"environment, resources, agents, its domain and project), each replaced by the request's value when " +
			"the request gives one (config keys one by one). A template's git repository is cloned by the " +
			"bootstrap script.",
		Role: functions.User, Frozen: functions.WriteOp, Params: true, Errors: []int{403, 404, 412},
		Aliases: fromTemplateAliases,
	}), func(ctx context.Context, in *createFromTemplateInput) (*session.CreateOutput, error) {
		b := &in.Body
		if b.TemplateID == nil || *b.TemplateID == "" {
			if b.Image == nil {
				return nil, functions.ErrInvalidAPIParams("Both image and template_id can't be None!", map[string]string{"template_id": "is required"})
			}
			return nil, functions.ErrInvalidAPIParams("A template is required.", map[string]string{"template_id": "is required"})
		}
		row, err := load(ctx, s, *b.TemplateID, dbsqlc.TemplateTypeTASK, false)
		if err != nil {
			return nil, err
		}
		doc, err := decodeStored(row.Template)
		if err != nil {
			return nil, err
		}
		t, err := checkTask(doc, "template.")
		if err != nil {
			return nil, err
		}
		p := fromTemplate(t, row)
		override(p, &b.CreateParams)
		return session.Create(ctx, s, p)
	})
}

// fromTemplate is what a session template gives a create request, as Backend.AI reads it.
func fromTemplate(t *TaskTemplate, row *dbsqlc.TemplateGetRow) *session.CreateParams {
	p := &session.CreateParams{Image: &t.Image, Arch: t.Architecture, Tag: t.Tag, BootstrapScript: t.Bootstrap, StartupCommand: t.Startup}
	typ := t.SessionType
	p.Type = &typ
	domain := row.DomainName
	p.Domain = &domain
	if row.GroupName != nil {
		g := *row.GroupName
		p.Group = &g
	}
	if t.HasGit {
		script := ""
		if t.Bootstrap != nil {
			script = *t.Bootstrap
		}
		script += "\n" + gitClone(t.Doc)
		p.BootstrapScript = &script
	}
	cfg := &session.CreationConfig{ScalingGroup: t.ScalingGroup, Resources: numbers(t.Resources), AgentList: t.AgentList}
	if len(t.Environ) > 0 {
		cfg.Environ = t.Environ
	}
	if len(t.Mounts) > 0 {
		cfg.MountMap = map[string]string{}
		for name, path := range t.Mounts {
			cfg.Mounts = append(cfg.Mounts, name)
			if s, _ := path.(string); s != "" {
				cfg.MountMap[name] = s
			}
		}
		sort.Strings(cfg.Mounts)
	}
	p.Config = cfg
	return p
}

// override replaces the template's values by those the request gives; config keys are
// replaced one by one.
func override(p, req *session.CreateParams) {
	cfg := p.Config
	rc := req.Config
	*p = session.CreateParams{
		Name: pick(req.Name, p.Name), Image: pick(req.Image, p.Image), Arch: pick(req.Arch, p.Arch),
		Type: pick(req.Type, p.Type), Group: pick(req.Group, p.Group), Domain: pick(req.Domain, p.Domain),
		ClusterSize: req.ClusterSize, ClusterMode: req.ClusterMode, Tag: pick(req.Tag, p.Tag),
		EnqueueOnly: req.EnqueueOnly, MaxWaitSeconds: req.MaxWaitSeconds, StartsAt: req.StartsAt,
		ReuseIfExists: req.ReuseIfExists, StartupCommand: pick(req.StartupCommand, p.StartupCommand),
		BootstrapScript: pick(req.BootstrapScript, p.BootstrapScript), Dependencies: req.Dependencies,
		CallbackURL: req.CallbackURL, OwnerAccessKey: req.OwnerAccessKey, Config: cfg,
	}
	if rc == nil {
		return
	}
	if rc.Mounts != nil {
		cfg.Mounts = rc.Mounts
	}
	if rc.MountMap != nil {
		cfg.MountMap = rc.MountMap
	}
	if rc.MountOptions != nil {
		cfg.MountOptions = rc.MountOptions
	}
	if rc.Environ != nil {
		cfg.Environ = rc.Environ
	}
	if rc.ScalingGroup != nil {
		cfg.ScalingGroup = rc.ScalingGroup
	}
	if rc.Resources != nil {
		cfg.Resources = rc.Resources
	}
	if rc.ResourceOpts != nil {
		cfg.ResourceOpts = rc.ResourceOpts
	}
	if rc.PreopenPorts != nil {
		cfg.PreopenPorts = rc.PreopenPorts
	}
	if rc.AgentList != nil {
		cfg.AgentList = rc.AgentList
	}
}

// numbers gives the integers of a decoded template's resources as the create path reads JSON
// numbers.
func numbers(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if i, ok := v.(int64); ok {
			v = json.Number(strconv.FormatInt(i, 10))
		}
		out[k] = v
	}
	return out
}

func pick[T any](given, def *T) *T {
	if given != nil {
		return given
	}
	return def
}

// gitClone is the shell commands that clone a template's git repository (spec.kernel.git) into
// the kernel's working directory, every value quoted.
func gitClone(doc map[string]any) string {
	spec, _ := doc["spec"].(map[string]any)
	kernel, _ := spec["kernel"].(map[string]any)
	g, _ := kernel["git"].(map[string]any)
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	repo := str(g, "repository")
	target := str(g, "dest_dir")
	if target == "" {
		target = repo[strings.LastIndex(repo, "/")+1:]
	}
	url := repo
	if cred, ok := g["credential"].(map[string]any); ok {
		if proto, rest, found := strings.Cut(repo, "://"); found {
			url = proto + "://" + str(cred, "username") + ":" + str(cred, "password") + "@" + rest
		}
	}
	cmd := "git clone " + shellQuote(url)
	if branch := str(g, "branch"); branch != "" {
		cmd += " -b " + shellQuote(branch)
	}
	cmd += " " + shellQuote(target) + "\n"
	if commit := str(g, "commit"); commit != "" {
		cmd = "CWD=$(pwd)\n" + cmd + "cd " + shellQuote(target) + "\ngit checkout " + shellQuote(commit) + "\ncd \"$CWD\"\n"
	}
	return cmd
}

// shellQuote quotes s as one POSIX shell word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
