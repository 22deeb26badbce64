// Package dashboard serves the job dashboard: asynqmon (the web UI of the asynq task queue,
// embedded as a library so nothing else needs deploying) under /jobs/ on the API server,
// behind a login for superadmins.
//
// # Access
//
// The browser cannot sign Backend.AI requests, so GET /jobs/login shows a form that takes a
// superadmin's e-mail address and password; POST /jobs/login checks them against the users
// table and sets a cookie (HttpOnly, SameSite=Strict, Path=/jobs) holding a token signed with
// HMAC-SHA256 that expires after Options.TTL (one hour by default). Every dashboard request
// checks the token and then the user again (an account demoted or deactivated since the login
// is refused at once). Without a valid cookie, pages redirect to the login form and
// /jobs/api/* answers 401; a user who is not an active superadmin gets 403. POST /jobs/logout
// clears the cookie and revokes its token server-side (its id is kept in Redis until the
// token would have expired), so a copy of the cookie taken before the logout no longer works.
//
// Login attempts go through the API's one password-attempt limiter (internal/authlimit,
// functions.Deps.PasswordLimiter), shared with POST /auth/authorize: per client address, and
// slowed down per account.
//
// The signing secret is the shared-config key config/hangar/dashboard/secret, so that every
// API replica accepts the others' cookies and a restart logs nobody out. When it is missing at
// start, the API writes a random one there.
//
// # Read-only by default
//
// The dashboard shows queues, tasks, servers and Redis; actions that change tasks (run,
// delete, archive, pause a queue) are refused unless the shared-config key
// config/hangar/dashboard/read-write is true. The flag is read on every request, so it takes
// effect without a restart.
package dashboard

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// Paths, cookie and configuration keys of the dashboard.
const (
	// RootPath is where the dashboard is mounted.
	RootPath = "/jobs"
	// LoginPath shows (GET) and submits (POST) the login form.
	LoginPath = RootPath + "/login"
	// LogoutPath clears the login cookie (POST).
	LogoutPath = RootPath + "/logout"
	// APIPath is the prefix of the dashboard's JSON API, answered with 401 instead of a
	// redirect when the login is missing.
	APIPath = RootPath + "/api/"
	// CookieName is the login cookie.
	CookieName = "hangar_jobs"
	// DefaultTTL is how long a login lasts.
	DefaultTTL = time.Hour
	// SecretKey is the shared-config key holding the cookie signing secret.
	SecretKey = "config/hangar/dashboard/secret"
	// ReadWriteKey is the shared-config key that, when true, enables the dashboard's actions.
	ReadWriteKey = "config/hangar/dashboard/read-write"
	// Operation labels dashboard requests in the API's latency histogram.
	Operation = "jobs-dashboard"
)

// Options configure Mount.
type Options struct {
	// RedisOpt locates the Redis holding the queues. Required.
	RedisOpt asynq.RedisConnOpt
	// TTL is how long a login lasts; DefaultTTL when zero.
	TTL time.Duration
}

// Dashboard is the mounted dashboard; Close releases its Redis connections.
type Dashboard struct {
	deps     *functions.Deps
	ttl      time.Duration
	readOnly *asynqmon.HTTPHandler
	full     *asynqmon.HTTPHandler

	mu          sync.Mutex
	localSecret string // used until the shared config holds SecretKey
	// revokedLocal holds the ids of tokens logged out through this process, with their
	// expiry (Redis holds everyone's).
	revokedLocal map[string]time.Time
}

