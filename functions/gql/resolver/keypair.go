package resolver

import (
	"context"

	"github.com/hangar-run/hangar/functions/gql/model"
	"github.com/hangar-run/hangar/internal/db/dbsqlc"
	"github.com/hangar-run/hangar/internal/minilang"
)

// keypairFields is keypair_list's filter/order table.
var keypairFields = typedFields(minilang.Fields{ //nolint:gochecknoglobals // read-only table
	"access_key":      {Column: "kp.access_key", Convert: minilang.AsString},
	"user_id":         {Column: "u.uuid", Convert: minilang.UUID, NoOrder: true},
	"email":           {Column: "u.email", Convert: minilang.AsString},
	"full_name":       {Column: "u.full_name", Convert: minilang.AsString},
	"is_active":       {Column: "kp.is_active", Convert: minilang.AsBool},
	"is_admin":        {Column: "kp.is_admin", Convert: minilang.AsBool},
	"resource_policy": {Column: "kp.resource_policy", Convert: minilang.AsString},
	"created_at":      {Column: "kp.created_at", Convert: minilang.Timestamp},
	"last_used":       {Column: "kp.last_used", Convert: minilang.Timestamp},
	"rate_limit":      {Column: "kp.rate_limit", Convert: minilang.AsInt32},
	"num_queries":     {Column: "kp.num_queries", Convert: minilang.AsInt32},
	"ssh_public_key":  {Column: "kp.ssh_public_key", NoOrder: true, Convert: minilang.AsString},
})

// keypairQuery is the scoped base of the keypair fields, scoped on the owner's e-mail
// (keypair scopes on the access key instead: see keypair).
func keypairQuery(domain string) *listQuery {
	q := &listQuery{
		Select: "kp.*", From: "keypairs kp JOIN users u ON u.uuid = kp.\"user\"",
		Fields: keypairFields, DefaultOrder: "kp.created_at DESC", Tiebreak: "kp.access_key",
	}
	if domain != "" {
		q.where("u.domain_name = ?", domain)
	}
	return q
}

func keypairModel(k *dbsqlc.Keypair) *model.KeyPair {
	return &model.KeyPair{
		ID: idOf(k.AccessKey), UserID: str(k.UserID), AccessKey: str(k.AccessKey), SecretKey: str(k.SecretKey),
		IsActive: ptr(k.IsActive), IsAdmin: ptr(k.IsAdmin), ResourcePolicy: str(k.ResourcePolicy),
		CreatedAt: timep(k.CreatedAt), LastUsed: optTime(k.LastUsed), RateLimit: intp(k.RateLimit),
		NumQueries: intp(k.NumQueries), User: uuidp(k.User), SSHPublicKey: k.SshPublicKey,
		ConcurrencyLimit: ptr(0),
	}
}

func (r *queriesResolver) keypair(ctx context.Context, domainName, accessKey *string) (*model.KeyPair, error) {
	sc, err := scopeOn(ctx, domainName, accessKey, caller(ctx).AccessKey, true)
	if err != nil {
		return nil, err
	}
	q := keypairQuery(sc.Domain)
	q.where("kp.access_key = ?", sc.Key)
	rows, err := runAll[dbsqlc.Keypair](ctx, r.Deps.Pool, q, 1)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	if err := prefetchKeypairs(ctx, rows, rootSelection(ctx, "KeyPair")); err != nil {
		return nil, err
	}
	return keypairModel(rows[0]), nil
}

func (r *queriesResolver) keypairScope(ctx context.Context, domainName, email *string, isActive *bool) (*listQuery, error) {
	sc, err := scopeOn(ctx, domainName, email, caller(ctx).User.Email, false)
	if err != nil {
		return nil, err
	}
	q := keypairQuery(sc.Domain)
	if sc.Key != "" {
		q.where("u.email = ?", sc.Key)
	}
	if isActive != nil {
		q.where("kp.is_active = ?", *isActive)
	}
	return q, nil
}

func (r *queriesResolver) keypairs(ctx context.Context, domainName, email *string, isActive *bool) ([]*model.KeyPair, error) {
	q, err := r.keypairScope(ctx, domainName, email, isActive)
	if err != nil {
		return nil, err
	}
	rows, err := runAll[dbsqlc.Keypair](ctx, r.Deps.Pool, q, 100)
	if err != nil {
		return nil, err
	}
	if err := prefetchKeypairs(ctx, rows, rootSelection(ctx, "KeyPair")); err != nil {
		return nil, err
	}
	out := make([]*model.KeyPair, len(rows))
	for i, k := range rows {
		out[i] = keypairModel(k)
	}
	return out, nil
}

func (r *queriesResolver) keypairList(ctx context.Context, limit, offset int, filter, order, domainName, email *string, isActive *bool) (*model.KeyPairList, error) {
	q, err := r.keypairScope(ctx, domainName, email, isActive)
	if err != nil {
		return nil, err
	}
	rows, total, err := runList[dbsqlc.Keypair](ctx, r.Deps.Pool, q, limit, offset, filter, order)
	if err != nil {
		return nil, err
	}
	if err := prefetchKeypairs(ctx, rows, pageSelection(ctx, "KeyPair")); err != nil {
		return nil, err
	}
	out := &model.KeyPairList{Items: make([]*model.KeyPair, len(rows)), TotalCount: total}
	for i, k := range rows {
		out.Items[i] = keypairModel(k)
	}
	return out, nil
}
