package auth

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

const (
	exampleAccessKey = "AKIAIOSFODNN7EXAMPLE"
	exampleSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	latestVersion    = "v8.20240315"
	emptySHA256      = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

func mustParseDate(t *testing.T, raw string) time.Time {
	t.Helper()
	d, err := ParseDate(raw)
	require.NoError(t, err)
	return d
}

func requireReason(t *testing.T, err error, reason Reason, kind Kind, msg string) {
	t.Helper()
	require.Error(t, err)
	var ae *Error
	require.True(t, errors.As(err, &ae), "want *Error, got %T: %v", err, err)
	require.Equal(t, reason, ae.Reason)
	require.Equal(t, kind, ae.Kind)
	require.Equal(t, msg, ae.Msg)
	require.ErrorIs(t, err, &Error{Reason: reason})
}

// TestWorkedExample checks every intermediate value of the API document's
// worked example.
func TestWorkedExample(t *testing.T) {
	t.Parallel()

	const rawDate = "2024-05-01T12:00:00.123456+00:00"
	const host = "127.0.0.1:8081"
	date := mustParseDate(t, rawDate)

	require.Equal(t, "e6fcca521cd6e8ae05b52aa17ed9ac9cdc043d25ca68b208f48acd99eabd5fcf",
		hex.EncodeToString(dateKey(exampleSecretKey, date, "sha256")))
	key := SigningKey(exampleSecretKey, date, host, "sha256")
	require.Equal(t, "bb627f0435106903b99c909a4c1750f0f651aeb8ffb109c9332e5c84b8c8ac36", hex.EncodeToString(key))

	s := StringToSign("GET", "/session/mysess?owner_access_key=AKXXX", rawDate, host, "text/plain",
		"x-backendai-version", latestVersion, "sha256")
	require.Equal(t, "GET\n/session/mysess?owner_access_key=AKXXX\n2024-05-01T12:00:00.123456+00:00\n"+
		"host:127.0.0.1:8081\ncontent-type:text/plain\nx-backendai-version:v8.20240315\n"+emptySHA256, s)

	const want = "e58894a703e8712224b6ea02a34d0dc25e9aac0a8fa437538dc8b58cf4f9591b"
	require.Equal(t, want, Signature(key, s, "sha256"))
	require.Equal(t, want, Sign(exampleSecretKey, date, SignInput{
		Method: "GET", RawPath: "/session/mysess?owner_access_key=AKXXX", RawDate: rawDate,
		Host: host, MediaType: "text/plain", Version: latestVersion,
	}))
	require.Equal(t, "BackendAI signMethod=HMAC-SHA256, credential=AKIAIOSFODNN7EXAMPLE:"+want,
		FormatAuthorization(DefaultSignMethod, exampleAccessKey, want))
}

// TestVectors checks the signatures the official client produces.
func TestVectors(t *testing.T) {
	t.Parallel()

	const rawDate = "2024-03-15T12:34:56.789012+00:00"
	const host = "127.0.0.1:8090"
	date := mustParseDate(t, rawDate)

	tests := []struct {
		method, path, contentType, want string
	}{
		{"GET", "/", "text/plain", "0a2f85e8f46d188e41be08795171c92644010c8d875a6c8e0541d049f57493c7"},
		{"POST", "/session", "application/json", "c0a77f4e122390b1222589c595ced6c68378ce139a8576e11ff60cfe29931e2d"},
		{"GET", "/stream/session/5f6a5b3c-1a2b-4c3d-8e9f-0123456789ab/execute", "application/octet-stream", "0e3219c1edbcfdef72318815aea242eb193aba8d50ded3872f75ca207607ca2a"},
		{"GET", "/events/session?sessionName=mysess&scope=*", "application/octet-stream", "0f5c81259d24d700b912a23d3fa9443f02f3e4b9dd3456f35b3d961dffe85576"},
		{"POST", "/admin/gql", "application/json", "817ad89cef7e4d312e40fef42ba642c1b1e0eb2158f1077d3c3e767ef762bc04"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			got := Sign(exampleSecretKey, date, SignInput{
				Method: tt.method, RawPath: tt.path, RawDate: rawDate, Host: host,
				MediaType: tt.contentType, VersionHeaderName: "x-backendai-version", Version: latestVersion,
			})
			require.Equal(t, tt.want, got)

			authz, err := ParseAuthorization(FormatAuthorization(DefaultSignMethod, exampleAccessKey, got))
			require.NoError(t, err)
			require.NoError(t, Verify(VerifyInput{
				Method: tt.method, RawPath: tt.path, RawDate: rawDate, Host: host,
				ContentType: tt.contentType, VersionHeaderName: "x-backendai-version",
				Version: latestVersion, Authorization: authz,
			}, exampleSecretKey, date))
		})
	}
}

