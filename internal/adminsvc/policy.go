package adminsvc

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/hostperm"
	"github.com/hangar-run/hangar/internal/names"
)

// KeypairResourcePolicyCreate is a new keypair resource policy
// (create_keypair_resource_policy's input). Nil fields take their defaults: LIMITED, no
// resource limit, no session lifetime limit, 0 concurrent sessions, no pending limits, 1 SFTP
// session, 1 container per session, no idle timeout, no storage hosts.
type KeypairResourcePolicyCreate struct {
	Name                           string
	DefaultForUnspecified          *string
	TotalResourceSlots             map[string]string
	MaxSessionLifetime             *int32
	MaxConcurrentSessions          *int32
	MaxPendingSessionCount         *int32
	MaxPendingSessionResourceSlots map[string]string
	MaxConcurrentSftpSessions      *int32
	MaxContainersPerSession        *int32
	IdleTimeout                    *int64
	AllowedVfolderHosts            hostperm.Hosts
}

// KeypairResourcePolicyModify changes a keypair resource policy: nil fields stay. The two
// pending limits are nullable columns: their Set flag with a nil value clears them.
type KeypairResourcePolicyModify struct {
	DefaultForUnspecified             *string
	TotalResourceSlots                map[string]string
	MaxSessionLifetime                *int32
	MaxConcurrentSessions             *int32
	SetMaxPendingSessionCount         bool
	MaxPendingSessionCount            *int32
	SetMaxPendingSessionResourceSlots bool
	MaxPendingSessionResourceSlots    map[string]string
	MaxConcurrentSftpSessions         *int32
	MaxContainersPerSession           *int32
	IdleTimeout                       *int64
	AllowedVfolderHosts               hostperm.Hosts
}

// UserResourcePolicyCreate is a new user resource policy; nil fields take their defaults
// (no vfolder count limit, no quota, 10 sessions per model service, 3 customized images).
type UserResourcePolicyCreate struct {
	Name                           string
	MaxVfolderCount                *int32
	MaxQuotaScopeSize              *int64
	MaxSessionCountPerModelSession *int32
	MaxCustomizedImageCount        *int32
}

// UserResourcePolicyModify changes a user resource policy: nil fields stay.
type UserResourcePolicyModify struct {
	MaxVfolderCount                *int32
	MaxQuotaScopeSize              *int64
	MaxSessionCountPerModelSession *int32
	MaxCustomizedImageCount        *int32
}

// ProjectResourcePolicyCreate is a new project resource policy; nil fields take their
// defaults (no vfolder count limit, no quota).
type ProjectResourcePolicyCreate struct {
	Name              string
	MaxVfolderCount   *int32
	MaxQuotaScopeSize *int64
}

// ProjectResourcePolicyModify changes a project resource policy: nil fields stay.
type ProjectResourcePolicyModify struct {
	MaxVfolderCount   *int32
	MaxQuotaScopeSize *int64
}

// The objects of this file, as named in errors.
const (
	objKeypairPolicy = "keypair resource policy"
	objUserPolicy    = "user resource policy"
	objProjectPolicy = "project resource policy"
)

