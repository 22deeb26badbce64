package adminsvc

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hangar-run/hangar/internal/auth"
	"github.com/hangar-run/hangar/internal/db"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
)

// KeypairCreate is a new keypair (create_keypair's KeyPairInput plus its user_id). User names
// the owner by id (uuid) or e-mail address. Nil fields take their defaults: active, not
// admin, policy "default", rate limit DefaultRateLimit.
type KeypairCreate struct {
	User           string
	IsActive       *bool
	IsAdmin        *bool
	ResourcePolicy *string
	RateLimit      *int32
}

// KeypairModify changes a keypair (modify_keypair's ModifyKeyPairInput): nil fields stay,
// so Backend.AI's client, which sends explicit nulls, works.
type KeypairModify struct {
	IsActive       *bool
	IsAdmin        *bool
	ResourcePolicy *string
	RateLimit      *int32
}

// Keypair is a written keypair; IsMain tells whether it is its owner's main access key.
// Keypair.SecretKey is the secret: show it only to the creator and the owner.
type Keypair struct {
	Keypair *dbsqlc.Keypair
	IsMain  bool
}

// lookupUser finds a user by uuid or e-mail address; unknown users are KindNotFound.
func lookupUser(ctx context.Context, q db.DBTX, ref string) (*dbsqlc.User, error) {
	var (
		u   *dbsqlc.User
		err error
	)
	if id, perr := uuid.Parse(ref); perr == nil {
		u, err = db.Q.UserGetByUUID(ctx, q, id)
	} else {
		u, err = db.Q.UserGetByEmail(ctx, q, ref)
	}
	if err != nil {
		return nil, fromDB(err, "user")
	}
	return u, nil
}

// newKeypair is a keypair to insert.
type newKeypair struct {
	user           *dbsqlc.User
	isActive       bool
	isAdmin        bool
	resourcePolicy string
	rateLimit      int32
}

// insertKeypair generates and stores a keypair.
func insertKeypair(ctx context.Context, q db.DBTX, k newKeypair) (*dbsqlc.Keypair, error) {
	access, secret, err := auth.GenerateKeypair()
	if err != nil {
		return nil, err
	}
	return db.Q.KeypairInsert(ctx, q, &dbsqlc.KeypairInsertParams{
		AccessKey:      access,
		SecretKey:      secret,
		UserID:         k.user.Email,
		UserUuid:       k.user.Uuid,
		IsActive:       k.isActive,
		IsAdmin:        k.isAdmin,
		RateLimit:      k.rateLimit,
		ResourcePolicy: k.resourcePolicy,
	})
}

// CreateKeypair generates a keypair for a user; a user without a main access key gets this
// one as main when it is active. Superadmins only.
func (s *Service) CreateKeypair(ctx context.Context, c Caller, in KeypairCreate) (*Keypair, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireUserManager(c); err != nil {
		return nil, err
	}
	var out Keypair
	err := db.InTx(ctx, s.d.Pool, func(tx pgx.Tx) error {
		u, err := lookupUser(ctx, tx, in.User)
		if err != nil {
			return err
		}
		kp, err := insertKeypair(ctx, tx, newKeypair{
			user:           u,
			isActive:       deref(in.IsActive, true),
			isAdmin:        deref(in.IsAdmin, false),
			resourcePolicy: deref(in.ResourcePolicy, defaultPolicy),
			rateLimit:      deref(in.RateLimit, int32(DefaultRateLimit)),
		})
		if err != nil {
			return err
		}
		out = Keypair{Keypair: kp}
		if u.MainAccessKey == nil && kp.IsActive {
			if _, err := db.Q.UserSetMainAccessKey(ctx, tx, &dbsqlc.UserSetMainAccessKeyParams{Uuid: u.Uuid, MainAccessKey: &kp.AccessKey}); err != nil {
				return err
			}
			out.IsMain = true
		}
		return nil
	})
	if err != nil {
		return nil, fromDB(err, "keypair")
	}
	return &out, nil
}