// TestSignVariants covers hash algorithms, the legacy version label, an
// RFC 1123 date and a date whose own offset gives a different day than UTC.
// The expected values were computed with Python's hmac and hashlib following
// the same scheme.
func TestSignVariants(t *testing.T) {
	t.Parallel()

	const host = "127.0.0.1:8090"
	const isoDate = "2024-03-15T12:34:56.789012+00:00"
	tests := []struct {
		name, method, path, rawDate, mediaType, label, version, hash, want string
	}{
		{"sha1", "GET", "/", isoDate, "text/plain", "", latestVersion, "sha1", "ef248096eeb448be6532f61b142cc7fa899b6ff7"},
		{"sha224", "GET", "/", isoDate, "text/plain", "", latestVersion, "sha224", "b1606b92059ca6ab17cc7a21ab5c1950b0fda08c728376b90bd393ba"},
		{"sha384", "GET", "/", isoDate, "text/plain", "", latestVersion, "sha384", "8327134dde5786093c171b0d20f80207c6f70fd1c25b1f7114874567ebcf8320b5d0a1a0d96b6adb890520c4c3ef7864"},
		{"sha512", "GET", "/", isoDate, "text/plain", "", latestVersion, "sha512", "b7ef99db20d88a891c553f40d88c81fcd0e1d1ec0c9d82ff6e952cfa1fa9a42ae36abdf1455b0ff3598d072471e574548630f4a340e38e7752edcbf2ad28688e"},
		{"md5", "GET", "/", isoDate, "text/plain", "", latestVersion, "md5", "96f84c5ac16ed4118d9d2a8a512714a3"},
		{"sha3_256", "GET", "/", isoDate, "text/plain", "", latestVersion, "sha3_256", "6a34dd26e47789ab072bc7223d3b1036061103168da586bec85da49de2e77b32"},
		{"legacy version label", "POST", "/session", isoDate, "application/json", "x-sorna-version", "v4.20190615", "sha256", "4522f291bc4ab83e14f404e89f41f621342ad482769015ce04fe63d82aebbfc2"},
		{"rfc1123 date", "GET", "/", "Fri, 15 Mar 2024 12:34:56 GMT", "text/plain", "", latestVersion, "", "a185263a2622126f2da236e5172e6ae6a66e200ee92be0736b40077cbe144adb"},
		{"offset kept", "GET", "/session", "2024-05-01T23:30:00-05:00", "text/plain", "", latestVersion, "", "1541ce60f18be7d727839b523f57b4ef4d4d47294f5c315f42a318f2b174f9bd"},
		{"same instant in utc", "GET", "/session", "2024-05-02T04:30:00+00:00", "text/plain", "", latestVersion, "", "85721b7ed53a18a744630fe815e08f744e7772828b666357bbd246dcb44f9f09"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			date := mustParseDate(t, tt.rawDate)
			got := Sign(exampleSecretKey, date, SignInput{
				Method: tt.method, RawPath: tt.path, RawDate: tt.rawDate, Host: host,
				MediaType: tt.mediaType, VersionHeaderName: tt.label, Version: tt.version, Hash: tt.hash,
			})
			require.Equal(t, tt.want, got)
		})
	}
}

// TestSigningKeyUsesHeaderOffset checks that the key date comes from the
// header's own offset, not from UTC.
func TestSigningKeyUsesHeaderOffset(t *testing.T) {
	t.Parallel()

	date := mustParseDate(t, "2024-05-01T23:30:00-05:00")
	_, off := date.Zone()
	require.Equal(t, -5*3600, off)
	require.Equal(t, "20240501", date.Format("20060102"))

	may1 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	may2 := time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)
	require.Equal(t, SigningKey(exampleSecretKey, may1, "h", ""), SigningKey(exampleSecretKey, date, "h", ""))
	require.NotEqual(t, SigningKey(exampleSecretKey, may2, "h", ""), SigningKey(exampleSecretKey, date, "h", ""))
	require.Equal(t, SigningKey(exampleSecretKey, may2, "h", ""), SigningKey(exampleSecretKey, date.UTC(), "h", ""))
}

func TestSigningKeyPanicsOnUnknownHash(t *testing.T) {
	t.Parallel()

	require.Panics(t, func() { SigningKey("s", time.Now(), "h", "blake2b") })
	require.False(t, HashSupported("blake2b"))
	require.True(t, HashSupported("sha256"))
}

