package auth

import (
	"crypto/hmac"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

const (
	// VersionHeader is the header carrying the API version.
	VersionHeader = "X-BackendAI-Version"
	// LegacyVersionHeader is the pre-rename version header, still accepted.
	LegacyVersionHeader = "X-Sorna-Version"
	// DefaultMediaType is the media type of a request without a
	// Content-Type header.
	DefaultMediaType = "application/octet-stream"
	// MethodOverrideHeader re-dispatches a request as another method; the
	// signature covers the overriding method.
	MethodOverrideHeader = "X-Method-Override"

	versionLabel       = "x-backendai-version"
	legacyVersionLabel = "x-sorna-version"
)

// SignInput holds the request fields a signature covers.
type SignInput struct {
	// Method is the HTTP method, e.g. "GET".
	Method string
	// RawPath is the request target exactly as sent: escaped path plus
	// "?query" when there is one.
	RawPath string
	// RawDate is the date header value exactly as sent.
	RawDate string
	// Host is the Host header value, including any ":port".
	Host string
	// MediaType is the content type without parameters (see MediaType).
	MediaType string
	// VersionHeaderName is "x-backendai-version" (the default when empty)
	// or "x-sorna-version", whichever header carried Version.
	VersionHeaderName string
	// Version is the API version, e.g. "v8.20240315".
	Version string
	// Hash is the hashlib name of the hash algorithm; empty means sha256.
	Hash string
}

// dateKey derives the first key of the chain: HMAC(secret, YYYYMMDD), with
// the date written in date's own location.
func dateKey(secret string, date time.Time, hash string) []byte {
	m := hmac.New(mustHash(hash), []byte(secret))
	m.Write([]byte(date.Format("20060102")))
	return m.Sum(nil)
}

// SigningKey derives the per-day, per-host signing key:
// HMAC(HMAC(secret, YYYYMMDD), host). The YYYYMMDD is taken from date in its
// own location, so pass the date as parsed from the header (ParseDate keeps
// the header's offset); do not convert it to UTC. hash is a hashlib name
// ("" means sha256) and SigningKey panics if HashSupported(hash) is false.
func SigningKey(secret string, date time.Time, host, hash string) []byte {
	m := hmac.New(mustHash(hash), dateKey(secret, date, hash))
	m.Write([]byte(host))
	return m.Sum(nil)
}

// StringToSign builds the seven newline-separated lines a signature covers:
// method, raw path with query, raw date, "host:<host>",
// "content-type:<media type>", "<version header name>:<version>" and the hex
// digest of the body. The body is never signed by any API version the
// manager accepts, so the last line is always the digest of empty input.
// The content type and version header name are lowercased; an empty header
// name means "x-backendai-version". hash follows SigningKey's rules.
func StringToSign(method, rawPathWithQuery, rawDate, host, contentType, versionHeaderName, version, hash string) string {
	if versionHeaderName == "" {
		versionHeaderName = versionLabel
	}
	bodyHash := mustHash(hash)()
	var b strings.Builder
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(rawPathWithQuery)
	b.WriteByte('\n')
	b.WriteString(rawDate)
	b.WriteString("\nhost:")
	b.WriteString(host)
	b.WriteString("\ncontent-type:")
	b.WriteString(strings.ToLower(contentType))
	b.WriteByte('\n')
	b.WriteString(strings.ToLower(versionHeaderName))
	b.WriteByte(':')
	b.WriteString(version)
	b.WriteByte('\n')
	b.WriteString(hex.EncodeToString(bodyHash.Sum(nil)))
	return b.String()
}

// Signature returns the lowercase hex HMAC of stringToSign under
// signingKey. hash follows SigningKey's rules.
func Signature(signingKey []byte, stringToSign, hash string) string {
	m := hmac.New(mustHash(hash), signingKey)
	m.Write([]byte(stringToSign))
	return hex.EncodeToString(m.Sum(nil))
}

// Sign computes the lowercase hex signature of a request. date is the
// parsed date header (its own location gives the key's YYYYMMDD). It panics
// if in.Hash is not supported (see HashSupported).
func Sign(secret string, date time.Time, in SignInput) string {
	key := SigningKey(secret, date, in.Host, in.Hash)
	s := StringToSign(in.Method, in.RawPath, in.RawDate, in.Host, in.MediaType, in.VersionHeaderName, in.Version, in.Hash)
	return Signature(key, s, in.Hash)
}

// VerifyInput holds what the server needs to check a request's signature.
type VerifyInput struct {
	// Method is the HTTP method after any X-Method-Override.
	Method string
	// RawPath is the raw request target including "?query"
	// (http.Request.RequestURI on the server).
	RawPath string
	// RawDate is the date header value exactly as received (see RawDate).
	RawDate string
	// Host is the Host header value (http.Request.Host on the server).
	Host string
	// ContentType is the Content-Type header value; MediaType is applied.
	ContentType string
	// VersionHeaderName and Version come from VersionFromHeader.
	VersionHeaderName string
	// Version is the API version header value; empty means missing.
	Version string
	// Authorization is the parsed Authorization header.
	Authorization AuthParams
}

// Verify checks the request's signature against secret. date is the parsed
// date header (see CheckDate). It validates the signMethod (see
// ParseSignMethod), requires a version (ReasonVersionMissing otherwise) and
// compares the signatures in constant time, case-sensitively, returning
// ReasonSignatureMismatch when they differ.
func Verify(in VerifyInput, secret string, date time.Time) error {
	_, hash, err := ParseSignMethod(in.Authorization.SignMethod)
	if err != nil {
		return err
	}
	if in.Version == "" {
		return newError(ReasonVersionMissing, "")
	}
	want := Sign(secret, date, SignInput{
		Method:            in.Method,
		RawPath:           in.RawPath,
		RawDate:           in.RawDate,
		Host:              in.Host,
		MediaType:         MediaType(in.ContentType),
		VersionHeaderName: in.VersionHeaderName,
		Version:           in.Version,
		Hash:              hash,
	})
	if !hmac.Equal([]byte(want), []byte(in.Authorization.Signature)) {
		return newError(ReasonSignatureMismatch, "access key "+quote(in.Authorization.AccessKey))
	}
	return nil
}

// VerifyInputFromRequest collects the signed fields of an incoming server
// request: the method (or the X-Method-Override value), the raw request
// target, the raw date header, the Host header, the Content-Type header and
// the version header. The caller fills in Authorization.
func VerifyInputFromRequest(r *http.Request) VerifyInput {
	method := r.Method
	if override := r.Header.Get(MethodOverrideHeader); override != "" {
		method = override
	}
	rawPath := r.RequestURI
	if rawPath == "" && r.URL != nil {
		rawPath = r.URL.RequestURI()
	}
	name, version := VersionFromHeader(r.Header)
	return VerifyInput{
		Method:            method,
		RawPath:           rawPath,
		RawDate:           RawDate(r.Header),
		Host:              r.Host,
		ContentType:       r.Header.Get("Content-Type"),
		VersionHeaderName: name,
		Version:           version,
	}
}

// VersionFromHeader returns the API version of a request and the lowercase
// name of the header line it is signed under: X-BackendAI-Version when it is
// non-empty, otherwise X-Sorna-Version. Both results are empty when neither
// header is set.
func VersionFromHeader(h http.Header) (name, version string) {
	if v := h.Get(VersionHeader); v != "" {
		return versionLabel, v
	}
	if v := h.Get(LegacyVersionHeader); v != "" {
		return legacyVersionLabel, v
	}
	return "", ""
}

// MediaType returns the media type the manager signs for a Content-Type
// header value: the part before any ';', trimmed and lowercased. A missing
// or empty header gives "application/octet-stream". A value that does not
// contain exactly one '/' gives "text/plain", as Python's email parser (used
// by the manager's web framework) does. Multipart bodies therefore sign as
// "multipart/form-data" without the boundary.
func MediaType(contentTypeHeader string) string {
	if strings.TrimSpace(contentTypeHeader) == "" {
		return DefaultMediaType
	}
	mt, _, _ := strings.Cut(contentTypeHeader, ";")
	mt = strings.ToLower(pyStrip(mt))
	if strings.Count(mt, "/") != 1 {
		return "text/plain"
	}
	return mt
}
