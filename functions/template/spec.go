package template

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
)

// The template documents, as Backend.AI's task_template_v1 and cluster_template_v1 schemas
// check them. Checking normalizes a document: aliases are renamed to their canonical keys and
// defaults are filled in, so the stored form is the one Backend.AI stores. Top-level keys
// other than the known ones are kept; unknown keys inside are refused.

// checker accumulates the path of the value being checked for error messages.
type checker struct{ root string }

func (c checker) fail(path, why string) error {
	return functions.ErrInvalidAPIParams("Invalid template.", map[string]string{c.root + path: why})
}

// object checks that v (at path) is a mapping with only the allowed keys, renaming aliases:
// keys maps each alias to its canonical key, and canonical keys to themselves.
func (c checker) object(v any, path string, keys map[string]string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, c.fail(path, "must be a mapping")
	}
	out := make(map[string]any, len(m))
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		canon, ok := keys[k]
		if !ok {
			if keys["*"] == "*" {
				out[k] = m[k]
				continue
			}
			return nil, c.fail(join(path, k), "is not allowed")
		}
		if _, dup := out[canon]; dup {
			continue // The first name given wins, as with Backend.AI's aliased keys.
		}
		out[canon] = m[k]
	}
	return out, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// str checks m[key] is a string; required says it must be there and not null.
func (c checker) str(m map[string]any, path, key string, required bool) (*string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		if required {
			return nil, c.fail(join(path, key), "is required")
		}
		m[key] = nil
		return nil, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return nil, c.fail(join(path, key), "must be a string")
	}
	return &s, nil
}

// strMap checks m[key] is null or a mapping of strings; a missing key becomes {}.
func (c checker) strMap(m map[string]any, path, key string) (map[string]string, error) {
	v, ok := m[key]
	if !ok {
		m[key] = map[string]any{}
		return nil, nil
	}
	if v == nil {
		return nil, nil
	}
	obj, isMap := v.(map[string]any)
	if !isMap {
		return nil, c.fail(join(path, key), "must be a mapping of strings")
	}
	out := make(map[string]string, len(obj))
	for k, e := range obj {
		s, isStr := e.(string)
		if !isStr {
			return nil, c.fail(join(join(path, key), k), "must be a string")
		}
		out[k] = s
	}
	return out, nil
}

// anyMap checks m[key] is null or a mapping; def is what a missing key becomes.
func (c checker) anyMap(m map[string]any, path, key string, def any) (map[string]any, error) {
	v, ok := m[key]
	if !ok {
		m[key] = def
		v = def
	}
	if v == nil {
		return nil, nil
	}
	obj, isMap := v.(map[string]any)
	if !isMap {
		return nil, c.fail(join(path, key), "must be a mapping")
	}
	return obj, nil
}

func oneOf(c checker, m map[string]any, path, key string, allowed ...string) error {
	s, _ := m[key].(string)
	if !slices.Contains(allowed, s) {
		return c.fail(join(path, key), "must be one of "+strings.Join(allowed, ", "))
	}
	return nil
}

// TaskTemplate is what a checked session template gives a session.
type TaskTemplate struct {
	Doc          map[string]any
	Name         string
	Tag          *string
	SessionType  string
	Image        string
	Architecture *string
	Environ      map[string]string
	Bootstrap    *string
	Startup      *string
	HasGit       bool
	ScalingGroup *string
	Mounts       map[string]any
	Resources    map[string]any
	AgentList    []string
}