func TestParseAuthorization(t *testing.T) {
	t.Parallel()

	const sig = "e58894a703e8712224b6ea02a34d0dc25e9aac0a8fa437538dc8b58cf4f9591b"
	const good = "BackendAI signMethod=HMAC-SHA256, credential=" + exampleAccessKey + ":" + sig
	const (
		malformedHeader = "Malformed authorization header"
		invalidType     = "Invalid authorization type name"
		malformedParams = "Missing or malformed authorization parameters"
	)

	tests := []struct {
		name   string
		header string
		want   AuthParams
		reason Reason
		kind   Kind
		msg    string
	}{
		{name: "official client", header: good,
			want: AuthParams{Type: "BackendAI", SignMethod: "HMAC-SHA256", AccessKey: exampleAccessKey, Signature: sig, Mac: "hmac", Hash: "sha256"}},
		{name: "legacy type", header: "Sorna signMethod=hmac-sha1,credential=AK:abc",
			want: AuthParams{Type: "Sorna", SignMethod: "hmac-sha1", AccessKey: "AK", Signature: "abc", Mac: "hmac", Hash: "sha1"}},
		{name: "spaces around keys and values", header: "BackendAI   signMethod = HMAC-SHA512 ,  credential =  AK:abc  ",
			want: AuthParams{Type: "BackendAI", SignMethod: "HMAC-SHA512", AccessKey: "AK", Signature: "abc", Mac: "hmac", Hash: "sha512"}},
		{name: "order and extra keys", header: "BackendAI credential=AK:abc, foo=bar, signMethod=HMAC-SHA256",
			want: AuthParams{Type: "BackendAI", SignMethod: "HMAC-SHA256", AccessKey: "AK", Signature: "abc", Mac: "hmac", Hash: "sha256"}},
		{name: "last duplicate wins", header: "BackendAI signMethod=HMAC-MD5, credential=AK:abc, credential=BK:def",
			want: AuthParams{Type: "BackendAI", SignMethod: "HMAC-MD5", AccessKey: "BK", Signature: "def", Mac: "hmac", Hash: "md5"}},
		{name: "signature keeps later colons and equals", header: "BackendAI signMethod=HMAC-SHA256, credential=AK:a:b=c",
			want: AuthParams{Type: "BackendAI", SignMethod: "HMAC-SHA256", AccessKey: "AK", Signature: "a:b=c", Mac: "hmac", Hash: "sha256"}},
		{name: "empty access key parses", header: "BackendAI signMethod=HMAC-SHA256, credential=:abc",
			want: AuthParams{Type: "BackendAI", SignMethod: "HMAC-SHA256", AccessKey: "", Signature: "abc", Mac: "hmac", Hash: "sha256"}},
		{name: "sha3 in hashlib spelling", header: "BackendAI signMethod=HMAC-SHA3_256, credential=AK:abc",
			want: AuthParams{Type: "BackendAI", SignMethod: "HMAC-SHA3_256", AccessKey: "AK", Signature: "abc", Mac: "hmac", Hash: "sha3_256"}},

		{name: "empty header", header: "", reason: ReasonNoCredentials, kind: KindAuthFailed, msg: "Unauthorized access"},
		{name: "type only", header: "BackendAI", reason: ReasonMalformedHeader, kind: KindInvalidParams, msg: malformedHeader},
		{name: "tab is not a separator", header: "BackendAI\tsignMethod=HMAC-SHA256,credential=AK:abc", reason: ReasonMalformedHeader, kind: KindInvalidParams, msg: malformedHeader},
		{name: "bearer type", header: "Bearer abc.def", reason: ReasonInvalidType, kind: KindInvalidParams, msg: invalidType},
		{name: "type is case sensitive", header: "backendai signMethod=HMAC-SHA256, credential=AK:abc", reason: ReasonInvalidType, kind: KindInvalidParams, msg: invalidType},
		{name: "leading space", header: " BackendAI signMethod=HMAC-SHA256, credential=AK:abc", reason: ReasonInvalidType, kind: KindInvalidParams, msg: invalidType},
		{name: "missing signMethod", header: "BackendAI credential=AK:abc", reason: ReasonMalformedParams, kind: KindInvalidParams, msg: malformedParams},
		{name: "missing credential", header: "BackendAI signMethod=HMAC-SHA256", reason: ReasonMalformedParams, kind: KindInvalidParams, msg: malformedParams},
		{name: "key names are case sensitive", header: "BackendAI signmethod=HMAC-SHA256, credential=AK:abc", reason: ReasonMalformedParams, kind: KindInvalidParams, msg: malformedParams},
		{name: "credential without colon", header: "BackendAI signMethod=HMAC-SHA256, credential=AKabc", reason: ReasonMalformedParams, kind: KindInvalidParams, msg: malformedParams},
		// Backend.AI answers 500 here; Hangar answers 400.
		{name: "piece without equals", header: "BackendAI signMethod=HMAC-SHA256, credential=AK:abc, junk", reason: ReasonMalformedParams, kind: KindInvalidParams, msg: malformedParams},
		{name: "trailing comma", header: good + ",", reason: ReasonMalformedParams, kind: KindInvalidParams, msg: malformedParams},
		{name: "empty params", header: "BackendAI ", reason: ReasonMalformedParams, kind: KindInvalidParams, msg: malformedParams},
		{name: "invalid UTF-8 access key", header: "BackendAI signMethod=HMAC-SHA256, credential=\xff\xfe:" + sig, reason: ReasonMalformedParams, kind: KindInvalidParams, msg: malformedParams},
		{name: "NUL in access key", header: "BackendAI signMethod=HMAC-SHA256, credential=AK\x00IA:" + sig, reason: ReasonMalformedParams, kind: KindInvalidParams, msg: malformedParams},
		{name: "control character in access key", header: "BackendAI signMethod=HMAC-SHA256, credential=AK\x07:" + sig, reason: ReasonMalformedParams, kind: KindInvalidParams, msg: malformedParams},
		{name: "non-ASCII access key, bad method", header: "BackendAI signMethod=RSA-SHA256, credential=AKé:" + sig, reason: ReasonMalformedParams, kind: KindInvalidParams, msg: malformedParams},

		{name: "extra dash", header: "BackendAI signMethod=HMAC-SHA3-256, credential=AK:abc",
			want:   AuthParams{Type: "BackendAI", SignMethod: "HMAC-SHA3-256", AccessKey: "AK", Signature: "abc"},
			reason: ReasonInvalidSignature, kind: KindAuthFailed, msg: "Invalid signature"},
		{name: "no dash", header: "BackendAI signMethod=HMACSHA256, credential=AK:abc",
			want:   AuthParams{Type: "BackendAI", SignMethod: "HMACSHA256", AccessKey: "AK", Signature: "abc"},
			reason: ReasonInvalidSignature, kind: KindAuthFailed, msg: "Invalid signature"},
		{name: "not hmac", header: "BackendAI signMethod=RSA-SHA256, credential=AK:abc",
			want:   AuthParams{Type: "BackendAI", SignMethod: "RSA-SHA256", AccessKey: "AK", Signature: "abc"},
			reason: ReasonUnsupportedMAC, kind: KindInvalidParams, msg: "Unsupported request signing method (MAC type)"},
		{name: "unknown hash", header: "BackendAI signMethod=HMAC-SHA999, credential=AK:abc",
			want:   AuthParams{Type: "BackendAI", SignMethod: "HMAC-SHA999", AccessKey: "AK", Signature: "abc"},
			reason: ReasonUnsupportedHash, kind: KindInvalidParams, msg: "Unsupported request signing method (hash type)"},
		{name: "python-only hash", header: "BackendAI signMethod=HMAC-BLAKE2B, credential=AK:abc",
			want:   AuthParams{Type: "BackendAI", SignMethod: "HMAC-BLAKE2B", AccessKey: "AK", Signature: "abc"},
			reason: ReasonUnsupportedHash, kind: KindInvalidParams, msg: "Unsupported request signing method (hash type)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseAuthorization(tt.header)
			if tt.reason == 0 {
				require.NoError(t, err)
			} else {
				requireReason(t, err, tt.reason, tt.kind, tt.msg)
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestKind(t *testing.T) {
	t.Parallel()

	require.Equal(t, "invalid-auth-params", KindInvalidParams.String())
	require.Equal(t, http.StatusBadRequest, KindInvalidParams.HTTPStatus())
	require.Equal(t, "auth-failed", KindAuthFailed.String())
	require.Equal(t, http.StatusUnauthorized, KindAuthFailed.HTTPStatus())
}

func TestParseDate(t *testing.T) {
	t.Parallel()

	utc := func(s string) time.Time {
		d, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return d
	}
	tests := []struct {
		raw       string
		want      time.Time // the instant
		offset    int       // seconds east of UTC kept from the header
		signingYM string    // YYYYMMDD the signing key uses
	}{
		{"2024-05-01T12:00:00.123456+00:00", utc("2024-05-01T12:00:00.123456Z"), 0, "20240501"},
		{"2024-05-01T12:00:00+00:00", utc("2024-05-01T12:00:00Z"), 0, "20240501"},
		{"2024-05-01T12:00:00.123Z", utc("2024-05-01T12:00:00.123Z"), 0, "20240501"},
		{"2024-05-01T12:00:00.123456789Z", utc("2024-05-01T12:00:00.123456789Z"), 0, "20240501"},
		{"2024-05-01T12:00:00", utc("2024-05-01T12:00:00Z"), 0, "20240501"},
		{"2024-05-01T12:00:00.5", utc("2024-05-01T12:00:00.5Z"), 0, "20240501"},
		{"2024-05-01 12:00:00", utc("2024-05-01T12:00:00Z"), 0, "20240501"},
		{"2024-05-01 12:00:00.000001+00:00", utc("2024-05-01T12:00:00.000001Z"), 0, "20240501"},
		{"2024-05-01T23:30:00-05:00", utc("2024-05-02T04:30:00Z"), -5 * 3600, "20240501"},
		{"2024-05-01T00:30:00+0900", utc("2024-04-30T15:30:00Z"), 9 * 3600, "20240501"},
		{"2024-05-01T00:30:00+09", utc("2024-04-30T15:30:00Z"), 9 * 3600, "20240501"},
		{"20240501T120000Z", utc("2024-05-01T12:00:00Z"), 0, "20240501"},
		{"20240501T120000", utc("2024-05-01T12:00:00Z"), 0, "20240501"},
		{"Wed, 01 May 2024 12:00:00 GMT", utc("2024-05-01T12:00:00Z"), 0, "20240501"},
		{"Wed, 1 May 2024 12:00:00 GMT", utc("2024-05-01T12:00:00Z"), 0, "20240501"},
		{"Wed, 01 May 2024 12:00:00 UTC", utc("2024-05-01T12:00:00Z"), 0, "20240501"},
		{"Wed, 01 May 2024 23:00:00 EST", utc("2024-05-02T04:00:00Z"), -5 * 3600, "20240501"},
		{"Wed, 01 May 2024 08:00:00 KST", utc("2024-04-30T23:00:00Z"), 9 * 3600, "20240501"},
		{"Wed, 01 May 2024 12:00:00 XYZ", utc("2024-05-01T12:00:00Z"), 0, "20240501"},
		{"Wed, 01 May 2024 12:00:00 +0200", utc("2024-05-01T10:00:00Z"), 2 * 3600, "20240501"},
		{"Wednesday, 01-May-24 12:00:00 GMT", utc("2024-05-01T12:00:00Z"), 0, "20240501"},
		{"Wed May  1 12:00:00 2024", utc("2024-05-01T12:00:00Z"), 0, "20240501"},
		{"  2024-05-01T12:00:00Z  ", utc("2024-05-01T12:00:00Z"), 0, "20240501"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDate(tt.raw)
			require.NoError(t, err)
			require.True(t, tt.want.Equal(got), "want %s, got %s", tt.want, got)
			_, off := got.Zone()
			require.Equal(t, tt.offset, off)
			require.Equal(t, tt.signingYM, got.Format("20060102"))
		})
	}

	for _, raw := range []string{"", "   ", "yesterday", "2024-13-01T00:00:00Z", "2024-05-01T25:00:00Z", "Wed, 01 May 2024"} {
		t.Run("invalid "+raw, func(t *testing.T) {
			t.Parallel()
			_, err := ParseDate(raw)
			requireReason(t, err, ReasonDateSync, KindInvalidParams, "Date/time sync error")
		})
	}
}

func TestCheckSkew(t *testing.T) {
	t.Parallel()

	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		date time.Time
		ok   bool
	}{
		{"now", now, true},
		{"lower bound is exclusive", now.Add(-MaxSkew), false},
		{"just inside lower bound", now.Add(-MaxSkew + time.Nanosecond), true},
		{"upper bound is exclusive", now.Add(MaxSkew), false},
		{"just inside upper bound", now.Add(MaxSkew - time.Nanosecond), true},
		{"an hour late", now.Add(-time.Hour), false},
		{"other offset, same instant", now.In(time.FixedZone("", -5*3600)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckSkew(tt.date, now)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			requireReason(t, err, ReasonDateSync, KindInvalidParams, "Date/time sync error")
		})
	}
}

func TestCheckDateAndHeaders(t *testing.T) {
	t.Parallel()

	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	const good = "2024-05-01T12:01:00+00:00"
	tests := []struct {
		name    string
		headers map[string]string
		raw     string
		ok      bool
	}{
		{"date", map[string]string{"Date": good}, good, true},
		{"date wins", map[string]string{"Date": good, "X-BackendAI-Date": "junk"}, good, true},
		{"backendai fallback", map[string]string{"X-BackendAI-Date": good}, good, true},
		{"sorna fallback", map[string]string{"X-Sorna-Date": good}, good, true},
		{"backendai before sorna", map[string]string{"X-BackendAI-Date": good, "X-Sorna-Date": "junk"}, good, true},
		{"missing", map[string]string{}, "", false},
		{"skewed", map[string]string{"Date": "2024-05-01T11:00:00+00:00"}, "2024-05-01T11:00:00+00:00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := make(http.Header)
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			raw, date, err := CheckDate(h, now)
			require.Equal(t, tt.raw, raw)
			if !tt.ok {
				requireReason(t, err, ReasonDateSync, KindInvalidParams, "Date/time sync error")
				return
			}
			require.NoError(t, err)
			require.True(t, date.Equal(now.Add(time.Minute)))
		})
	}

	h := make(http.Header)
	name, version := VersionFromHeader(h)
	require.Empty(t, name)
	require.Empty(t, version)
	h.Set(LegacyVersionHeader, "v4.20190615")
	name, version = VersionFromHeader(h)
	require.Equal(t, "x-sorna-version", name)
	require.Equal(t, "v4.20190615", version)
	h.Set(VersionHeader, latestVersion)
	name, version = VersionFromHeader(h)
	require.Equal(t, "x-backendai-version", name)
	require.Equal(t, latestVersion, version)
}

func TestMediaType(t *testing.T) {
	t.Parallel()

	tests := map[string]string{
		"":                                 "application/octet-stream",
		"application/json":                 "application/json",
		"Application/JSON; charset=utf-8":  "application/json",
		"  text/plain  ":                   "text/plain",
		"multipart/form-data; boundary=xy": "multipart/form-data",
		"text/yaml;charset=utf-8":          "text/yaml",
		"foo":                              "text/plain",
		"a/b/c":                            "text/plain",
	}
	for in, want := range tests {
		require.Equal(t, want, MediaType(in), "MediaType(%q)", in)
	}
}

func TestVerifyFailures(t *testing.T) {
	t.Parallel()

	const rawDate = "2024-03-15T12:34:56.789012+00:00"
	date := mustParseDate(t, rawDate)
	base := VerifyInput{
		Method: "GET", RawPath: "/", RawDate: rawDate, Host: "127.0.0.1:8090",
		ContentType: "text/plain", VersionHeaderName: "x-backendai-version", Version: latestVersion,
		Authorization: AuthParams{
			Type: "BackendAI", SignMethod: DefaultSignMethod, AccessKey: exampleAccessKey,
			Signature: "0a2f85e8f46d188e41be08795171c92644010c8d875a6c8e0541d049f57493c7",
		},
	}
	require.NoError(t, Verify(base, exampleSecretKey, date))

	tests := []struct {
		name   string
		edit   func(*VerifyInput)
		secret string
		reason Reason
		kind   Kind
		msg    string
	}{
		{"wrong secret", func(*VerifyInput) {}, "other", ReasonSignatureMismatch, KindAuthFailed, "Signature mismatch"},
		{"upper-case hex", func(in *VerifyInput) {
			in.Authorization.Signature = strings.ToUpper(in.Authorization.Signature)
		}, exampleSecretKey, ReasonSignatureMismatch, KindAuthFailed, "Signature mismatch"},
		{"empty signature", func(in *VerifyInput) { in.Authorization.Signature = "" }, exampleSecretKey, ReasonSignatureMismatch, KindAuthFailed, "Signature mismatch"},
		{"other path", func(in *VerifyInput) { in.RawPath = "/?x=1" }, exampleSecretKey, ReasonSignatureMismatch, KindAuthFailed, "Signature mismatch"},
		{"other host", func(in *VerifyInput) { in.Host = "127.0.0.1" }, exampleSecretKey, ReasonSignatureMismatch, KindAuthFailed, "Signature mismatch"},
		{"other content type", func(in *VerifyInput) { in.ContentType = "" }, exampleSecretKey, ReasonSignatureMismatch, KindAuthFailed, "Signature mismatch"},
		{"legacy label", func(in *VerifyInput) { in.VersionHeaderName = "x-sorna-version" }, exampleSecretKey, ReasonSignatureMismatch, KindAuthFailed, "Signature mismatch"},
		{"version missing", func(in *VerifyInput) { in.Version = "" }, exampleSecretKey, ReasonVersionMissing, KindInvalidParams, "API version missing in request headers"},
		{"extra dash", func(in *VerifyInput) { in.Authorization.SignMethod = "HMAC-SHA3-256" }, exampleSecretKey, ReasonInvalidSignature, KindAuthFailed, "Invalid signature"},
		{"method checked before version", func(in *VerifyInput) {
			in.Authorization.SignMethod = "HMAC-NOPE"
			in.Version = ""
		}, exampleSecretKey, ReasonUnsupportedHash, KindInvalidParams, "Unsupported request signing method (hash type)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := base
			tt.edit(&in)
			requireReason(t, Verify(in, tt.secret, date), tt.reason, tt.kind, tt.msg)
		})
	}
}

