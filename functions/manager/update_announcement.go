package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

type managerAnnouncementUpdateInput struct {
	Body struct {
		Enabled bool    `json:"enabled,omitempty" doc:"Show the announcement (true) or remove it (false, the default)." example:"true"`
		Message *string `json:"message,omitempty" nullable:"true" doc:"The text to show; required when enabled." example:"Maintenance on Friday 18:00 UTC."`
	} `required:"false"`
}

func registerUpdateAnnouncement(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "update-manager-announcement", Method: http.MethodPost, Path: "/manager/announcement", Tag: tag,
		Summary: "Set or remove the announcement",
		Description: "Enabling stores the message for every API process (etcd key manager/announcement); " +
			"disabling removes it. Enabling with an empty message is refused.",
		Role: functions.Superadmin, Status: http.StatusNoContent, Params: true,
	}), func(ctx context.Context, in *managerAnnouncementUpdateInput) (*struct{}, error) {
		d := s.Deps()
		want := ManagerAnnouncement{Enabled: in.Body.Enabled}
		if want.Enabled {
			if in.Body.Message == nil || *in.Body.Message == "" {
				return nil, functions.ErrInvalidAPIParams("Empty message not allowed to enable announcement",
					map[string]string{"message": "required when enabled"})
			}
			want.Message = *in.Body.Message
			raw, err := json.Marshal(want)
			if err != nil {
				return nil, fmt.Errorf("encode announcement: %w", err)
			}
			if err := d.Etcd.Put(ctx, announcementKey, string(raw)); err != nil {
				return nil, fmt.Errorf("set announcement: %w", err)
			}
		} else if err := d.Etcd.Delete(ctx, announcementKey); err != nil {
			return nil, fmt.Errorf("remove announcement: %w", err)
		}
		if !waitApplied(ctx, func() bool { return currentAnnouncement(d.Shared) == want }) {
			d.Log().Warn("announcement written but not yet visible in the shared configuration",
				"request_id", functions.RequestID(ctx))
		}
		return nil, nil
	})
}
