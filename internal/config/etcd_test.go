package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestQuote(t *testing.T) {
	t.Parallel()
	for raw, quoted := range map[string]string{
		"cr.backend.ai":   "cr.backend.ai",
		"localhost:5000":  "localhost%3A5000",
		"a/b c":           "a%2Fb%20c",
		"under_score-~":   "under_score-~",
		"100%":            "100%25",
		"ünï":             "%C3%BCn%C3%AF",
		"":                "",
		"x+y=z&w@v,u;t$s": "x%2By%3Dz%26w%40v%2Cu%3Bt%24s",
	} {
		require.Equal(t, quoted, Quote(raw), raw)
		require.Equal(t, raw, Unquote(quoted), quoted)
	}
	require.Equal(t, "bad%zz", Unquote("bad%zz"))
}

func TestFlattenAndNest(t *testing.T) {
	t.Parallel()
	value := map[string]any{
		"registry": map[string]any{
			"my/reg": map[string]any{"": "https://r", "type": "harbor2"},
		},
		"n":     json.Number("1500"),
		"f":     2.5,
		"b":     true,
		"null":  nil,
		"list":  []any{"a", json.Number("1")},
		"empty": map[string]any{},
	}
	flat := map[string]string{}
	require.NoError(t, flatten("config", value, flat))
	require.Equal(t, map[string]string{
		"config/registry/my%2Freg":      "https://r",
		"config/registry/my%2Freg/type": "harbor2",
		"config/n":                      "1500",
		"config/f":                      "2.5",
		"config/b":                      "true",
		"config/null":                   "",
		"config/list":                   `["a",1]`,
	}, flat)

	require.Equal(t, map[string]any{
		"registry": map[string]any{"my/reg": map[string]any{"": "https://r", "type": "harbor2"}},
		"n":        "1500",
		"f":        "2.5",
		"b":        "true",
		"null":     "",
		"list":     `["a",1]`,
	}, nest(relativeTo("config", flat)))

	require.Error(t, flatten("", "scalar", map[string]string{}))
}

