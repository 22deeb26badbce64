package admin

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// ProjectMembersChange names the users to add to or remove from a project.
type ProjectMembersChange struct {
	UserIDs []string `json:"user_ids,omitempty" maxItems:"1000" doc:"Users by id." example:"[\"dfa9da54-4b28-432f-be29-c0d680c7a412\"]"`
	Emails  []string `json:"emails,omitempty" maxItems:"1000" doc:"Users by e-mail address." example:"[\"user2@lablup.com\"]"`
}

// resolve loads the users named by c; none named is 400, unknown users are 404.
func (c ProjectMembersChange) resolve(ctx context.Context, q db.DBTX) ([]*dbsqlc.User, error) {
	if len(c.UserIDs) == 0 && len(c.Emails) == 0 {
		return nil, functions.ErrInvalidAPIParams("Give user_ids or emails.", map[string]string{"user_ids": "required without emails"})
	}
	ids, err := parseUUIDs("user_ids", c.UserIDs)
	if err != nil {
		return nil, err
	}
	users, err := db.Q.UserFindMany(ctx, q, &dbsqlc.UserFindManyParams{Uuids: ids, Emails: nonNil(c.Emails)})
	if err != nil {
		return nil, err
	}
	byID := map[uuid.UUID]bool{}
	byEmail := map[string]bool{}
	for _, u := range users {
		byID[u.Uuid] = true
		byEmail[u.Email] = true
	}
	var missing []string
	for _, id := range ids {
		if !byID[id] {
			missing = append(missing, id.String())
		}
	}
	for _, e := range c.Emails {
		if !byEmail[e] {
			missing = append(missing, e)
		}
	}
	if len(missing) > 0 {
		return nil, functions.ErrObjectNotFound("user", strings.Join(missing, ", "))
	}
	return users, nil
}

// userIDs returns the ids of users.
func userIDs(users []*dbsqlc.User) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(users))
	for _, u := range users {
		out = append(out, u.Uuid)
	}
	return out
}