func TestFormatDate(t *testing.T) {
	t.Parallel()

	require.Equal(t, "2024-05-01T12:00:00.123456+00:00",
		FormatDate(time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)))
	require.Equal(t, "2024-05-01T12:00:00+00:00",
		FormatDate(time.Date(2024, 5, 1, 12, 0, 0, 999, time.UTC)))
	require.Equal(t, "2024-05-02T04:30:00.000001+00:00",
		FormatDate(time.Date(2024, 5, 1, 23, 30, 0, 1000, time.FixedZone("", -5*3600))))
}

// TestSignRequestRoundTrip signs requests with the client signer, sends them
// through a real HTTP server and verifies them there as the middleware will.
func TestSignRequestRoundTrip(t *testing.T) {
	t.Parallel()

	now := time.Date(2024, 3, 15, 12, 34, 56, 789012000, time.UTC)
	creds := Credentials{AccessKey: exampleAccessKey, SecretKey: exampleSecretKey}

	type seen struct {
		in     VerifyInput
		err    error
		header http.Header
	}
	results := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		in := VerifyInputFromRequest(r)
		_, date, err := CheckDate(r.Header, now.Add(3*time.Minute))
		if err == nil {
			in.Authorization, err = ParseAuthorization(r.Header.Get("Authorization"))
		}
		if err == nil {
			err = Verify(in, exampleSecretKey, date)
		}
		results <- seen{in: in, err: err, header: r.Header.Clone()}
	}))
	t.Cleanup(srv.Close)

	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	require.NoError(t, mw.WriteField("a", "b"))
	require.NoError(t, mw.Close())

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        []byte
		override    string
		tamper      func(*http.Request)
		wantPath    string
		wantMethod  string
		wantMedia   string
		wantErr     Reason
	}{
		{name: "get without content type", method: "GET", path: "/", wantPath: "/", wantMethod: "GET", wantMedia: "application/octet-stream"},
		{name: "query kept raw", method: "GET", path: "/events/session?sessionName=mysess&scope=*", wantPath: "/events/session?sessionName=mysess&scope=*", wantMethod: "GET", wantMedia: "application/octet-stream"},
		{name: "escaped path", method: "GET", path: "/folders/my%20folder/files?path=a%2Fb", wantPath: "/folders/my%20folder/files?path=a%2Fb", wantMethod: "GET", wantMedia: "application/octet-stream"},
		{name: "json body", method: "POST", path: "/session", contentType: "application/json", body: []byte(`{"x":1}`), wantPath: "/session", wantMethod: "POST", wantMedia: "application/json"},
		{name: "json with charset", method: "DELETE", path: "/folders", contentType: "application/json; charset=utf-8", body: []byte(`{}`), wantPath: "/folders", wantMethod: "DELETE", wantMedia: "application/json"},
		{name: "multipart", method: "POST", path: "/folders/x/upload", contentType: mw.FormDataContentType(), body: mp.Bytes(), wantPath: "/folders/x/upload", wantMethod: "POST", wantMedia: "multipart/form-data"},
		{name: "method override", method: "POST", path: "/session/s", override: "PATCH", wantPath: "/session/s", wantMethod: "PATCH", wantMedia: "application/octet-stream"},
		{name: "tampered query", method: "GET", path: "/session/s", tamper: func(r *http.Request) { r.URL.RawQuery = "owner_access_key=X" },
			wantPath: "/session/s?owner_access_key=X", wantMethod: "GET", wantMedia: "application/octet-stream", wantErr: ReasonSignatureMismatch},
		{name: "tampered content type", method: "POST", path: "/session", contentType: "application/json", body: []byte(`{}`),
			tamper:   func(r *http.Request) { r.Header.Set("Content-Type", "text/yaml") },
			wantPath: "/session", wantMethod: "POST", wantMedia: "text/yaml", wantErr: ReasonSignatureMismatch},
	}
	// The server handler reports through one channel, so the subtests run
	// one after another.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, bytes.NewReader(tt.body))
			require.NoError(t, err)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.override != "" {
				req.Header.Set(MethodOverrideHeader, tt.override)
			}
			require.NoError(t, creds.SignRequest(req, latestVersion, now))
			require.Equal(t, "2024-03-15T12:34:56.789012+00:00", req.Header.Get("Date"))
			require.Equal(t, latestVersion, req.Header.Get(VersionHeader))
			require.True(t, strings.HasPrefix(req.Header.Get("Authorization"),
				"BackendAI signMethod=HMAC-SHA256, credential="+exampleAccessKey+":"))
			if tt.tamper != nil {
				tt.tamper(req)
			}

			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())

			got := <-results
			require.Equal(t, tt.wantPath, got.in.RawPath)
			require.Equal(t, tt.wantMethod, got.in.Method)
			require.Equal(t, strings.TrimPrefix(srv.URL, "http://"), got.in.Host)
			require.Equal(t, tt.wantMedia, MediaType(got.in.ContentType))
			if tt.wantErr == 0 {
				require.NoError(t, got.err)
			} else {
				require.ErrorIs(t, got.err, &Error{Reason: tt.wantErr})
			}
		})
	}
}