// checkTask checks a session (task) template document; root prefixes the keys named in errors.
func checkTask(v any, root string) (*TaskTemplate, error) {
	c := checker{root: root}
	doc, err := c.object(v, "", map[string]string{"api_version": "api_version", "apiVersion": "api_version",
		"kind": "kind", "metadata": "metadata", "spec": "spec", "*": "*"})
	if err != nil {
		return nil, err
	}
	t := &TaskTemplate{Doc: doc}
	if _, err := c.str(doc, "", "api_version", true); err != nil {
		return nil, err
	}
	if err := oneOf(c, doc, "", "kind", "taskTemplate", "task_template"); err != nil {
		return nil, err
	}
	meta, err := c.object(doc["metadata"], "metadata", map[string]string{"name": "name", "tag": "tag"})
	if err != nil {
		return nil, err
	}
	doc["metadata"] = meta
	name, err := c.str(meta, "metadata", "name", true)
	if err != nil {
		return nil, err
	}
	t.Name = *name
	if t.Tag, err = c.str(meta, "metadata", "tag", false); err != nil {
		return nil, err
	}
	spec, err := c.object(doc["spec"], "spec", map[string]string{
		"type": "session_type", "session_type": "session_type", "sessionType": "session_type",
		"kernel": "kernel", "scaling_group": "scaling_group", "mounts": "mounts", "resources": "resources",
		"agent_list": "agent_list", "agentList": "agent_list",
	})
	if err != nil {
		return nil, err
	}
	doc["spec"] = spec
	if _, ok := spec["session_type"]; !ok {
		spec["session_type"] = "interactive"
	}
	if err := oneOf(c, spec, "spec", "session_type", "interactive", "batch", "inference"); err != nil {
		return nil, err
	}
	t.SessionType = spec["session_type"].(string) //nolint:forcetypeassert // checked by oneOf
	if err := c.kernel(spec, t); err != nil {
		return nil, err
	}
	if t.ScalingGroup, err = c.str(spec, "spec", "scaling_group", false); err != nil {
		return nil, err
	}
	if t.Mounts, err = c.anyMap(spec, "spec", "mounts", map[string]any{}); err != nil {
		return nil, err
	}
	for k, p := range t.Mounts {
		if _, ok := p.(string); p != nil && !ok {
			return nil, c.fail("spec.mounts."+k, "must be a path or null")
		}
	}
	if t.Resources, err = c.anyMap(spec, "spec", "resources", nil); err != nil {
		return nil, err
	}
	switch l := spec["agent_list"].(type) {
	case nil:
		spec["agent_list"] = nil
	case []any:
		for i, a := range l {
			s, ok := a.(string)
			if !ok {
				return nil, c.fail(fmt.Sprintf("spec.agent_list.%d", i), "must be a string")
			}
			t.AgentList = append(t.AgentList, s)
		}
	default:
		return nil, c.fail("spec.agent_list", "must be a list of agent ids")
	}
	return t, nil
}

// kernel checks spec.kernel into t.
func (c checker) kernel(spec map[string]any, t *TaskTemplate) error {
	k, err := c.object(spec["kernel"], "spec.kernel", map[string]string{"image": "image", "architecture": "architecture",
		"environ": "environ", "run": "run", "git": "git"})
	if err != nil {
		return err
	}
	spec["kernel"] = k
	img, err := c.str(k, "spec.kernel", "image", true)
	if err != nil {
		return err
	}
	t.Image = *img
	if _, ok := k["architecture"]; !ok {
		k["architecture"] = "x86_64" // Backend.AI's default for templates.
	}
	if t.Architecture, err = c.str(k, "spec.kernel", "architecture", false); err != nil {
		return err
	}
	if t.Environ, err = c.strMap(k, "spec.kernel", "environ"); err != nil {
		return err
	}
	if run, ok := k["run"]; ok && run != nil {
		r, err := c.object(run, "spec.kernel.run", map[string]string{"bootstrap": "bootstrap",
			"startup": "startup_command", "startup_command": "startup_command", "startupCommand": "startup_command"})
		if err != nil {
			return err
		}
		k["run"] = r
		if t.Bootstrap, err = c.str(r, "spec.kernel.run", "bootstrap", false); err != nil {
			return err
		}
		if t.Startup, err = c.str(r, "spec.kernel.run", "startup_command", false); err != nil {
			return err
		}
	} else {
		k["run"] = nil
	}
	if git, ok := k["git"]; ok && git != nil {
		g, err := c.object(git, "spec.kernel.git", map[string]string{"repository": "repository", "commit": "commit",
			"branch": "branch", "credential": "credential", "destination_dir": "dest_dir", "destinationDir": "dest_dir"})
		if err != nil {
			return err
		}
		k["git"] = g
		if _, err := c.str(g, "spec.kernel.git", "repository", true); err != nil {
			return err
		}
		for _, key := range []string{"commit", "branch", "dest_dir"} {
			if _, err := c.str(g, "spec.kernel.git", key, false); err != nil {
				return err
			}
		}
		if cred, ok := g["credential"]; ok && cred != nil {
			cr, err := c.object(cred, "spec.kernel.git.credential", map[string]string{"username": "username", "password": "password"})
			if err != nil {
				return err
			}
			for _, key := range []string{"username", "password"} {
				if _, err := c.str(cr, "spec.kernel.git.credential", key, true); err != nil {
					return err
				}
			}
		} else {
			g["credential"] = nil
		}
		t.HasGit = true
	} else {
		k["git"] = nil
	}
	return nil
}

