package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// owner is the access key (and its user) a request acts for.
type owner struct {
	AccessKey string
	UserUUID  uuid.UUID
	Domain    string
	// Bootstrap is the keypair's bootstrap script, used when a create request gives none.
	Bootstrap string
	// Policy is the name of the keypair's resource policy.
	Policy string
}

// resolveOwner applies Backend.AI's owner_access_key scope rules: without one (or with the
// caller's own) the caller is the owner; a superadmin may name any key; a domain admin a key of
// their domain whose user is not a superadmin; anyone else gets 403. An unknown key is a 400.
func resolveOwner(ctx context.Context, s *functions.Server, id *functions.Identity, ownerKey *string) (owner, error) {
	self := owner{AccessKey: id.AccessKey, UserUUID: id.UserUUID(), Domain: id.Domain(),
		Bootstrap: id.Keypair.BootstrapScript, Policy: id.Keypair.ResourcePolicy}
	if ownerKey == nil || *ownerKey == "" || *ownerKey == id.AccessKey {
		return self, nil
	}
	if !id.IsSuperadmin() && !id.IsDomainAdmin() {
		return owner{}, functions.ErrGenericForbidden("Only admins can perform operations on behalf of other users.")
	}
	row, err := db.Q.KeypairGetByAccessKey(ctx, s.Deps().Pool, *ownerKey)
	if err != nil {
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return owner{}, functions.ErrInvalidAPIParams("Unknown owner access key", nil)
		}
		return owner{}, functions.FromDB(err, "keypair")
	}
	if !id.IsSuperadmin() {
		if row.DomainName != id.Domain() || row.Role == dbsqlc.UserRoleSuperadmin {
			return owner{}, functions.ErrGenericForbidden("Only admins can perform operations on behalf of other users.")
		}
	}
	return owner{AccessKey: row.Keypair.AccessKey, UserUUID: row.Keypair.User, Domain: row.DomainName,
		Bootstrap: row.Keypair.BootstrapScript, Policy: row.Keypair.ResourcePolicy}, nil
}

// matchSessions lists the owner's sessions that ref names: as an id first when it parses as a
// UUID, else (or when no id matched) by exact name.
func matchSessions(ctx context.Context, s *functions.Server, accessKey, ref string, allowStale bool) ([]*dbsqlc.SessionMatchRow, error) {
	return matchSessionsIn(ctx, s.Deps().Pool, accessKey, ref, allowStale)
}

// matchSessionsIn is matchSessions on q (a transaction, say).
func matchSessionsIn(ctx context.Context, q db.DBTX, accessKey, ref string, allowStale bool) ([]*dbsqlc.SessionMatchRow, error) {
	params := &dbsqlc.SessionMatchParams{AccessKey: accessKey, Name: ref, AllowStale: allowStale}
	u, err := uuid.Parse(ref)
	if err == nil {
		params.ID = &u
	}
	rows, err := db.Q.SessionMatch(ctx, q, params)
	if err != nil {
		return nil, functions.FromDB(err, "session")
	}
	if params.ID != nil {
		for _, r := range rows {
			if r.ID == u {
				return []*dbsqlc.SessionMatchRow{r}, nil
			}
		}
	}
	return rows, nil
}

// findSession resolves ref to exactly one session of the owner: 404 object-not-found when none
// matches, 404 too-many-sessions-matched when several do.
func findSession(ctx context.Context, s *functions.Server, accessKey, ref string, allowStale bool) (*dbsqlc.SessionMatchRow, error) {
	rows, err := matchSessions(ctx, s, accessKey, ref, allowStale)
	if err != nil {
		return nil, err
	}
	return oneMatch(rows, ref, func(r *dbsqlc.SessionMatchRow) map[string]any {
		return sessionMatch(r.ID, r.Name, r.Status, r.CreatedAt)
	})
}

// oneMatch is the single row of a session reference's matches: 404 object-not-found when
// there is none, 404 too-many-sessions-matched (each described by match) when several.
func oneMatch[T any](rows []T, ref string, match func(T) map[string]any) (T, error) {
	var zero T
	switch len(rows) {
	case 0:
		return zero, sessionNotFound(ref)
	case 1:
		return rows[0], nil
	}
	matches := make([]map[string]any, 0, len(rows))
	for _, r := range rows {
		matches = append(matches, match(r))
	}
	return zero, functions.ErrTooManySessionsMatched(map[string]any{"matches": matches})
}

// sessionNotFound is the 404 of a reference no session matches.
func sessionNotFound(ref string) error {
	return functions.ErrObjectNotFound("session", fmt.Sprintf("Session (id=%s) does not exist.", ref))
}

// sessionMatch describes one of several sessions a reference matches.
func sessionMatch(id uuid.UUID, name, status string, created time.Time) map[string]any {
	return map[string]any{
		"id": id.String(), "name": name, "status": status, "created_at": created.UTC().Format("2006-01-02T15:04:05.999999Z07:00"),
	}
}
