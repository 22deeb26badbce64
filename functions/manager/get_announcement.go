package manager

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hangar-run/hangar/functions"
)

// announcementKey is the shared configuration key holding the announcement.
const announcementKey = "manager/announcement"

// ManagerAnnouncement is the message clients show to every user.
type ManagerAnnouncement struct {
	Enabled bool   `json:"enabled" doc:"Whether an announcement is shown."`
	Message string `json:"message" doc:"The announcement text; empty when disabled." example:"Maintenance on Friday 18:00 UTC."`
}

// ManagerAnnouncementOutput is the answer of GET /manager/announcement.
type ManagerAnnouncementOutput struct {
	Body ManagerAnnouncement
}

// currentAnnouncement reads the announcement from the shared configuration. Hangar stores it as
// JSON {"enabled", "message"}; a value that is not such an object is a message stored as plain
// text (Backend.AI's format) and counts as enabled.
func currentAnnouncement(shared functions.SharedConfig) ManagerAnnouncement {
	enabled, message := shared.Announcement()
	if enabled || message != "" {
		return ManagerAnnouncement{Enabled: enabled, Message: message}
	}
	raw, ok := shared.Get(announcementKey)
	if !ok || raw == "" {
		return ManagerAnnouncement{}
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(raw), &obj) == nil {
		return ManagerAnnouncement{}
	}
	return ManagerAnnouncement{Enabled: true, Message: raw}
}

func registerGetAnnouncement(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "get-manager-announcement", Method: http.MethodGet, Path: "/manager/announcement", Tag: tag,
		Summary:     "Current announcement",
		Description: "The announcement clients display. Needs no authentication.",
		Role:        functions.Public,
	}), func(context.Context, *struct{}) (*ManagerAnnouncementOutput, error) {
		return &ManagerAnnouncementOutput{Body: currentAnnouncement(s.Deps().Shared)}, nil
	})
}
