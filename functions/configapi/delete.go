package configapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/names"
)

type configDeleteInput struct {
	Body struct {
		Key    string `json:"key" minLength:"1" maxLength:"512" doc:"Key relative to the namespace: printable text without '.' or '..' segments." example:"config/api/resources/group_resource_visibility"`
		Prefix bool   `json:"prefix,omitempty" doc:"Also delete every key below key (whole path segments: a/b does not touch a/bc)."`
	}
}

func registerDeleteConfig(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "delete-config", Method: http.MethodPost, Path: "/config/delete", Tag: tag,
		Summary:     "Delete raw shared configuration",
		Description: "Deletes a key of the etcd namespace, or with prefix the key and its subtree. Deleting an absent key succeeds.",
		Role:        functions.Superadmin, Params: true,
	}), func(ctx context.Context, in *configDeleteInput) (*ConfigOKOutput, error) {
		if err := functions.InvalidParam("key", names.ConfigKey(in.Body.Key)); err != nil {
			return nil, err
		}
		d := s.Deps()
		var err error
		if in.Body.Prefix {
			err = d.Etcd.DeletePrefix(ctx, in.Body.Key)
		} else {
			err = d.Etcd.Delete(ctx, in.Body.Key)
		}
		if err != nil {
			return nil, fmt.Errorf("delete config: %w", err)
		}
		return okOutput(), nil
	})
}
