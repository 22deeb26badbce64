package dashboard

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/authlimit"
	"github.com/hangar-run/hangar/internal/db"
)

// maxLoginForm bounds the login form's body.
const maxLoginForm = 16 << 10

// loginView is what the login page shows.
type loginView struct {
	Error string
	Email string
	// User is the e-mail address of the signed-in superadmin, when there is one.
	User string
}

var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hangar jobs: sign in</title>
<style>
body { font-family: system-ui, sans-serif; background: #f4f5f7; margin: 0; }
main { max-width: 22rem; margin: 12vh auto; background: #fff; padding: 2rem; border-radius: 8px;
       box-shadow: 0 1px 4px rgba(0,0,0,.15); }
h1 { font-size: 1.3rem; margin-top: 0; }
label { display: block; margin: 1rem 0 .3rem; font-size: .9rem; }
input { width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem; }
button { margin-top: 1.5rem; width: 100%; padding: .6rem; font-size: 1rem; cursor: pointer; }
.error { color: #b00020; }
</style>
</head>
<body>
<main>
<h1>Hangar job dashboard</h1>
{{if .Error}}<p class="error" id="error">{{.Error}}</p>{{end}}
{{if .User}}
<p id="signed-in">Signed in as {{.User}}.</p>
<p><a id="open" href="/jobs/">Open the dashboard</a></p>
<form method="post" action="/jobs/logout"><button id="logout" type="submit">Log out</button></form>
{{else}}
<p>Superadmins sign in with their e-mail address and password.</p>
<form method="post" action="/jobs/login">
<label for="email">E-mail address</label>
<input id="email" name="email" type="email" autocomplete="username" required value="{{.Email}}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button id="login" type="submit">Sign in</button>
</form>
{{end}}
</main>
</body>
</html>
`))

func renderLogin(w http.ResponseWriter, status int, v loginView) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_ = loginTemplate.Execute(w, v)
}

// loginPage shows the form, or who is signed in.
func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	functions.SetOperation(r.Context(), Operation)
	v := loginView{}
	if u, status := d.user(r); status == http.StatusOK {
		v.User = u.Email
	}
	renderLogin(w, http.StatusOK, v)
}

// dummyHash is compared against when the e-mail address is unknown, so that the answer takes
// as long as for a wrong password.
var dummyHash = sync.OnceValue(func() []byte { //nolint:gochecknoglobals
	h, _ := bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.DefaultCost)
	return h
})

// submitLogin checks the form's e-mail address and password and sets the login cookie.
func (d *Dashboard) submitLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	functions.SetOperation(ctx, Operation)
	client := d.deps.ClientAddr(r)
	functions.LogAttrs(ctx, "client_addr", client.String())
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginForm)
	if err := r.ParseForm(); err != nil {
		renderLogin(w, http.StatusBadRequest, loginView{Error: "The form could not be read."})
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	password := r.PostForm.Get("password")
	if !utf8.ValidString(email) || strings.ContainsRune(email, 0) {
		renderLogin(w, http.StatusBadRequest, loginView{Error: "The e-mail address is not valid text."})
		return
	}
	attempt, refused := d.deps.PasswordLimiter().Begin(ctx, client, email)
	if refused != nil {
		d.deps.Log().InfoContext(ctx, "dashboard: login attempt refused", "email", email, "limit", string(refused.Scope))
		w.Header().Set("Retry-After", strconv.Itoa(refused.RetryAfterSeconds()))
		msg := "Too many failed logins from this address; try again later."
		if refused.Scope == authlimit.ScopeAccount {
			msg = "Too many failed logins for this account; try again in " + strconv.Itoa(refused.RetryAfterSeconds()) + " s."
		}
		renderLogin(w, http.StatusTooManyRequests, loginView{Error: msg, Email: email})
		return
	}
	mismatch := func() {
		renderLogin(w, http.StatusUnauthorized, loginView{Error: "Wrong e-mail address or password.", Email: email})
	}
	u, err := db.Q.UserGetByEmail(ctx, d.deps.Pool, email)
	if err != nil {
		if !errors.Is(db.Translate(err), db.ErrNotFound) {
			d.deps.Log().ErrorContext(ctx, "dashboard: load user", "err", err)
			status := http.StatusInternalServerError
			if db.IsUnavailable(err) {
				status = http.StatusServiceUnavailable
				w.Header().Set("Retry-After", strconv.Itoa(functions.DatabaseRetryAfter))
			}
			renderLogin(w, status, loginView{Error: "The login cannot be checked right now.", Email: email})
			return
		}
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		mismatch()
		return
	}
	if u.Password == nil || bcrypt.CompareHashAndPassword([]byte(*u.Password), []byte(password)) != nil {
		mismatch()
		return
	}
	attempt.Succeeded(ctx)
	if !allowed(u) {
		d.deps.Log().InfoContext(ctx, "dashboard: login refused: not an active superadmin", "email", email)
		renderLogin(w, http.StatusForbidden, loginView{Error: "The job dashboard is for superadmins only.", Email: email})
		return
	}
	now := d.deps.Clock()
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    signToken(d.secret(), u.Uuid, now.Add(d.ttl)),
		Path:     RootPath,
		MaxAge:   int(d.ttl.Seconds()),
		HttpOnly: true,
		Secure:   secure(r),
		SameSite: http.SameSiteStrictMode,
	})
	d.deps.Log().InfoContext(ctx, "dashboard: login", "email", email)
	http.Redirect(w, r, RootPath+"/", http.StatusSeeOther)
}

// logout revokes the login token and clears the cookie.
func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	functions.SetOperation(ctx, Operation)
	if c, err := r.Cookie(CookieName); err == nil {
		if tok, ok := parseToken(d.secret(), c.Value, d.deps.Clock()); ok {
			if err := d.revoke(ctx, tok); err != nil {
				d.deps.Log().ErrorContext(ctx, "dashboard: logout not recorded", "err", err)
				renderLogin(w, http.StatusServiceUnavailable, loginView{Error: "The logout could not be recorded; try again."})
				return
			}
			d.deps.Log().InfoContext(ctx, "dashboard: logout", "user", tok.user.String())
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: "", Path: RootPath, MaxAge: -1,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, LoginPath, http.StatusSeeOther)
}

// secure reports whether the client reached the API over TLS (directly or through a proxy).
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (d *Dashboard) revokedKey(tok token) string {
	return d.deps.RedisPrefix + "dashboard:revoked:" + tok.id
}

// revoke records that tok was logged out, until it would have expired: in Redis, shared by
// every replica, and in this process.
func (d *Dashboard) revoke(ctx context.Context, tok token) error {
	ttl := tok.exp.Sub(d.deps.Clock()) + time.Minute
	d.mu.Lock()
	d.revokedLocal[tok.id] = tok.exp
	d.mu.Unlock()
	if d.deps.Redis == nil {
		return nil
	}
	return authlimit.Bounded(context.WithoutCancel(ctx), functions.RedisTimeout, func(ctx context.Context) error {
		return d.deps.Redis.Set(ctx, d.revokedKey(tok), "1", ttl).Err()
	})
}

// revoked reports whether tok was logged out. An error means the answer is unknown.
func (d *Dashboard) revoked(ctx context.Context, tok token) (bool, error) {
	d.mu.Lock()
	_, local := d.revokedLocal[tok.id]
	now := d.deps.Clock()
	for id, exp := range d.revokedLocal {
		if !now.Before(exp) {
			delete(d.revokedLocal, id)
		}
	}
	d.mu.Unlock()
	if local || d.deps.Redis == nil {
		return local, nil
	}
	var n int64
	err := authlimit.Bounded(ctx, functions.RedisTimeout, func(ctx context.Context) error {
		var err error
		n, err = d.deps.Redis.Exists(ctx, d.revokedKey(tok)).Result()
		return err
	})
	return n > 0, err
}