// TestSignRequestMatchesVectors checks that the client signer produces the
// official client's signature for the same request.
func TestSignRequestMatchesVectors(t *testing.T) {
	t.Parallel()

	now := time.Date(2024, 3, 15, 12, 34, 56, 789012000, time.UTC)
	creds := Credentials{AccessKey: exampleAccessKey, SecretKey: exampleSecretKey}
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:8090/admin/gql", strings.NewReader("{}"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")

	edit := creds.RequestEditor(latestVersion, func() time.Time { return now })
	require.NoError(t, edit(context.Background(), req))
	require.Equal(t, "BackendAI signMethod=HMAC-SHA256, credential=AKIAIOSFODNN7EXAMPLE:"+
		"817ad89cef7e4d312e40fef42ba642c1b1e0eb2158f1077d3c3e767ef762bc04", req.Header.Get("Authorization"))

	// An explicit r.Host overrides the URL host.
	req, err = http.NewRequest(http.MethodGet, "http://10.0.0.1/", nil)
	require.NoError(t, err)
	req.Host = "127.0.0.1:8090"
	req.Header.Set("Content-Type", "text/plain")
	require.NoError(t, creds.SignRequest(req, latestVersion, now))
	require.True(t, strings.HasSuffix(req.Header.Get("Authorization"),
		":0a2f85e8f46d188e41be08795171c92644010c8d875a6c8e0541d049f57493c7"))
}

