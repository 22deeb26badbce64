package config

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// ContainerRegistriesKey is the shared-config prefix of the container registries:
// config/docker/registry/<URL-quoted name> holds the registry's URL, with sub-keys type,
// username, password, project and ssl_verify (or ssl-verify).
const ContainerRegistriesKey = "config/docker/registry"

// ContainerRegistry is one registry configured under ContainerRegistriesKey.
type ContainerRegistry struct {
	// Name is the registry's name (the unquoted key), the first component of the canonical
	// names of its images (e.g. "cr.backend.ai").
	Name string
	// URL is the registry's base URL (e.g. "https://cr.backend.ai").
	URL string
	// Type is docker (the default: a Docker Registry HTTP API v2 server), harbor, harbor2 or
	// local.
	Type string
	// Username and Password are the credentials, empty for anonymous access.
	Username, Password string
	// Projects are the Harbor projects to scan (the comma-separated "project" sub-key).
	Projects []string
	// SSLVerify is false when TLS certificates are not to be checked (default true).
	SSLVerify bool
}

// ContainerRegistries returns the registries in tree, the nested map read from
// ContainerRegistriesKey (Etcd.GetPrefix or Shared.GetPrefix), sorted by name. Registries
// without a URL are left out.
func ContainerRegistries(tree map[string]any) []ContainerRegistry {
	out := make([]ContainerRegistry, 0, len(tree))
	for name, v := range tree {
		if name == "" {
			continue
		}
		r := ContainerRegistry{Name: name, Type: "docker", SSLVerify: true}
		switch v := v.(type) {
		case string:
			r.URL = v
		case map[string]any:
			str := func(k string) string { s, _ := v[k].(string); return strings.TrimSpace(s) }
			r.URL = str("")
			if t := str("type"); t != "" {
				r.Type = t
			}
			r.Username, r.Password = str("username"), str("password")
			for p := range strings.SplitSeq(str("project"), ",") {
				if p = strings.TrimSpace(p); p != "" {
					r.Projects = append(r.Projects, p)
				}
			}
			verify := str("ssl_verify")
			if verify == "" {
				verify = str("ssl-verify")
			}
			switch strings.ToLower(verify) {
			case "false", "0", "no", "off", "n", "f":
				r.SSLVerify = false
			}
		}
		if strings.TrimSpace(r.URL) == "" {
			continue
		}
		r.URL = strings.TrimSpace(r.URL)
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ContainerRegistries returns the configured container registries, sorted by name.
func (s *Shared) ContainerRegistries() []ContainerRegistry {
	return ContainerRegistries(s.GetPrefix(ContainerRegistriesKey))
}

// ContainerRegistries reads the configured container registries, sorted by name.
func (e *Etcd) ContainerRegistries(ctx context.Context) ([]ContainerRegistry, error) {
	tree, err := e.GetPrefix(ctx, ContainerRegistriesKey)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ContainerRegistriesKey, err)
	}
	return ContainerRegistries(tree), nil
}
