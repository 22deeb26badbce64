package resolver

import (
	"context"
	"encoding/base64"

	"github.com/hangar-run/hangar/functions/gql/model"
	"github.com/hangar-run/hangar/internal/config"
)

// globalID is a Relay global id: base64 of "<TypeName>:<id>".
func globalID(typeName, id string) string {
	return base64.StdEncoding.EncodeToString([]byte(typeName + ":" + id))
}

// registries reads the container registries of the shared configuration (etcd
// config/docker/registry), as the API's live view holds them.
func (r *queriesResolver) registries() []config.ContainerRegistry {
	if r.Deps.Shared == nil {
		return nil
	}
	return config.ContainerRegistries(r.Deps.Shared.GetPrefix(config.ContainerRegistriesKey))
}

func (r *queriesResolver) containerRegistries(ctx context.Context) ([]*model.ContainerRegistry, error) {
	if err := requireSuperadmin(ctx); err != nil {
		return nil, err
	}
	regs := r.registries()
	out := make([]*model.ContainerRegistry, len(regs))
	for i := range regs {
		out[i] = registryModel(&regs[i])
	}
	return out, nil
}

func (r *queriesResolver) containerRegistry(ctx context.Context, hostname string) (*model.ContainerRegistry, error) {
	if err := requireSuperadmin(ctx); err != nil {
		return nil, err
	}
	for _, reg := range r.registries() {
		if reg.Name == hostname {
			return registryModel(&reg), nil
		}
	}
	return nil, nil
}

func registryModel(reg *config.ContainerRegistry) *model.ContainerRegistry {
	cfg := &model.ContainerRegistryConfig{
		URL: reg.URL, Type: reg.Type, Project: strs(reg.Projects), SslVerify: ptr(reg.SSLVerify),
	}
	if reg.Username != "" {
		cfg.Username = str(reg.Username)
	}
	if reg.Password != "" {
		cfg.Password = str(reg.Password)
	}
	return &model.ContainerRegistry{ID: globalID("ContainerRegistry", reg.Name), Hostname: str(reg.Name), Config: cfg}
}
