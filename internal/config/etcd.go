package config

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// RootPrefix is the top of every Hangar (and Backend.AI) key in etcd.
const RootPrefix = "/sorna/"

// maxTxnOps keeps multi-key writes below etcd's default limit of operations per transaction.
const maxTxnOps = 64

// Etcd is the shared configuration store: an etcd v3 client whose keys are relative to
// /sorna/<namespace>/. It is safe for concurrent use.
type Etcd struct {
	cli       *clientv3.Client
	endpoint  string
	namespace string
}

// EtcdConfig says how to reach etcd: the endpoint ("host:port"), the namespace, and the
// credentials of an etcd with authentication enabled (User, Password) and TLS, when used.
type EtcdConfig struct {
	Endpoint  string
	Namespace string
	User      string
	Password  string
	// TLS, when not nil, makes the connection use TLS with this client configuration.
	TLS *tls.Config
}

// DialEtcd connects to the etcd server at endpoint ("host:port") and checks that it answers
// within PingTimeout; a server that does not answer yields an *UnreachableError. user and
// password are the etcd credentials, empty for an etcd without authentication.
func DialEtcd(ctx context.Context, endpoint, namespace, user, password string) (*Etcd, error) {
	return DialEtcdConfig(ctx, EtcdConfig{Endpoint: endpoint, Namespace: namespace, User: user, Password: password})
}

