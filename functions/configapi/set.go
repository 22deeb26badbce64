package configapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/names"
)

type configSetInput struct {
	Body struct {
		Key   string `json:"key" minLength:"1" maxLength:"512" doc:"Key relative to the namespace: printable text without '.' or '..' segments." example:"config/api/resources/group_resource_visibility"`
		Value any    `json:"value" doc:"A string stored as it is, or an object flattened into keys below key (segments URL-quoted, \"\" members stored at the object's own key). Numbers and booleans are stored as their JSON text." example:"true"`
	}
}

// ConfigOKOutput is the answer of /config/set and /config/delete.
type ConfigOKOutput struct {
	Body struct {
		Result string `json:"result" doc:"Always ok." example:"ok"`
	}
}

func okOutput() *ConfigOKOutput {
	out := &ConfigOKOutput{}
	out.Body.Result = "ok"
	return out
}

func registerSetConfig(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "set-config", Method: http.MethodPost, Path: "/config/set", Tag: tag,
		Summary:     "Write raw shared configuration",
		Description: "Writes a key of the etcd namespace, or a nested object as a subtree of keys. Keys the object does not mention are left alone.",
		Role:        functions.Superadmin, Params: true,
	}), func(ctx context.Context, in *configSetInput) (*ConfigOKOutput, error) {
		if err := functions.InvalidParam("key", names.ConfigKey(in.Body.Key)); err != nil {
			return nil, err
		}
		d := s.Deps()
		key := in.Body.Key
		switch v := in.Body.Value.(type) {
		case nil:
			return nil, functions.ErrInvalidAPIParams("The value must not be null.", map[string]string{"value": "must not be null"})
		case string:
			if err := d.Etcd.Put(ctx, key, v); err != nil {
				return nil, fmt.Errorf("write config key: %w", err)
			}
		case map[string]any:
			if err := d.Etcd.PutJSON(ctx, key, v); err != nil {
				return nil, fmt.Errorf("write config subtree: %w", err)
			}
		default:
			raw, err := json.Marshal(v)
			if err != nil {
				return nil, functions.ErrInvalidAPIParams("Invalid value.", map[string]string{"value": err.Error()})
			}
			if err := d.Etcd.Put(ctx, key, string(raw)); err != nil {
				return nil, fmt.Errorf("write config key: %w", err)
			}
		}
		return okOutput(), nil
	})
}
