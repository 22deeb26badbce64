package admin

import (
	"github.com/hangar-run/hangar/internal/adminsvc"
)

// ProjectMembersChange names the users to add to or remove from a project.
type ProjectMembersChange struct {
	UserIDs []string `json:"user_ids,omitempty" maxItems:"1000" doc:"Users by id." example:"[\"dfa9da54-4b28-432f-be29-c0d680c7a412\"]"`
	Emails  []string `json:"emails,omitempty" maxItems:"1000" doc:"Users by e-mail address." example:"[\"user2@lablup.com\"]"`
}

// members is the change as the administration service takes it.
func (c ProjectMembersChange) members() adminsvc.Members {
	return adminsvc.Members{UserIDs: c.UserIDs, Emails: c.Emails}
}