// Mount serves the dashboard on s's mux under RootPath. It needs s.Deps().Pool (logins) and
// uses s.Deps().Shared and Etcd for the secret and the read-write flag when they are set.
func Mount(ctx context.Context, s *functions.Server, o Options) (*Dashboard, error) {
	if o.RedisOpt == nil {
		return nil, errors.New("dashboard: no Redis connection option")
	}
	deps := s.Deps()
	if deps.Pool == nil {
		return nil, errors.New("dashboard: no PostgreSQL pool")
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	d := &Dashboard{deps: deps, ttl: o.TTL, revokedLocal: map[string]time.Time{}}
	if err := d.ensureSecret(ctx); err != nil {
		return nil, err
	}
	// Two handlers, so that the read-write flag can change without a restart.
	d.readOnly = asynqmon.New(asynqmon.Options{RootPath: RootPath, RedisConnOpt: o.RedisOpt, ReadOnly: true})
	d.full = asynqmon.New(asynqmon.Options{RootPath: RootPath, RedisConnOpt: o.RedisOpt})

	mux := s.Mux()
	mux.HandleFunc("GET "+RootPath, func(w http.ResponseWriter, r *http.Request) {
		functions.SetOperation(r.Context(), Operation)
		http.Redirect(w, r, RootPath+"/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET "+LoginPath, d.loginPage)
	mux.HandleFunc("POST "+LoginPath, d.submitLogin)
	mux.HandleFunc("POST "+LogoutPath, d.logout)
	// One pattern per method: a method-less "/jobs/" would conflict with huma's "GET /".
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		mux.HandleFunc(m+" "+RootPath+"/", d.serve)
	}
	return d, nil
}

// Close releases the dashboard's Redis connections.
func (d *Dashboard) Close() error {
	return errors.Join(d.readOnly.Close(), d.full.Close())
}

// ensureSecret makes sure a signing secret exists: the shared one, else a new random one,
// written to the shared config when there is an etcd store (else kept for this process).
func (d *Dashboard) ensureSecret(ctx context.Context) error {
	if d.sharedSecret() != "" {
		return nil
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("dashboard: secret: %w", err)
	}
	secret := hex.EncodeToString(b[:])
	if d.deps.Etcd != nil {
		// Replicas starting together agree on whichever secret was stored first.
		stored, err := d.deps.Etcd.PutIfAbsent(ctx, SecretKey, secret)
		if err != nil {
			return fmt.Errorf("dashboard: store the login secret in %s: %w", SecretKey, err)
		}
		secret = stored
	}
	d.mu.Lock()
	d.localSecret = secret
	d.mu.Unlock()
	return nil
}

func (d *Dashboard) sharedSecret() string {
	if d.deps.Shared == nil {
		return ""
	}
	v, _ := d.deps.Shared.Get(SecretKey)
	return strings.TrimSpace(v)
}

// secret is the current signing secret: the shared config's (which the watch keeps current),
// else the one generated at Mount.
func (d *Dashboard) secret() []byte {
	if s := d.sharedSecret(); s != "" {
		return []byte(s)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return []byte(d.localSecret)
}

// ReadWrite reports whether the dashboard's actions are enabled.
func (d *Dashboard) ReadWrite() bool {
	if d.deps.Shared == nil {
		return false
	}
	v, ok := d.deps.Shared.Get(ReadWriteKey)
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	return err == nil && b
}

// serve checks the login and hands the request to asynqmon.
func (d *Dashboard) serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	functions.SetOperation(ctx, Operation)
	u, status := d.user(r)
	if status != http.StatusOK {
		d.refuse(w, r, status)
		return
	}
	functions.LogAttrs(ctx, "dashboard_user", u.Email)
	if d.ReadWrite() {
		d.full.ServeHTTP(w, r)
		return
	}
	d.readOnly.ServeHTTP(w, r)
}

// user returns the logged-in superadmin of r, or the status to refuse it with: 401 without a
// valid, unexpired cookie, 403 when the user is no (longer an) active superadmin.
func (d *Dashboard) user(r *http.Request) (*dbsqlc.User, int) {
	u, _, status := d.login(r)
	return u, status
}

// login is user with the verified token.
func (d *Dashboard) login(r *http.Request) (*dbsqlc.User, token, int) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return nil, token{}, http.StatusUnauthorized
	}
	tok, ok := parseToken(d.secret(), c.Value, d.deps.Clock())
	if !ok {
		return nil, token{}, http.StatusUnauthorized
	}
	revoked, err := d.revoked(r.Context(), tok)
	if err != nil {
		// Fail closed: a logout that cannot be checked may have happened.
		d.deps.Log().WarnContext(r.Context(), "dashboard: logout list unreachable", "err", err)
		return nil, token{}, http.StatusServiceUnavailable
	}
	if revoked {
		return nil, token{}, http.StatusUnauthorized
	}
	u, err := db.Q.UserGetByUUID(r.Context(), d.deps.Pool, tok.user)
	if err != nil {
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return nil, token{}, http.StatusUnauthorized
		}
		if db.IsUnavailable(err) {
			d.deps.Log().WarnContext(r.Context(), "dashboard: load user: database unavailable", "err", err)
			return nil, token{}, http.StatusServiceUnavailable
		}
		d.deps.Log().ErrorContext(r.Context(), "dashboard: load user", "err", err)
		return nil, token{}, http.StatusInternalServerError
	}
	if !allowed(u) {
		return nil, token{}, http.StatusForbidden
	}
	return u, tok, http.StatusOK
}

