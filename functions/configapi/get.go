package configapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/names"
)

type configGetInput struct {
	Body struct {
		Key    string `json:"key" minLength:"1" maxLength:"512" doc:"Key relative to the namespace: printable text without '.' or '..' segments." example:"config/docker/registry"`
		Prefix bool   `json:"prefix,omitempty" doc:"Read the key and everything below it as nested objects."`
	}
}

// ConfigResultOutput carries the value read by /config/get.
type ConfigResultOutput struct {
	Body struct {
		Result any `json:"result" doc:"The value (a string, or null when absent); with prefix, nested objects whose leaves are strings and where a key that also has children keeps its own value under \"\"."`
	}
}

func registerGetConfig(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-config", Method: http.MethodPost, Path: "/config/get", Tag: tag,
		Summary:     "Read raw shared configuration",
		Description: "Reads a key of the etcd namespace, or with prefix a whole subtree as nested objects.",
		Role:        functions.Superadmin, Params: true,
	}), func(ctx context.Context, in *configGetInput) (*ConfigResultOutput, error) {
		// A prefix read of "/" reads the whole namespace; any other key must be a valid key.
		if !in.Body.Prefix || strings.Trim(in.Body.Key, "/") != "" {
			if err := functions.InvalidParam("key", names.ConfigKey(in.Body.Key)); err != nil {
				return nil, err
			}
		}
		d := s.Deps()
		out := &ConfigResultOutput{}
		if in.Body.Prefix {
			tree, err := d.Etcd.GetPrefix(ctx, in.Body.Key)
			if err != nil {
				return nil, fmt.Errorf("read config prefix: %w", err)
			}
			out.Body.Result = tree
			return out, nil
		}
		v, ok, err := d.Etcd.Get(ctx, in.Body.Key)
		if err != nil {
			return nil, fmt.Errorf("read config key: %w", err)
		}
		if ok {
			out.Body.Result = v
		}
		return out, nil
	})
}
