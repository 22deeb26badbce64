package admin

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// Keypair is an access key / secret key pair requests are signed with. The secret key is
// shown once when the keypair is created, and afterwards to its owner only.
type Keypair struct {
	AccessKey      string     `json:"access_key" doc:"Access key (20 characters), the keypair's id." example:"AKIANABBDUSEREXAMPLE"`
	SecretKey      string     `json:"secret_key,omitempty" doc:"Secret key (40 characters). Present only in the answer that creates the keypair and when its owner asks; store it when it is shown." example:"C8qnIo29EZvXkPK_MXcuAakYTy4NYrxwmCEyNPlf"`
	UserID         string     `json:"user_id" doc:"E-mail address of the keypair's owner." example:"user@lablup.com"`
	User           uuid.UUID  `json:"user" doc:"Id of the keypair's owner."`
	IsActive       bool       `json:"is_active" doc:"Whether requests signed with the keypair are accepted."`
	IsAdmin        bool       `json:"is_admin" doc:"Whether the keypair may call admin operations (with its owner's role deciding how far)."`
	IsMain         bool       `json:"is_main" doc:"Whether this is the owner's main access key, the only one requests are authenticated with."`
	ResourcePolicy string     `json:"resource_policy" doc:"Keypair resource policy." example:"default"`
	RateLimit      int32      `json:"rate_limit" doc:"Most requests per 15 minutes."`
	NumQueries     int32      `json:"num_queries" doc:"Number of requests made with the keypair."`
	CreatedAt      time.Time  `json:"created_at" doc:"When the keypair was created."`
	ModifiedAt     time.Time  `json:"modified_at" doc:"When the keypair was last changed."`
	LastUsed       *time.Time `json:"last_used" nullable:"true" doc:"When the keypair was last used."`
	SSHPublicKey   *string    `json:"ssh_public_key" nullable:"true" doc:"SSH public key installed in the owner's sessions."`
}

// KeypairList is a page of keypairs; it never holds secret keys.
type KeypairList struct {
	Items      []Keypair `json:"items" doc:"The keypairs of this page, by owner e-mail and access key."`
	TotalCount int64     `json:"total_count" doc:"Number of keypairs in all pages."`
}

type keypairOutput struct {
	Body Keypair
}

// KeypairParam is the {access_key} path parameter of keypair operations.
type KeypairParam struct {
	AccessKey string `path:"access_key" minLength:"1" maxLength:"20" doc:"Access key."`
}

// keypairFromRow converts a database row, with the secret key only when withSecret.
func keypairFromRow(k *dbsqlc.Keypair, isMain, withSecret bool) Keypair {
	out := Keypair{
		AccessKey:      k.AccessKey,
		UserID:         k.UserID,
		User:           k.User,
		IsActive:       k.IsActive,
		IsAdmin:        k.IsAdmin,
		IsMain:         isMain,
		ResourcePolicy: k.ResourcePolicy,
		RateLimit:      k.RateLimit,
		NumQueries:     k.NumQueries,
		CreatedAt:      k.CreatedAt,
		ModifiedAt:     k.ModifiedAt,
		LastUsed:       k.LastUsed,
		SSHPublicKey:   k.SshPublicKey,
	}
	if withSecret {
		out.SecretKey = k.SecretKey
	}
	return out
}

// loadKeypair loads a keypair the caller may see: 404 when unknown, 403 outside a domain
// admin's domain. Its owner may always see it.
func loadKeypair(ctx context.Context, q db.DBTX, id *functions.Identity, accessKey string) (*dbsqlc.KeypairGetByAccessKeyRow, error) {
	row, err := db.Q.KeypairGetByAccessKey(ctx, q, accessKey)
	if err != nil {
		return nil, functions.FromDB(err, "keypair")
	}
	if row.Keypair.User == id.UserUUID() {
		return row, nil
	}
	if err := checkDomain(id, row.DomainName); err != nil {
		return nil, err
	}
	return row, nil
}
