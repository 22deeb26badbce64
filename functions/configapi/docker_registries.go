package configapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

// ConfigDockerRegistriesOutput is the answer of GET /config/docker-registries.
type ConfigDockerRegistriesOutput struct {
	Body map[string]string `doc:"Registry name → URL." example:"{\"cr.backend.ai\":\"https://cr.backend.ai\"}"`
}

func registerGetDockerRegistries(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-docker-registries", Method: http.MethodGet, Path: "/config/docker-registries", Tag: tag,
		Summary:     "Docker registries",
		Description: "The container registries configured under config/docker/registry in the shared configuration.",
		Role:        functions.Superadmin,
	}), func(context.Context, *struct{}) (*ConfigDockerRegistriesOutput, error) {
		return &ConfigDockerRegistriesOutput{Body: s.Deps().Shared.DockerRegistries()}, nil
	})
}