// DialEtcdConfig connects to etcd as c says and checks within PingTimeout that the server
// answers and lets the user read the namespace. A server that does not answer yields an
// *UnreachableError; refused credentials yield one line naming etcd and what to set.
func DialEtcdConfig(ctx context.Context, c EtcdConfig) (*Etcd, error) {
	if c.Namespace == "" {
		return nil, errors.New("etcd namespace must not be empty")
	}
	if strings.Contains(c.Namespace, "/") {
		return nil, fmt.Errorf("etcd namespace %q must not contain '/'", c.Namespace)
	}
	cli, err := newEtcdClient(c.Endpoint, c.User, c.Password, c.TLS)
	if err != nil {
		if authErr := etcdAuthError(c.Endpoint, c.User, err); authErr != nil {
			return nil, authErr
		}
		return nil, Unreachable("etcd", c.Endpoint, err)
	}
	if err := checkEtcd(ctx, cli, c.Endpoint); err != nil {
		_ = cli.Close()
		if authErr := etcdAuthError(c.Endpoint, c.User, err); authErr != nil {
			return nil, authErr
		}
		return nil, err
	}
	e := &Etcd{cli: cli, endpoint: c.Endpoint, namespace: c.Namespace}
	// The status call above needs no permission; a read of the namespace proves the
	// credentials (or their absence) are accepted before the caller relies on them.
	rctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	if _, err := cli.Get(rctx, e.nsPrefix(), clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil {
		_ = cli.Close()
		if authErr := etcdAuthError(c.Endpoint, c.User, err); authErr != nil {
			return nil, authErr
		}
		return nil, Unreachable("etcd", c.Endpoint, err)
	}
	return e, nil
}

// etcdAuthError turns an authentication or permission error from etcd at endpoint into one
// line naming what to set; it returns nil for other errors.
func etcdAuthError(endpoint, user string, err error) error {
	switch {
	case errors.Is(err, rpctypes.ErrUserEmpty) || errors.Is(err, rpctypes.ErrGRPCUserEmpty) ||
		strings.Contains(err.Error(), rpctypes.ErrUserEmpty.Error()):
		return fmt.Errorf("etcd at %s requires authentication: set [etcd] user and password in manager.toml (or BACKEND_ETCD_USER and BACKEND_ETCD_PASSWORD)", endpoint)
	case errors.Is(err, rpctypes.ErrAuthFailed) || errors.Is(err, rpctypes.ErrGRPCAuthFailed) ||
		strings.Contains(err.Error(), rpctypes.ErrAuthFailed.Error()):
		return fmt.Errorf("etcd at %s: authentication failed for user %q: check [etcd] user and password", endpoint, user)
	case errors.Is(err, rpctypes.ErrPermissionDenied) || errors.Is(err, rpctypes.ErrGRPCPermissionDenied) ||
		strings.Contains(err.Error(), rpctypes.ErrPermissionDenied.Error()):
		return fmt.Errorf("etcd at %s: user %q may not read %s: grant it a role with readwrite permission on that prefix", endpoint, user, RootPrefix)
	case errors.Is(err, rpctypes.ErrAuthNotEnabled) || errors.Is(err, rpctypes.ErrGRPCAuthNotEnabled):
		return fmt.Errorf("etcd at %s has authentication disabled: leave [etcd] user and password empty", endpoint)
	}
	return nil
}

// Client returns the underlying etcd client; its keys are absolute (see Key).
func (e *Etcd) Client() *clientv3.Client { return e.cli }

// Namespace returns the namespace the store's keys live in.
func (e *Etcd) Namespace() string { return e.namespace }

// Endpoint returns the etcd endpoint the store is connected to.
func (e *Etcd) Endpoint() string { return e.endpoint }

// Close closes the client.
func (e *Etcd) Close() error { return e.cli.Close() }

// Key returns the absolute etcd key for a namespace-relative key: /sorna/<ns>/<key>.
func (e *Etcd) Key(key string) string {
	return e.nsPrefix() + strings.TrimPrefix(key, "/")
}

// nsPrefix returns /sorna/<ns>/.
func (e *Etcd) nsPrefix() string { return RootPrefix + e.namespace + "/" }

// relKey strips the namespace prefix from an absolute key.
func (e *Etcd) relKey(abs []byte) string {
	return strings.TrimPrefix(string(abs), e.nsPrefix())
}

// Get returns the value stored at key and whether it exists.
func (e *Etcd) Get(ctx context.Context, key string) (string, bool, error) {
	resp, err := e.cli.Get(ctx, e.Key(key))
	if err != nil {
		return "", false, fmt.Errorf("etcd get %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return "", false, nil
	}
	return string(resp.Kvs[0].Value), true, nil
}

// GetPrefix reads key and everything below it as nested maps, the way Backend.AI does:
// path segments are split on '/' and URL-unquoted, leaf values are strings, and a key that
// has both a value and children keeps its value under "". The value of prefix itself, if
// any, appears under "". An empty prefix reads the whole namespace. A prefix with no keys
// yields an empty map.
func (e *Etcd) GetPrefix(ctx context.Context, prefix string) (map[string]any, error) {
	pairs, _, err := e.getPairs(ctx, prefix)
	if err != nil {
		return nil, err
	}
	return nest(relativeTo(prefix, pairs)), nil
}

// getPairs returns every key at or below prefix (namespace-relative) and the store revision.
func (e *Etcd) getPairs(ctx context.Context, prefix string) (map[string]string, int64, error) {
	prefix = strings.Trim(prefix, "/")
	pairs := map[string]string{}
	if prefix == "" {
		resp, err := e.cli.Get(ctx, e.nsPrefix(), clientv3.WithPrefix())
		if err != nil {
			return nil, 0, fmt.Errorf("etcd get prefix %s: %w", e.nsPrefix(), err)
		}
		for _, kv := range resp.Kvs {
			pairs[e.relKey(kv.Key)] = string(kv.Value)
		}
		return pairs, resp.Header.Revision, nil
	}
	resp, err := e.cli.Txn(ctx).Then(
		clientv3.OpGet(e.Key(prefix)),
		clientv3.OpGet(e.Key(prefix)+"/", clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return nil, 0, fmt.Errorf("etcd get prefix %s: %w", prefix, err)
	}
	for _, r := range resp.Responses {
		for _, kv := range r.GetResponseRange().Kvs {
			pairs[e.relKey(kv.Key)] = string(kv.Value)
		}
	}
	return pairs, resp.Header.Revision, nil
}

// Put stores val at key (the key is used as given, not quoted).
func (e *Etcd) Put(ctx context.Context, key, val string) error {
	if strings.Trim(key, "/") == "" {
		return errors.New("etcd put: empty key")
	}
	if _, err := e.cli.Put(ctx, e.Key(key), val); err != nil {
		return fmt.Errorf("etcd put %s: %w", key, err)
	}
	return nil
}

// PutIfAbsent stores val at key unless the key exists, atomically, and returns the value the
// key holds afterwards: val, or what another writer stored first.
func (e *Etcd) PutIfAbsent(ctx context.Context, key, val string) (string, error) {
	if strings.Trim(key, "/") == "" {
		return "", errors.New("etcd put: empty key")
	}
	k := e.Key(key)
	resp, err := e.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, val)).
		Else(clientv3.OpGet(k)).
		Commit()
	if err != nil {
		return "", fmt.Errorf("etcd put %s: %w", key, err)
	}
	if resp.Succeeded {
		return val, nil
	}
	if rs := resp.Responses[0].GetResponseRange(); rs != nil && len(rs.Kvs) > 0 {
		return string(rs.Kvs[0].Value), nil
	}
	return "", fmt.Errorf("etcd put %s: the key vanished while it was read", key)
}

// PutPrefix writes a value decoded from JSON (nested map[string]any, strings, numbers,
// bools, arrays, nulls) below key, flattening nested objects into '/'-separated keys whose
// segments are URL-quoted. A "" member of an object is written at the object's own key.
// Strings are stored as they are, numbers and bools as their JSON text, arrays as JSON,
// null as the empty string; empty objects write nothing. Existing keys that value does not
// mention are left alone.
func (e *Etcd) PutPrefix(ctx context.Context, key string, value any) error {
	key = strings.Trim(key, "/")
	flat := map[string]string{}
	if err := flatten(key, value, flat); err != nil {
		return fmt.Errorf("etcd put %s: %w", key, err)
	}
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for start := 0; start < len(keys); start += maxTxnOps {
		end := min(start+maxTxnOps, len(keys))
		ops := make([]clientv3.Op, 0, end-start)
		for _, k := range keys[start:end] {
			ops = append(ops, clientv3.OpPut(e.Key(k), flat[k]))
		}
		if _, err := e.cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			return fmt.Errorf("etcd put %s: %w", key, err)
		}
	}
	return nil
}