// ModifyKeypair changes the fields given of keypair accessKey. Superadmins only.
func (s *Service) ModifyKeypair(ctx context.Context, c Caller, accessKey string, in KeypairModify) (*Keypair, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireUserManager(c); err != nil {
		return nil, err
	}
	row, err := db.Q.KeypairGetByAccessKey(ctx, s.d.Pool, accessKey)
	if err != nil {
		return nil, fromDB(err, "keypair")
	}
	kp, err := db.Q.KeypairUpdate(ctx, s.d.Pool, &dbsqlc.KeypairUpdateParams{
		AccessKey:      accessKey,
		IsActive:       in.IsActive,
		IsAdmin:        in.IsAdmin,
		ResourcePolicy: in.ResourcePolicy,
		RateLimit:      in.RateLimit,
	})
	if err != nil {
		return nil, fromDB(err, "keypair")
	}
	return &Keypair{Keypair: kp, IsMain: row.IsMain}, nil
}

// ActivateKeypair turns keypair accessKey on (the CLI's admin keypair activate): ModifyKeypair
// with is_active true.
func (s *Service) ActivateKeypair(ctx context.Context, c Caller, accessKey string) (*Keypair, error) {
	on := true
	return s.ModifyKeypair(ctx, c, accessKey, KeypairModify{IsActive: &on})
}

// DeactivateKeypair turns keypair accessKey off (the CLI's admin keypair deactivate):
// requests signed with it are refused from then on.
func (s *Service) DeactivateKeypair(ctx context.Context, c Caller, accessKey string) (*Keypair, error) {
	off := false
	return s.ModifyKeypair(ctx, c, accessKey, KeypairModify{IsActive: &off})
}

// DeleteKeypair deletes keypair accessKey for good. A user's main access key is refused
// (KindInvalid, key "main_access_key"): make another keypair the main one first.
// Superadmins only.
func (s *Service) DeleteKeypair(ctx context.Context, c Caller, accessKey string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := requireUserManager(c); err != nil {
		return err
	}
	err := db.InTx(ctx, s.d.Pool, func(tx pgx.Tx) error {
		row, err := db.Q.KeypairGetByAccessKey(ctx, tx, accessKey)
		if err != nil {
			return err
		}
		n, err := db.Q.KeypairDelete(ctx, tx, accessKey)
		if err != nil {
			return err
		}
		if n == 0 || row.IsMain {
			return invalid("main_access_key", "The keypair is its user's main access key; make another keypair the main one first.",
				map[string]string{"access_key": accessKey})
		}
		return nil
	})
	return fromDB(err, "keypair")
}

// SetMainKeypair makes keypair accessKey its owner's main access key; it must be active.
// Superadmins only.
func (s *Service) SetMainKeypair(ctx context.Context, c Caller, accessKey string) (*Keypair, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if err := requireUserManager(c); err != nil {
		return nil, err
	}
	var out Keypair
	err := db.InTx(ctx, s.d.Pool, func(tx pgx.Tx) error {
		row, err := db.Q.KeypairGetByAccessKey(ctx, tx, accessKey)
		if err != nil {
			return err
		}
		if !row.Keypair.IsActive {
			return invalid("access_key", "An inactive keypair cannot be the main access key.", map[string]string{"access_key": accessKey})
		}
		if _, err := db.Q.UserSetMainAccessKey(ctx, tx, &dbsqlc.UserSetMainAccessKeyParams{
			Uuid: row.Keypair.User, MainAccessKey: &row.Keypair.AccessKey,
		}); err != nil {
			return err
		}
		kp := row.Keypair
		out = Keypair{Keypair: &kp, IsMain: true}
		return nil
	})
	if err != nil {
		return nil, fromDB(err, "keypair")
	}
	return &out, nil
}
