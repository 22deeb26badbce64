package auth

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzSignVerify: whatever the request looks like, a signature made with the secret verifies,
// and the same request with another secret or a changed signature does not.
func FuzzSignVerify(f *testing.F) {
	f.Add("GET", "/session/abc?x=1", "127.0.0.1:8081", "application/json; charset=utf-8", "v8.20240315", "secret", int64(0))
	f.Add("POST", "/%ff%00", "h\xff", "multipart/form-data; boundary=x", "v\x00", "", int64(-1))
	f.Add("", "", "", "", "", "\xff\xfe", int64(1e18))
	f.Fuzz(func(t *testing.T, method, rawPath, host, contentType, version, secret string, unix int64) {
		date := time.Unix(unix%(1<<40), 0).UTC()
		rawDate := FormatDate(date)
		in := VerifyInput{
			Method: method, RawPath: rawPath, RawDate: rawDate, Host: host, ContentType: contentType,
			VersionHeaderName: versionLabel, Version: version,
			Authorization: AuthParams{SignMethod: DefaultSignMethod, AccessKey: "AK"},
		}
		in.Authorization.Signature = Sign(secret, date, SignInput{Method: method, RawPath: rawPath, RawDate: rawDate, Host: host,
			MediaType: MediaType(contentType), VersionHeaderName: versionLabel, Version: version, Hash: DefaultHash})
		err := Verify(in, secret, date)
		if version == "" {
			require.ErrorIs(t, err, &Error{Reason: ReasonVersionMissing})
			return
		}
		require.NoError(t, err)
		require.ErrorIs(t, Verify(in, secret+"x", date), &Error{Reason: ReasonSignatureMismatch})
		bad := in
		bad.Authorization.Signature = strings.ToUpper(in.Authorization.Signature) + "0"
		require.ErrorIs(t, Verify(bad, secret, date), &Error{Reason: ReasonSignatureMismatch})
	})
}

// FuzzMediaType: the signed media type is lowercase, has no parameters and exactly one '/'.
func FuzzMediaType(f *testing.F) {
	for _, s := range []string{"", "application/json", "Multipart/Form-Data; boundary=x", "text", "a/b/c", " ; ", "\xff/\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		mt := MediaType(header)
		require.Equal(t, 1, strings.Count(mt, "/"), "%q → %q", header, mt)
		require.NotContains(t, mt, ";")
		require.Equal(t, strings.ToLower(mt), mt)
	})
}

// FuzzParseSignMethod: a method is accepted only with the HMAC mac and a supported hash, and
// refused with an auth error otherwise.
func FuzzParseSignMethod(f *testing.F) {
	for _, s := range []string{"HMAC-SHA256", "hmac-md5", "HMAC-SHA3-256", "HMAC", "-", "", "HMAC-\xff", "RSA-SHA256"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, signMethod string) {
		mac, hash, err := ParseSignMethod(signMethod)
		if err != nil {
			var ae *Error
			require.True(t, errors.As(err, &ae), "%v", err)
			require.NotEmpty(t, ae.Msg)
			return
		}
		require.Equal(t, "hmac", mac)
		require.True(t, HashSupported(hash), "%q", hash)
	})
}

// FuzzCheckDate: any combination of date headers is a date within the allowed skew or a
// date-sync error, never a panic.
func FuzzCheckDate(f *testing.F) {
	f.Add("2024-05-01T12:00:00+00:00", "", "")
	f.Add("", "Wed, 01 May 2024 12:00:00 GMT", "20240501T120000Z")
	f.Add("\xff\xfe", "9999-12-31T23:59:59+99:99", "-1")
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, date, backendAIDate, sornaDate string) {
		h := http.Header{}
		for name, v := range map[string]string{DateHeader: date, BackendAIDateHeader: backendAIDate, SornaDateHeader: sornaDate} {
			if v != "" {
				h.Set(name, v)
			}
		}
		raw, d, err := CheckDate(h, now)
		require.Equal(t, RawDate(h), raw)
		if err != nil {
			require.ErrorIs(t, err, &Error{Reason: ReasonDateSync})
			return
		}
		require.NoError(t, CheckSkew(d, now))
	})
}