// allowed reports whether u may use the dashboard.
func allowed(u *dbsqlc.User) bool {
	return u.Role == dbsqlc.UserRoleSuperadmin && u.Status == dbsqlc.UserStatusActive
}

// refuse answers a request without a usable login: JSON for the dashboard's API, a redirect
// to the login form for pages (401) or an HTML page (403, 500).
func (d *Dashboard) refuse(w http.ResponseWriter, r *http.Request, status int) {
	if strings.HasPrefix(r.URL.Path, APIPath) || r.Method != http.MethodGet {
		msg := map[int]string{
			http.StatusUnauthorized: "login required: sign in at " + LoginPath,
			http.StatusForbidden:    "the job dashboard is for superadmins only",
		}[status]
		if msg == "" {
			msg = http.StatusText(status)
		}
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", strconv.Itoa(functions.DatabaseRetryAfter))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, "{\"error\":%q}\n", msg)
		return
	}
	if status == http.StatusUnauthorized {
		http.Redirect(w, r, LoginPath, http.StatusSeeOther)
		return
	}
	msg := "The job dashboard is for superadmins only."
	if status != http.StatusForbidden {
		msg = "The dashboard cannot check your login right now."
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(functions.DatabaseRetryAfter))
	}
	renderLogin(w, status, loginView{Error: msg})
}

// Token format: "<user uuid>.<expiry, unix seconds>.<token id>.<base64url HMAC-SHA256 of the
// first three parts>". A signed value checked against the user on every request, plus the
// revocation of its id at logout (see revoked), is all a login needs, so the standard
// library's HMAC is used rather than a JWT library.

// token is a verified login token.
type token struct {
	user uuid.UUID
	exp  time.Time
	id   string
}

func signToken(secret []byte, user uuid.UUID, exp time.Time) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	payload := user.String() + "." + strconv.FormatInt(exp.Unix(), 10) + "." + hex.EncodeToString(b[:])
	return payload + "." + mac(secret, payload)
}

func verifyToken(secret []byte, tok string, now time.Time) (uuid.UUID, bool) {
	t, ok := parseToken(secret, tok, now)
	return t.user, ok
}

func parseToken(secret []byte, tok string, now time.Time) (token, bool) {
	payload, sig, ok := cutLast(tok, ".")
	if !ok || len(secret) == 0 || !hmac.Equal([]byte(sig), []byte(mac(secret, payload))) {
		return token{}, false
	}
	parts := strings.Split(payload, ".")
	if len(parts) != 3 || parts[2] == "" {
		return token{}, false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return token{}, false
	}
	id, err := uuid.Parse(parts[0])
	if err != nil {
		return token{}, false
	}
	return token{user: id, exp: time.Unix(exp, 0), id: parts[2]}, true
}

func mac(secret []byte, payload string) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