// PutJSON writes a JSON value below key like PutPrefix. value is either JSON text ([]byte or
// json.RawMessage) or any Go value, which is first converted to its JSON form (so structs and
// typed maps flatten like the objects they encode to).
func (e *Etcd) PutJSON(ctx context.Context, key string, value any) error {
	var data []byte
	switch v := value.(type) {
	case []byte:
		data = v
	case json.RawMessage:
		data = v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode JSON for %s: %w", key, err)
		}
		data = b
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("decode JSON for %s: %w", key, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("decode JSON for %s: trailing data after the first value", key)
	}
	return e.PutPrefix(ctx, key, v)
}

// Delete removes key (only that key).
func (e *Etcd) Delete(ctx context.Context, key string) error {
	if strings.Trim(key, "/") == "" {
		return errors.New("etcd delete: empty key")
	}
	if _, err := e.cli.Delete(ctx, e.Key(key)); err != nil {
		return fmt.Errorf("etcd delete %s: %w", key, err)
	}
	return nil
}

// DeletePrefix removes key and every key below it; an empty prefix empties the namespace.
func (e *Etcd) DeletePrefix(ctx context.Context, prefix string) error {
	prefix = strings.Trim(prefix, "/")
	var err error
	if prefix == "" {
		_, err = e.cli.Delete(ctx, e.nsPrefix(), clientv3.WithPrefix())
	} else {
		_, err = e.cli.Txn(ctx).Then(
			clientv3.OpDelete(e.Key(prefix)),
			clientv3.OpDelete(e.Key(prefix)+"/", clientv3.WithPrefix()),
		).Commit()
	}
	if err != nil {
		return fmt.Errorf("etcd delete prefix %s: %w", prefix, err)
	}
	return nil
}

// Quote URL-quotes one key segment the way Backend.AI does (every byte except ASCII
// letters, digits and "_.-~" is percent-encoded), so names may contain '/' or ':'.
func Quote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '.' || c == '-' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// Unquote reverses Quote; a segment with malformed escapes is returned unchanged.
func Unquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	u, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// relativeTo strips prefix (and the '/' after it) from namespace-relative keys; the key
// equal to prefix becomes "".
func relativeTo(prefix string, pairs map[string]string) map[string]string {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return pairs
	}
	out := make(map[string]string, len(pairs))
	for k, v := range pairs {
		switch {
		case k == prefix:
			out[""] = v
		case strings.HasPrefix(k, prefix+"/"):
			out[k[len(prefix)+1:]] = v
		}
	}
	return out
}

// nest builds nested maps from relative keys; see GetPrefix for the rules.
func nest(pairs map[string]string) map[string]any {
	root := map[string]any{}
	for rel, v := range pairs {
		parts := strings.Split(rel, "/")
		node := root
		for _, p := range parts[:len(parts)-1] {
			p = Unquote(p)
			switch child := node[p].(type) {
			case map[string]any:
				node = child
			case string:
				m := map[string]any{"": child}
				node[p] = m
				node = m
			default:
				m := map[string]any{}
				node[p] = m
				node = m
			}
		}
		last := Unquote(parts[len(parts)-1])
		if child, ok := node[last].(map[string]any); ok {
			child[""] = v
		} else {
			node[last] = v
		}
	}
	return root
}

// flatten writes value's leaves into out, keyed below key.
func flatten(key string, value any, out map[string]string) error {
	if m, ok := value.(map[string]any); ok {
		for k, child := range m {
			ck := key
			if k != "" {
				ck = joinKey(key, Quote(k))
			}
			if err := flatten(ck, child, out); err != nil {
				return err
			}
		}
		return nil
	}
	if key == "" {
		return errors.New("a value needs a key (only an object can be written at the namespace root)")
	}
	switch v := value.(type) {
	case string:
		out[key] = v
	case nil:
		out[key] = ""
	case json.Number:
		out[key] = v.String()
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("value at %s: %w", key, err)
		}
		out[key] = string(b)
	}
	return nil
}

func joinKey(a, b string) string {
	if a == "" {
		return b
	}
	return a + "/" + b
}
