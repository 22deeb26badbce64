package functions

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/google/uuid"

	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/cache"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// Identity is the authenticated caller of a request.
type Identity struct {
	AccessKey     string
	Keypair       dbsqlc.Keypair
	KeypairPolicy dbsqlc.KeypairResourcePolicy
	User          dbsqlc.User
	UserPolicy    dbsqlc.UserResourcePolicy
}

// IsAdmin is Backend.AI's admin flag: the keypair's is_admin, not the user's role.
func (i *Identity) IsAdmin() bool { return i.Keypair.IsAdmin }

// IsSuperadmin reports whether the user's role is superadmin.
func (i *Identity) IsSuperadmin() bool { return i.User.Role == dbsqlc.UserRoleSuperadmin }

// IsDomainAdmin reports whether the user's role is admin (a domain admin).
func (i *Identity) IsDomainAdmin() bool { return i.User.Role == dbsqlc.UserRoleAdmin }

// UserUUID is the user's id.
func (i *Identity) UserUUID() uuid.UUID { return i.User.Uuid }

// Domain is the user's domain.
func (i *Identity) Domain() string { return i.User.DomainName }

type identityKey struct{}

type clientAddrKey struct{}

// ClientAddrFrom returns the client address of an operation's request (Deps.ClientAddr), the
// zero Addr outside one.
func ClientAddrFrom(ctx context.Context) netip.Addr {
	a, _ := ctx.Value(clientAddrKey{}).(netip.Addr)
	return a
}

// IdentityFrom returns the caller of an authenticated operation (nil on public ones).
func IdentityFrom(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}

// WithIdentity returns ctx carrying id (tests of handlers use it).
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// authProblem maps an internal/auth error to its Backend.AI problem.
func authProblem(err error) *Problem {
	var ae *auth.Error
	if errors.As(err, &ae) {
		if ae.Kind == auth.KindInvalidParams {
			return ErrInvalidAuthParams(ae.Msg)
		}
		return ErrAuthFailed(ae.Msg)
	}
	return ErrAuthFailed("Unauthorized access")
}

// authenticate verifies a protected request's Date and signature and loads the caller.
// It returns (nil, nil) for a request without credentials, or for a valid signature made with a
// key that is not its user's main access key: both stay unauthenticated, as in Backend.AI.
func (s *Server) authenticate(ctx huma.Context) (*Identity, *Problem) {
	r, _ := humago.Unwrap(ctx)
	_, date, err := auth.CheckDate(r.Header, s.deps.Clock())
	if err != nil {
		return nil, authProblem(err)
	}
	header := r.Header.Get("Authorization")
	if header == "" {
		return nil, nil
	}
	params, err := auth.ParseAuthorization(header)
	if err != nil && !signMethodError(err, params) {
		return nil, authProblem(err)
	}
	c := ctx.Context()
	client := ClientAddrFrom(c)
	if !auth.ValidAccessKey(params.AccessKey) {
		// Too long or empty: no such key can exist, so it is not looked up.
		return nil, ErrAuthFailed("Access key not found")
	}
	in := auth.VerifyInputFromRequest(r)
	in.Authorization = params
	ak, err := s.loadAccessKey(c, params.AccessKey)
	if err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return nil, ErrAuthFailed("Access key not found")
		}
		return nil, s.dbProblem(c, "load keypair", err)
	}
	if err := auth.Verify(in, ak.secret, date); err != nil {
		return nil, authProblem(err)
	}
	if ak.main == nil {
		return nil, nil // a valid signature, but not with the user's main key: unauthenticated
	}
	row := ak.main
	if len(row.User.AllowedClientIp) > 0 {
		if p := checkClientIP(client, row.User.AllowedClientIp); p != nil {
			return nil, p
		}
	}
	id := &Identity{
		AccessKey:     params.AccessKey,
		Keypair:       row.Keypair,
		KeypairPolicy: row.KeypairResourcePolicy,
		User:          row.User,
		UserPolicy:    row.UserResourcePolicy,
	}
	id.Keypair.SecretKey = ""
	return id, nil
}

// accessKey is what authentication knows of an active access key: its secret, and, when it
// is its user's main key, the keypair, user and their policies (the cached row is shared:
// never modified).
type accessKey struct {
	secret string
	main   *dbsqlc.KeypairGetForAuthWithMainUserRow
}

// authTables are the tables an accessKey is read from.
var authTables = []string{"keypairs", "users", "keypair_resource_policies", "user_resource_policies"} //nolint:gochecknoglobals // read-only