// checkMin refuses an integer given in key below lowest.
func checkMin[T int32 | int64](key string, v *T, lowest T) error {
	if v != nil && *v < lowest {
		return invalid(key, key+": must be at least "+strconv.FormatInt(int64(lowest), 10),
			map[string]string{key: "must be at least " + strconv.FormatInt(int64(lowest), 10)})
	}
	return nil
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// encodeHostPerms validates allowed_vfolder_hosts (named hosts, known permissions) and
// encodes it for the database.
func encodeHostPerms(hosts hostperm.Hosts) (json.RawMessage, error) {
	const key = "allowed_vfolder_hosts"
	for host, perms := range hosts {
		if host == "" {
			return nil, invalid(key, key+": a storage host name is empty", map[string]string{key: "empty host name"})
		}
		for _, p := range perms {
			if !slices.Contains(hostperm.All(), p) {
				return nil, invalid(key, key+": unknown permission "+strconv.Quote(string(p))+" on "+host,
					map[string]string{key + "." + host: "unknown permission " + string(p)})
			}
		}
	}
	return hostperm.Encode(hosts)
}

// checkDefaultForUnspecified reads default_for_unspecified: LIMITED or UNLIMITED.
func checkDefaultForUnspecified(v *string) (*dbsqlc.DefaultForUnspecified, error) {
	if v == nil {
		return nil, nil
	}
	switch d := dbsqlc.DefaultForUnspecified(*v); d {
	case dbsqlc.DefaultForUnspecifiedLIMITED, dbsqlc.DefaultForUnspecifiedUNLIMITED:
		return &d, nil
	}
	return nil, invalid("default_for_unspecified", "default_for_unspecified: must be LIMITED or UNLIMITED, not "+strconv.Quote(*v),
		map[string]string{"default_for_unspecified": "must be LIMITED or UNLIMITED"})
}

// checkKeypairPolicyNumbers validates the numeric limits of a keypair resource policy.
func checkKeypairPolicyNumbers(lifetime, concurrent, pending, sftp, containers *int32) error {
	return firstErr(
		checkMin("max_session_lifetime", lifetime, 0),
		checkMin("max_concurrent_sessions", concurrent, 0),
		checkMin("max_pending_session_count", pending, 0),
		checkMin("max_concurrent_sftp_sessions", sftp, 0),
		checkMin("max_containers_per_session", containers, 1),
	)
}

// CreateKeypairResourcePolicy creates a keypair resource policy. Superadmins only.
func (s *Service) CreateKeypairResourcePolicy(ctx context.Context, c Caller, in KeypairResourcePolicyCreate) (*dbsqlc.KeypairResourcePolicy, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireSuperadmin(c); err != nil {
		return nil, err
	}
	if err := checkName("name", in.Name, names.MaxLongName); err != nil {
		return nil, err
	}
	dfu, err := checkDefaultForUnspecified(in.DefaultForUnspecified)
	if err != nil {
		return nil, err
	}
	if err := checkKeypairPolicyNumbers(in.MaxSessionLifetime, in.MaxConcurrentSessions, in.MaxPendingSessionCount,
		in.MaxConcurrentSftpSessions, in.MaxContainersPerSession); err != nil {
		return nil, err
	}
	total, err := s.encodeSlots("total_resource_slots", in.TotalResourceSlots)
	if err != nil {
		return nil, err
	}
	params := &dbsqlc.KeypairResourcePolicyInsertParams{
		Name:                      in.Name,
		DefaultForUnspecified:     deref(dfu, dbsqlc.DefaultForUnspecifiedLIMITED),
		TotalResourceSlots:        total,
		MaxSessionLifetime:        deref(in.MaxSessionLifetime, 0),
		MaxConcurrentSessions:     deref(in.MaxConcurrentSessions, 0),
		MaxPendingSessionCount:    in.MaxPendingSessionCount,
		MaxConcurrentSftpSessions: deref(in.MaxConcurrentSftpSessions, 1),
		MaxContainersPerSession:   deref(in.MaxContainersPerSession, 1),
		IdleTimeout:               deref(in.IdleTimeout, 0),
	}
	if in.MaxPendingSessionResourceSlots != nil {
		if params.MaxPendingSessionResourceSlots, err = s.encodeSlots("max_pending_session_resource_slots", in.MaxPendingSessionResourceSlots); err != nil {
			return nil, err
		}
	}
	if params.AllowedVfolderHosts, err = encodeHostPerms(in.AllowedVfolderHosts); err != nil {
		return nil, err
	}
	row, err := db.Q.KeypairResourcePolicyInsert(ctx, s.d.Pool, params)
	if err != nil {
		return nil, fromDB(err, objKeypairPolicy)
	}
	return row, nil
}

// ModifyKeypairResourcePolicy changes the fields given of the keypair resource policy name;
// maps are replaced as a whole. Superadmins only.
func (s *Service) ModifyKeypairResourcePolicy(ctx context.Context, c Caller, name string, in KeypairResourcePolicyModify) (*dbsqlc.KeypairResourcePolicy, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireSuperadmin(c); err != nil {
		return nil, err
	}
	dfu, err := checkDefaultForUnspecified(in.DefaultForUnspecified)
	if err != nil {
		return nil, err
	}
	if err := checkKeypairPolicyNumbers(in.MaxSessionLifetime, in.MaxConcurrentSessions, in.MaxPendingSessionCount,
		in.MaxConcurrentSftpSessions, in.MaxContainersPerSession); err != nil {
		return nil, err
	}
	params := &dbsqlc.KeypairResourcePolicyUpdateParams{
		Name:                              name,
		DefaultForUnspecified:             dfu,
		MaxSessionLifetime:                in.MaxSessionLifetime,
		MaxConcurrentSessions:             in.MaxConcurrentSessions,
		SetMaxPendingSessionCount:         in.SetMaxPendingSessionCount,
		MaxPendingSessionCount:            in.MaxPendingSessionCount,
		SetMaxPendingSessionResourceSlots: in.SetMaxPendingSessionResourceSlots,
		MaxConcurrentSftpSessions:         in.MaxConcurrentSftpSessions,
		MaxContainersPerSession:           in.MaxContainersPerSession,
		IdleTimeout:                       in.IdleTimeout,
	}
	if in.TotalResourceSlots != nil {
		if params.TotalResourceSlots, err = s.encodeSlots("total_resource_slots", in.TotalResourceSlots); err != nil {
			return nil, err
		}
	}
	if in.SetMaxPendingSessionResourceSlots && in.MaxPendingSessionResourceSlots != nil {
		if params.MaxPendingSessionResourceSlots, err = s.encodeSlots("max_pending_session_resource_slots", in.MaxPendingSessionResourceSlots); err != nil {
			return nil, err
		}
	}
	if in.AllowedVfolderHosts != nil {
		if params.AllowedVfolderHosts, err = encodeHostPerms(in.AllowedVfolderHosts); err != nil {
			return nil, err
		}
	}
	row, err := db.Q.KeypairResourcePolicyUpdate(ctx, s.d.Pool, params)
	if err != nil {
		return nil, fromDB(err, objKeypairPolicy)
	}
	return row, nil
}

// DeleteKeypairResourcePolicy deletes the keypair resource policy name; one still assigned to
// keypairs is refused (KindConflict). Superadmins only.
func (s *Service) DeleteKeypairResourcePolicy(ctx context.Context, c Caller, name string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := requireSuperadmin(c); err != nil {
		return err
	}
	n, err := db.Q.KeypairResourcePolicyDelete(ctx, s.d.Pool, name)
	return deleted(n, err, objKeypairPolicy)
}

// deleted is the outcome of a delete of one object: a database error, KindNotFound when no
// row went, or nil.
func deleted(n int64, err error, object string) error {
	if err != nil {
		return fromDB(err, object)
	}
	if n == 0 {
		return notFound(object, "")
	}
	return nil
}

// checkStoragePolicyNumbers validates the limits of user and project resource policies.
func checkStoragePolicyNumbers(vfolders *int32, quota *int64, perModel, images *int32) error {
	return firstErr(
		checkMin("max_vfolder_count", vfolders, 0),
		checkMin("max_quota_scope_size", quota, -1),
		checkMin("max_session_count_per_model_session", perModel, 0),
		checkMin("max_customized_image_count", images, 0),
	)
}

// CreateUserResourcePolicy creates a user resource policy. Superadmins only.
func (s *Service) CreateUserResourcePolicy(ctx context.Context, c Caller, in UserResourcePolicyCreate) (*dbsqlc.UserResourcePolicy, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireSuperadmin(c); err != nil {
		return nil, err
	}
	if err := checkName("name", in.Name, names.MaxLongName); err != nil {
		return nil, err
	}
	if err := checkStoragePolicyNumbers(in.MaxVfolderCount, in.MaxQuotaScopeSize, in.MaxSessionCountPerModelSession, in.MaxCustomizedImageCount); err != nil {
		return nil, err
	}
	row, err := db.Q.UserResourcePolicyInsert(ctx, s.d.Pool, &dbsqlc.UserResourcePolicyInsertParams{
		Name:                           in.Name,
		MaxVfolderCount:                deref(in.MaxVfolderCount, 0),
		MaxQuotaScopeSize:              deref(in.MaxQuotaScopeSize, -1),
		MaxSessionCountPerModelSession: deref(in.MaxSessionCountPerModelSession, 10),
		MaxCustomizedImageCount:        deref(in.MaxCustomizedImageCount, 3),
	})
	if err != nil {
		return nil, fromDB(err, objUserPolicy)
	}
	return row, nil
}

// ModifyUserResourcePolicy changes the fields given of the user resource policy name.
// Superadmins only.
func (s *Service) ModifyUserResourcePolicy(ctx context.Context, c Caller, name string, in UserResourcePolicyModify) (*dbsqlc.UserResourcePolicy, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireSuperadmin(c); err != nil {
		return nil, err
	}
	if err := checkStoragePolicyNumbers(in.MaxVfolderCount, in.MaxQuotaScopeSize, in.MaxSessionCountPerModelSession, in.MaxCustomizedImageCount); err != nil {
		return nil, err
	}
	row, err := db.Q.UserResourcePolicyUpdate(ctx, s.d.Pool, &dbsqlc.UserResourcePolicyUpdateParams{
		Name:                           name,
		MaxVfolderCount:                in.MaxVfolderCount,
		MaxQuotaScopeSize:              in.MaxQuotaScopeSize,
		MaxSessionCountPerModelSession: in.MaxSessionCountPerModelSession,
		MaxCustomizedImageCount:        in.MaxCustomizedImageCount,
	})
	if err != nil {
		return nil, fromDB(err, objUserPolicy)
	}
	return row, nil
}

// DeleteUserResourcePolicy deletes the user resource policy name; one still assigned to users
// is refused (KindConflict). Superadmins only.
func (s *Service) DeleteUserResourcePolicy(ctx context.Context, c Caller, name string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := requireSuperadmin(c); err != nil {
		return err
	}
	n, err := db.Q.UserResourcePolicyDelete(ctx, s.d.Pool, name)
	return deleted(n, err, objUserPolicy)
}

// CreateProjectResourcePolicy creates a project resource policy. Superadmins only.
func (s *Service) CreateProjectResourcePolicy(ctx context.Context, c Caller, in ProjectResourcePolicyCreate) (*dbsqlc.ProjectResourcePolicy, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireSuperadmin(c); err != nil {
		return nil, err
	}
	if err := checkName("name", in.Name, names.MaxLongName); err != nil {
		return nil, err
	}
	if err := checkStoragePolicyNumbers(in.MaxVfolderCount, in.MaxQuotaScopeSize, nil, nil); err != nil {
		return nil, err
	}
	row, err := db.Q.ProjectResourcePolicyInsert(ctx, s.d.Pool, &dbsqlc.ProjectResourcePolicyInsertParams{
		Name:              in.Name,
		MaxVfolderCount:   deref(in.MaxVfolderCount, 0),
		MaxQuotaScopeSize: deref(in.MaxQuotaScopeSize, -1),
	})
	if err != nil {
		return nil, fromDB(err, objProjectPolicy)
	}
	return row, nil
}

// ModifyProjectResourcePolicy changes the fields given of the project resource policy name.
// Superadmins only.
func (s *Service) ModifyProjectResourcePolicy(ctx context.Context, c Caller, name string, in ProjectResourcePolicyModify) (*dbsqlc.ProjectResourcePolicy, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireSuperadmin(c); err != nil {
		return nil, err
	}
	if err := checkStoragePolicyNumbers(in.MaxVfolderCount, in.MaxQuotaScopeSize, nil, nil); err != nil {
		return nil, err
	}
	row, err := db.Q.ProjectResourcePolicyUpdate(ctx, s.d.Pool, &dbsqlc.ProjectResourcePolicyUpdateParams{
		Name:              name,
		MaxVfolderCount:   in.MaxVfolderCount,
		MaxQuotaScopeSize: in.MaxQuotaScopeSize,
	})
	if err != nil {
		return nil, fromDB(err, objProjectPolicy)
	}
	return row, nil
}

// DeleteProjectResourcePolicy deletes the project resource policy name; one still assigned
// to projects is refused (KindConflict). Superadmins only.
func (s *Service) DeleteProjectResourcePolicy(ctx context.Context, c Caller, name string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := requireSuperadmin(c); err != nil {
		return err
	}
	n, err := db.Q.ProjectResourcePolicyDelete(ctx, s.d.Pool, name)
	return deleted(n, err, objProjectPolicy)
}
