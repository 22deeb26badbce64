package authapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

type authorizeInput struct {
	Body struct {
		_        struct{} `additionalProperties:"true"`
		Type     string   `json:"type" doc:"Authorization type; only keypair is supported." example:"keypair"`
		Domain   string   `json:"domain" doc:"Domain of the user." example:"default"`
		Username string   `json:"username" doc:"The user's email." example:"user@lablup.com"`
		Password string   `json:"password" doc:"The user's password." example:"C8qnIo29"`
	}
}

// AuthorizedKeypair is the keypair a successful login returns.
type AuthorizedKeypair struct {
	AccessKey string `json:"access_key" doc:"The user's main access key." example:"AKIANABBDUSEREXAMPLE"`
	SecretKey string `json:"secret_key" doc:"Its secret key." example:"C8qnIo29EZvXkPK_MXcuAakYTy4NYrxwmCEyNPlf"`
	Role      string `json:"role" doc:"The user's role: superadmin, admin, user or monitor." example:"user"`
	Status    string `json:"status" doc:"The user's status." example:"active"`
}

// AuthorizeOutput is the answer of POST /auth/authorize.
type AuthorizeOutput struct {
	Body struct {
		Data AuthorizedKeypair `json:"data" doc:"The keypair to sign further requests with."`
	}
}

// validText reports whether s can be sent to PostgreSQL as text: valid UTF-8 without NUL.
func validText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// dummyHash is compared against when the user is unknown, so that the answer takes as long
// as for a wrong password.
var dummyHash = sync.OnceValue(func() []byte { //nolint:gochecknoglobals
	h, _ := bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.DefaultCost)
	return h
})

// credentialMismatch is the one answer for an unknown user, a wrong password and an inactive
// account, so that the answer does not tell which.
func credentialMismatch() error { return functions.ErrAuthFailed("User credential mismatch.") }

func registerAuthorize(s *functions.Server) {
	huma.Register(s.API(), functions.Op(functions.OpSpec{
		ID: "authorize", Method: http.MethodPost, Path: "/auth/authorize", Tag: tag,
		Summary: "Log in with email and password",
		Description: "Checks the email and password of a user of the domain and returns the user's main keypair " +
			"(the one requests must be signed with). Unknown users, wrong passwords and inactive accounts all get " +
			"401 \"User credential mismatch.\". Extra body fields are ignored. Password attempts are limited " +
			"per client address (10 unsuccessful ones per 15 minutes) and slowed down per account after 5 failures; " +
			"a refused attempt is 429 rate-limit-exceeded with Retry-After.",
		Role: functions.Public, Params: true,
		Errors: []int{http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *authorizeInput) (*AuthorizeOutput, error) {
		if in.Body.Type != "keypair" {
			return nil, functions.ErrInvalidAPIParams("Unsupported authorization type", map[string]string{"type": in.Body.Type})
		}
		for key, v := range map[string]string{"domain": in.Body.Domain, "username": in.Body.Username} {
			if !validText(v) {
				return nil, functions.ErrInvalidAPIParams("Invalid text", map[string]string{key: "must be valid UTF-8 without NUL"})
			}
		}
		d := s.Deps()
		attempt, refused := d.PasswordLimiter().Begin(ctx, functions.ClientAddrFrom(ctx), in.Body.Username)
		if refused != nil {
			return nil, functions.ErrTooManyPasswordAttempts(refused)
		}
		u, err := db.Q.AuthUserByEmail(ctx, d.Pool, &dbsqlc.AuthUserByEmailParams{
			Email: in.Body.Username, DomainName: in.Body.Domain,
		})
		if err != nil {
			if errors.Is(db.Translate(err), db.ErrNotFound) {
				// As long as a wrong password takes, so that timing does not tell.
				_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(in.Body.Password))
				return nil, credentialMismatch()
			}
			return nil, functions.FromDB(err, "user")
		}
		if u.Password == nil || bcrypt.CompareHashAndPassword([]byte(*u.Password), []byte(in.Body.Password)) != nil {
			return nil, credentialMismatch()
		}
		attempt.Succeeded(ctx)
		switch u.Status {
		case dbsqlc.UserStatusActive:
		case dbsqlc.UserStatusBeforeVerification:
			return nil, functions.ErrAuthFailed("This account needs email verification.")
		default:
			return nil, credentialMismatch()
		}
		if u.MainAccessKey == nil || u.MainSecretKey == nil {
			return nil, functions.ErrAuthFailed("No API keypairs found.")
		}
		out := &AuthorizeOutput{}
		out.Body.Data = AuthorizedKeypair{
			AccessKey: *u.MainAccessKey,
			SecretKey: *u.MainSecretKey,
			Role:      string(u.Role),
			Status:    string(u.Status),
		}
		return out, nil
	})
}