// ClusterNode is one role of a cluster template.
type ClusterNode struct {
	Role            string
	SessionTemplate uuid.UUID
	Replicas        int
}

// ClusterTemplate is what a checked cluster template gives a session.
type ClusterTemplate struct {
	Doc     map[string]any
	Name    string
	Mode    string
	Environ map[string]string
	Mounts  map[string]any
	Nodes   []ClusterNode
}

// mainRole is the role of a cluster's main kernel.
const mainRole = "main"

// checkCluster checks a cluster template document.
func checkCluster(v any) (*ClusterTemplate, error) {
	c := checker{root: "payload."}
	doc, err := c.object(v, "", map[string]string{"api_version": "api_version", "apiVersion": "api_version",
		"kind": "kind", "mode": "mode", "metadata": "metadata", "spec": "spec", "*": "*"})
	if err != nil {
		return nil, c.fail("", "must be a cluster template mapping")
	}
	t := &ClusterTemplate{Doc: doc}
	if _, err := c.str(doc, "", "api_version", true); err != nil {
		return nil, err
	}
	if err := oneOf(c, doc, "", "kind", "clusterTemplate", "cluster_template"); err != nil {
		return nil, err
	}
	if err := oneOf(c, doc, "", "mode", "single-node", "multi-node"); err != nil {
		return nil, err
	}
	t.Mode = doc["mode"].(string) //nolint:forcetypeassert // checked by oneOf
	meta, err := c.object(doc["metadata"], "metadata", map[string]string{"name": "name"})
	if err != nil {
		return nil, err
	}
	doc["metadata"] = meta
	name, err := c.str(meta, "metadata", "name", true)
	if err != nil {
		return nil, err
	}
	t.Name = *name
	spec, err := c.object(doc["spec"], "spec", map[string]string{"environ": "environ", "mounts": "mounts", "nodes": "nodes"})
	if err != nil {
		return nil, err
	}
	doc["spec"] = spec
	if t.Environ, err = c.strMap(spec, "spec", "environ"); err != nil {
		return nil, err
	}
	if t.Mounts, err = c.anyMap(spec, "spec", "mounts", map[string]any{}); err != nil {
		return nil, err
	}
	nodes, ok := spec["nodes"].([]any)
	if !ok {
		return nil, c.fail("spec.nodes", "must be a list of nodes")
	}
	for i, n := range nodes {
		path := fmt.Sprintf("spec.nodes.%d", i)
		node, err := c.object(n, path, map[string]string{"role": "role", "session_template": "session_template",
			"sessionTemplate": "session_template", "replicas": "replicas"})
		if err != nil {
			return nil, err
		}
		nodes[i] = node
		role, err := c.str(node, path, "role", true)
		if err != nil {
			return nil, err
		}
		ref, err := c.str(node, path, "session_template", true)
		if err != nil {
			return nil, err
		}
		id, err := uuid.Parse(*ref)
		if err != nil {
			return nil, c.fail(path+".session_template", "must be a template id")
		}
		node["session_template"] = id.String()
		replicas := int64(1)
		switch r := node["replicas"].(type) {
		case nil:
			if _, given := node["replicas"]; given {
				return nil, c.fail(path+".replicas", "must be an integer")
			}
			node["replicas"] = replicas
		case int64:
			replicas = r
		default:
			return nil, c.fail(path+".replicas", "must be an integer")
		}
		if replicas < 1 || replicas > 1024 {
			return nil, c.fail(path+".replicas", "must be between 1 and 1024")
		}
		for _, prev := range t.Nodes {
			if prev.Role == *role {
				return nil, c.fail(path+".role", "Each role can only be defined once")
			}
		}
		if *role == mainRole && replicas != 1 {
			return nil, c.fail(path+".replicas", "One and only one main node must be created per cluster")
		}
		t.Nodes = append(t.Nodes, ClusterNode{Role: *role, SessionTemplate: id, Replicas: int(replicas)})
	}
	if !slices.ContainsFunc(t.Nodes, func(n ClusterNode) bool { return n.Role == mainRole }) {
		return nil, c.fail("spec.nodes", "One and only one main node must be created per cluster")
	}
	return t, nil
}