func TestEtcd(t *testing.T) {
	t.Parallel()

	t.Run("PutGetDelete", func(t *testing.T) {
		t.Parallel()
		e := testEtcd(t)
		ctx := testCtx(t, 10*time.Second)

		_, ok, err := e.Get(ctx, "config/system/timezone")
		require.NoError(t, err)
		require.False(t, ok)

		require.NoError(t, e.Put(ctx, "config/system/timezone", "Asia/Seoul"))
		v, ok, err := e.Get(ctx, "config/system/timezone")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "Asia/Seoul", v)

		// The key lives under /sorna/<ns>/ in etcd.
		raw, err := e.Client().Get(ctx, "/sorna/"+e.Namespace()+"/config/system/timezone")
		require.NoError(t, err)
		require.Len(t, raw.Kvs, 1)
		require.Equal(t, "Asia/Seoul", string(raw.Kvs[0].Value))
		require.Equal(t, "/sorna/"+e.Namespace()+"/x", e.Key("/x"))

		require.NoError(t, e.Delete(ctx, "config/system/timezone"))
		_, ok, err = e.Get(ctx, "config/system/timezone")
		require.NoError(t, err)
		require.False(t, ok)

		require.Error(t, e.Put(ctx, "", "v"))

		// PutIfAbsent keeps the first value.
		got, err := e.PutIfAbsent(ctx, "config/hangar/once", "first")
		require.NoError(t, err)
		require.Equal(t, "first", got)
		got, err = e.PutIfAbsent(ctx, "config/hangar/once", "second")
		require.NoError(t, err)
		require.Equal(t, "first", got)
		v, _, err = e.Get(ctx, "config/hangar/once")
		require.NoError(t, err)
		require.Equal(t, "first", v)
		require.Error(t, e.Delete(ctx, "/"))
	})

	t.Run("GetPrefixKeepsValueUnderEmptyKey", func(t *testing.T) {
		t.Parallel()
		e := testEtcd(t)
		ctx := testCtx(t, 10*time.Second)
		require.NoError(t, e.Put(ctx, "config/docker/registry/cr.backend.ai", "https://cr.backend.ai"))
		require.NoError(t, e.Put(ctx, "config/docker/registry/cr.backend.ai/type", "harbor2"))
		require.NoError(t, e.Put(ctx, "config/docker/registry/localhost%3A5000", "http://localhost:5000"))
		require.NoError(t, e.Put(ctx, "config/dockerish", "sibling"))

		got, err := e.GetPrefix(ctx, "config/docker")
		require.NoError(t, err)
		require.Equal(t, map[string]any{
			"registry": map[string]any{
				"cr.backend.ai":  map[string]any{"": "https://cr.backend.ai", "type": "harbor2"},
				"localhost:5000": "http://localhost:5000",
			},
		}, got)

		got, err = e.GetPrefix(ctx, "config/docker/registry/cr.backend.ai/")
		require.NoError(t, err)
		require.Equal(t, map[string]any{"": "https://cr.backend.ai", "type": "harbor2"}, got)

		got, err = e.GetPrefix(ctx, "nothing/here")
		require.NoError(t, err)
		require.Empty(t, got)

		all, err := e.GetPrefix(ctx, "")
		require.NoError(t, err)
		require.Equal(t, "sibling", all["config"].(map[string]any)["dockerish"])
	})

	t.Run("PutJSONRoundTripsSampleConfig", func(t *testing.T) {
		t.Parallel()
		configs := upstreamConfigs(t)
		e := testEtcd(t)
		ctx := testCtx(t, 10*time.Second)
		data, err := os.ReadFile(filepath.Join(configs, "sample.etcd.config.json"))
		require.NoError(t, err)
		require.NoError(t, e.PutJSON(ctx, "config", data))

		v, ok, err := e.Get(ctx, "config/docker/registry/cr.backend.ai")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "https://cr.backend.ai", v)
		v, _, err = e.Get(ctx, "config/network/overlay/mtu")
		require.NoError(t, err)
		require.Equal(t, "1500", v)

		got, err := e.GetPrefix(ctx, "config")
		require.NoError(t, err)
		require.Equal(t, stringLeaves(t, data), got)

		require.ErrorContains(t, e.PutJSON(ctx, "config", []byte(`{"a":`)), "decode JSON")
		require.ErrorContains(t, e.PutJSON(ctx, "config", []byte(`{} {}`)), "trailing data")
		require.ErrorContains(t, e.PutJSON(ctx, "config", func() {}), "encode JSON")

		// Go values are written as the JSON they encode to.
		type announcement struct {
			Enabled bool   `json:"enabled"`
			Message string `json:"message"`
		}
		require.NoError(t, e.PutJSON(ctx, "manager/announcement", map[string]any{"": "self", "a": announcement{Enabled: true, Message: "hi"}}))
		got, err = e.GetPrefix(ctx, "manager/announcement")
		require.NoError(t, err)
		require.Equal(t, map[string]any{"": "self", "a": map[string]any{"enabled": "true", "message": "hi"}}, got)
	})

	t.Run("ScalarPutJSONWritesTheKeyItself", func(t *testing.T) {
		t.Parallel()
		e := testEtcd(t)
		ctx := testCtx(t, 10*time.Second)
		require.NoError(t, e.PutJSON(ctx, "manager/announcement", []byte(`"hello"`)))
		v, ok, err := e.Get(ctx, "manager/announcement")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "hello", v)
	})

	t.Run("PutPrefixManyKeys", func(t *testing.T) {
		t.Parallel()
		e := testEtcd(t)
		ctx := testCtx(t, 10*time.Second)
		obj := map[string]any{}
		for i := range 300 {
			obj[fmt.Sprintf("k%03d", i)] = strconv.Itoa(i)
		}
		require.NoError(t, e.PutPrefix(ctx, "bulk", obj))
		got, err := e.GetPrefix(ctx, "bulk")
		require.NoError(t, err)
		require.Len(t, got, len(obj))
		require.Equal(t, "299", got["k299"])
	})

	t.Run("DeletePrefixSparesSiblings", func(t *testing.T) {
		t.Parallel()
		e := testEtcd(t)
		ctx := testCtx(t, 10*time.Second)
		require.NoError(t, e.Put(ctx, "config/redis", "r"))
		require.NoError(t, e.Put(ctx, "config/redis/addr", "127.0.0.1:6379"))
		require.NoError(t, e.Put(ctx, "config/redisx", "keep"))
		require.NoError(t, e.DeletePrefix(ctx, "config/redis"))

		got, err := e.GetPrefix(ctx, "config")
		require.NoError(t, err)
		require.Equal(t, map[string]any{"redisx": "keep"}, got)

		require.NoError(t, e.DeletePrefix(ctx, ""))
		got, err = e.GetPrefix(ctx, "")
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("NamespacesAreIsolated", func(t *testing.T) {
		t.Parallel()
		a, b := testEtcd(t), testEtcd(t)
		ctx := testCtx(t, 10*time.Second)
		require.NoError(t, a.Put(ctx, "k", "a"))
		_, ok, err := b.Get(ctx, "k")
		require.NoError(t, err)
		require.False(t, ok)
	})

	t.Run("RejectsBadNamespace", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 10*time.Second)
		_, err := DialEtcd(ctx, DefaultEtcdAddr, "", "", "")
		require.Error(t, err)
		_, err = DialEtcd(ctx, DefaultEtcdAddr, "a/b", "", "")
		require.Error(t, err)
	})
}

// stringLeaves decodes JSON and converts it to what GetPrefix returns after PutJSON: leaves
// as their text, empty objects dropped.
func stringLeaves(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(data, &v))
	var conv func(m map[string]any) map[string]any
	conv = func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, val := range m {
			switch val := val.(type) {
			case map[string]any:
				if c := conv(val); len(c) > 0 {
					out[k] = c
				}
			case string:
				out[k] = val
			default:
				b, err := json.Marshal(val)
				require.NoError(t, err)
				out[k] = string(b)
			}
		}
		return out
	}
	return conv(v)
}
