package dashboard

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/hangar-run/hangar/functions"
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

// login checks the form's e-mail address and password and sets the login cookie.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	functions.SetOperation(ctx, Operation)
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginForm)
	if err := r.ParseForm(); err != nil {
		renderLogin(w, http.StatusBadRequest, loginView{Error: "The form could not be read."})
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	password := r.PostForm.Get("password")
	if d.loginBlocked(ctx, email) {
		renderLogin(w, http.StatusTooManyRequests, loginView{Error: "Too many failed logins for this address; try again later.", Email: email})
		return
	}
	mismatch := func() {
		d.loginFailed(ctx, email)
		renderLogin(w, http.StatusUnauthorized, loginView{Error: "Wrong e-mail address or password.", Email: email})
	}
	u, err := db.Q.UserGetByEmail(ctx, d.deps.Pool, email)
	if err != nil {
		if !errors.Is(db.Translate(err), db.ErrNotFound) {
			d.deps.Log().ErrorContext(ctx, "dashboard: load user", "err", err)
			renderLogin(w, http.StatusInternalServerError, loginView{Error: "The login cannot be checked right now.", Email: email})
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
	if !allowed(u) {
		d.deps.Log().InfoContext(ctx, "dashboard: login refused: not an active superadmin", "email", email)
		renderLogin(w, http.StatusForbidden, loginView{Error: "The job dashboard is for superadmins only.", Email: email})
		return
	}
	d.loginSucceeded(ctx, email)
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

// logout clears the login cookie.
func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	functions.SetOperation(r.Context(), Operation)
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

// Login attempt limits: MaxLoginFailures wrong passwords for one e-mail address within
// LoginFailureWindow block further attempts for that address until the window has passed
// since the first failure. The counts live in Redis, shared by the API replicas; when Redis
// does not answer, logins are not limited (and the error is logged).
const (
	MaxLoginFailures   = 10
	LoginFailureWindow = 15 * time.Minute
)

func (d *Dashboard) failureKey(email string) string {
	return d.deps.RedisPrefix + "dashboard:login-failures:" + strings.ToLower(email)
}

func (d *Dashboard) loginBlocked(ctx context.Context, email string) bool {
	if d.deps.Redis == nil {
		return false
	}
	n, err := d.deps.Redis.Get(ctx, d.failureKey(email)).Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		d.deps.Log().WarnContext(ctx, "dashboard: login limit not checked", "err", err)
		return false
	}
	return n >= MaxLoginFailures
}

func (d *Dashboard) loginFailed(ctx context.Context, email string) {
	if d.deps.Redis == nil {
		return
	}
	key := d.failureKey(email)
	pipe := d.deps.Redis.TxPipeline()
	pipe.Incr(ctx, key)
	pipe.ExpireNX(ctx, key, LoginFailureWindow)
	if _, err := pipe.Exec(ctx); err != nil {
		d.deps.Log().WarnContext(ctx, "dashboard: login failure not counted", "err", err)
	}
}

func (d *Dashboard) loginSucceeded(ctx context.Context, email string) {
	if d.deps.Redis != nil {
		_ = d.deps.Redis.Del(ctx, d.failureKey(email)).Err()
	}
}