// loadAccessKey loads an active access key through the process cache (Deps.Cache): a change
// to the keypair, its user or their policies is seen once the change's notification arrived,
// and after the cache's TTL at most. An unknown or inactive key is db.ErrNotFound, and is not
// cached, so a key created a moment ago works at once.
func (s *Server) loadAccessKey(ctx context.Context, key string) (accessKey, error) {
	lookup := cache.For[string, accessKey](s.deps.Cache, "auth.access-key", 0, authTables...)
	return lookup.Get(key, func() (accessKey, error) {
		// A bounded lookup: a database that does not answer makes the request a 503, not a hang.
		lctx, cancel := context.WithTimeout(ctx, authLookupTimeout)
		defer cancel()
		// The common case, a user's main key, takes one query; the rest fall back to the
		// keypair alone to tell an unknown key from a key that is not its user's main one.
		row, err := db.Q.KeypairGetForAuthWithMainUser(lctx, s.deps.Pool, key)
		if err == nil {
			return accessKey{secret: row.Keypair.SecretKey, main: row}, nil
		}
		if err = db.Translate(err); !errors.Is(err, db.ErrNotFound) {
			return accessKey{}, err
		}
		kp, err := db.Q.KeypairGetForAuth(lctx, s.deps.Pool, key)
		if err != nil {
			return accessKey{}, db.Translate(err)
		}
		return accessKey{secret: kp.Keypair.SecretKey}, nil
	})
}

// signMethodError reports an error about the signMethod alone; Backend.AI looks the access key
// up before it checks the method, so such requests continue to the key lookup (and Verify
// reports the method error afterwards).
func signMethodError(err error, params auth.AuthParams) bool {
	var ae *auth.Error
	if !errors.As(err, &ae) || params.AccessKey == "" {
		return false
	}
	switch ae.Reason {
	case auth.ReasonUnsupportedMAC, auth.ReasonUnsupportedHash, auth.ReasonInvalidSignature:
		return true
	}
	return false
}

// checkClientIP refuses a client address outside the user's allowed_client_ip. The address
// is ClientAddr's: forwarded headers count only when a trusted proxy sent them.
func checkClientIP(client netip.Addr, allowed []netip.Prefix) *Problem {
	if !client.IsValid() {
		return ErrInvalidAPIParams("Invalid client IP address.", nil)
	}
	for _, p := range allowed {
		if p.Contains(client.Unmap()) {
			return nil
		}
	}
	return ErrAuthFailed("'" + client.String() + "' is not allowed IP address")
}

// authLookupTimeout bounds the keypair lookup of a signed request.
const authLookupTimeout = 5 * time.Second

// dbProblem logs a database error of the pipeline and returns its answer: 503 with
// Retry-After when the database is unavailable, else 500.
func (s *Server) dbProblem(ctx context.Context, what string, err error) *Problem {
	if db.IsUnavailable(err) {
		s.deps.Log().WarnContext(ctx, what+": database unavailable", "err", err, "request_id", RequestID(ctx))
		return ErrDatabaseUnavailable()
	}
	s.deps.Log().ErrorContext(ctx, what, "err", err, "request_id", RequestID(ctx))
	return ErrInternal("")
}

// authMiddleware runs the protected part of the pipeline: authenticate, rate limit, frozen
// guard, role check. Public operations pass straight through.
func (s *Server) authMiddleware(ctx huma.Context, next func(huma.Context)) {
	if r, _ := humago.Unwrap(ctx); r != nil {
		client := s.deps.ClientAddr(r)
		LogAttrs(ctx.Context(), "client_addr", client.String())
		ctx = huma.WithValue(ctx, clientAddrKey{}, client)
	}
	op := ctx.Operation()
	role := opRole(op)
	if role == Public {
		publicRateLimitHeaders(ctx)
		if opFrozen(op) == WriteOp {
			if p := s.frozenProblem(); p != nil {
				huma.WriteErr(s.api, ctx, p.Status, "", p)
				return
			}
		}
		next(ctx)
		return
	}
	id, p := s.authenticate(ctx)
	if p != nil {
		huma.WriteErr(s.api, ctx, p.Status, "", p)
		return
	}
	if id != nil {
		if p := s.rateLimit(ctx, id); p != nil {
			huma.WriteErr(s.api, ctx, p.Status, "", p)
			return
		}
	}
	if opFrozen(op) == WriteOp {
		if p := s.frozenProblem(); p != nil {
			huma.WriteErr(s.api, ctx, p.Status, "", p)
			return
		}
	}
	if id == nil || !roleAllows(role, id) {
		p := ErrAuthFailed("Unauthorized access")
		huma.WriteErr(s.api, ctx, p.Status, "", p)
		return
	}
	next(huma.WithValue(ctx, identityKey{}, id))
}

func roleAllows(role Role, id *Identity) bool {
	switch role {
	case Admin:
		return id.IsAdmin() || id.IsSuperadmin()
	case Superadmin:
		return id.IsSuperadmin()
	}
	return true
}

// frozenProblem answers for write operations while the manager is not running.
func (s *Server) frozenProblem() *Problem {
	if s.deps.Shared == nil {
		return nil
	}
	switch st := s.deps.Shared.ManagerStatus(); st {
	case "", "running":
		return nil
	case "frozen":
		return ErrServerFrozen()
	default:
		return ErrServiceUnavailable("Server is not in the required status: " + st)
	}
}