func TestSignRequestAnonymousAndErrors(t *testing.T) {
	t.Parallel()

	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:8090/", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "stale")
	require.NoError(t, Credentials{}.SignRequest(req, latestVersion, time.Now()))
	require.Empty(t, req.Header.Get("Authorization"))
	require.NotEmpty(t, req.Header.Get("Date"))
	require.Equal(t, latestVersion, req.Header.Get(VersionHeader))

	require.Error(t, Credentials{AccessKey: "a", SecretKey: "b"}.SignRequest(req, "", time.Now()))
	require.Error(t, Credentials{AccessKey: "a", SecretKey: "b"}.SignRequest(nil, latestVersion, time.Now()))
}

func TestGenerateKeypair(t *testing.T) {
	t.Parallel()

	accessRE := regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`)
	secretRE := regexp.MustCompile(`^[A-Za-z0-9_-]{40}$`)
	seen := make(map[string]bool)
	for range 50 {
		access, secret, err := GenerateKeypair()
		require.NoError(t, err)
		require.Len(t, access, 20)
		require.Regexp(t, accessRE, access)
		require.Regexp(t, secretRE, secret)

		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(access[4:])
		require.NoError(t, err)
		require.Len(t, raw, 10)
		raw, err = base64.RawURLEncoding.DecodeString(secret)
		require.NoError(t, err)
		require.Len(t, raw, 30)

		require.False(t, seen[access], "duplicate access key %s", access)
		seen[access] = true
	}
}

func FuzzParseAuthorization(f *testing.F) {
	for _, seed := range []string{
		"",
		"BackendAI",
		"BackendAI signMethod=HMAC-SHA256, credential=AKIAIOSFODNN7EXAMPLE:e58894a7",
		"Sorna signMethod=hmac-md5,credential=a:b",
		"BackendAI signMethod=HMAC-SHA3-256, credential=a:b",
		"BackendAI signMethod=HMAC-SHA256, credential=a:b, junk",
		"BackendAI ,,,=,=:",
		"BackendAI signMethod=\x1c-\x85, credential=\xff:\xfe",
		"BackendAI signMethod=HMAC-SHA256, credential=\xff\xfe:e58894a7",
		"BackendAI signMethod=HMAC-SHA256, credential=AK\x00:e58894a7",
		"BackendAI signMethod=HMAC-SHA256, credential=AKIAIOSFODNN7EXAMPLEXXXXX:e58894a7",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		p, err := ParseAuthorization(header)
		// Whatever is returned next to an error or not, an access key that reaches a lookup
		// is printable ASCII: never a NUL, a control character or invalid UTF-8.
		require.True(t, p.AccessKey == "" || printableASCII(p.AccessKey), "%q", p.AccessKey)
		require.True(t, utf8.ValidString(p.AccessKey))
		if err != nil {
			var ae *Error
			require.True(t, errors.As(err, &ae))
			require.Contains(t, []Kind{KindInvalidParams, KindAuthFailed}, ae.Kind)
			require.NotEmpty(t, ae.Msg)
			return
		}
		require.Equal(t, "hmac", p.Mac)
		require.True(t, HashSupported(p.Hash))
		require.Contains(t, []string{"BackendAI", "Sorna"}, p.Type)
	})
}

func TestValidAccessKey(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]bool{
		exampleAccessKey: true, "AK": true, "AKIA0123456789ABCDEF": true, "a-b_c.d~!": true,
		"": false, "AKIA0123456789ABCDEFG": false, "AK IA": false, "AK\x00": false, "\xff\xfe": false, "AKé": false, "AK\x7f": false,
	} {
		require.Equal(t, want, ValidAccessKey(key), "%q", key)
	}
}

func FuzzParseDate(f *testing.F) {
	for _, seed := range []string{"2024-05-01T12:00:00.123456+00:00", "Wed, 01 May 2024 12:00:00 EST", "20240501T120000Z", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := ParseDate(raw); err != nil {
			require.ErrorIs(t, err, &Error{Reason: ReasonDateSync})
		}
	})
}
