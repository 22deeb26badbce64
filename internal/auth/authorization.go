package auth

import (
	"strconv"
	"strings"
	"unicode"
)

// DefaultSignMethod is the signMethod the official clients send.
const DefaultSignMethod = "HMAC-SHA256"

// AuthParams holds the parsed Authorization header of a signed request.
type AuthParams struct {
	// Type is "BackendAI" or the legacy "Sorna".
	Type string
	// SignMethod is the signMethod parameter as sent, e.g. "HMAC-SHA256".
	SignMethod string
	// AccessKey is the part of the credential before the first ':'.
	AccessKey string
	// Signature is the part of the credential after the first ':'.
	Signature string
	// Mac is the lowercased MAC name from SignMethod (always "hmac" when
	// set). It is empty when SignMethod failed validation.
	Mac string
	// Hash is the lowercased hash name from SignMethod, e.g. "sha256". It
	// is empty when SignMethod failed validation.
	Hash string
}

// ParseAuthorization parses a Backend.AI Authorization header of the form
//
//	BackendAI signMethod=HMAC-SHA256, credential=<access key>:<signature>
//
// The rules follow the manager exactly: the header is cut once at the first
// space; the type must be "BackendAI" or "Sorna"; the rest is split at every
// ',', each piece is trimmed and cut at its first '=', and keys and values
// are trimmed (a repeated key keeps its last value); signMethod and
// credential are required and the credential is cut at its first ':'. An access key with a
// character other than printable ASCII (a NUL, invalid UTF-8, a control character) is
// malformed.
//
// An empty header yields ReasonNoCredentials. Structural problems yield
// ReasonMalformedHeader, ReasonInvalidType or ReasonMalformedParams (all
// KindInvalidParams).
//
// The signMethod is then validated with ParseSignMethod. If only that check
// fails, the returned AuthParams still carries Type, SignMethod, AccessKey
// and Signature next to the error. Backend.AI looks the access key up
// before it validates the method (an unknown key wins with "Access key not
// found"); a caller that wants that precedence can look the key up first and
// report the method error afterwards. Verify checks the method again.
func ParseAuthorization(header string) (AuthParams, error) {
	if header == "" {
		return AuthParams{}, newError(ReasonNoCredentials, "no Authorization header")
	}
	typ, rest, ok := strings.Cut(header, " ")
	if !ok {
		return AuthParams{}, newError(ReasonMalformedHeader, "")
	}
	if typ != "BackendAI" && typ != "Sorna" {
		return AuthParams{}, newError(ReasonInvalidType, "type "+quote(typ))
	}
	params := make(map[string]string)
	for piece := range strings.SplitSeq(rest, ",") {
		key, value, ok := strings.Cut(pyStrip(piece), "=")
		if !ok {
			// Upstream quirk we do not copy: the manager crashes with an
			// uncaught exception (HTTP 500) on a piece without '='. We
			// report malformed parameters (HTTP 400) instead.
			return AuthParams{}, newError(ReasonMalformedParams, "parameter without '='")
		}
		params[pyStrip(key)] = pyStrip(value)
	}
	credential, ok := params["credential"]
	if !ok {
		return AuthParams{}, newError(ReasonMalformedParams, "credential missing")
	}
	signMethod, ok := params["signMethod"]
	if !ok {
		return AuthParams{}, newError(ReasonMalformedParams, "signMethod missing")
	}
	accessKey, signature, ok := strings.Cut(credential, ":")
	if !ok {
		return AuthParams{}, newError(ReasonMalformedParams, "credential without ':'")
	}
	if !printableASCII(accessKey) {
		// No access key has such characters; reject them before anything looks the key up
		// (PostgreSQL refuses NUL and invalid UTF-8 in a text parameter).
		return AuthParams{}, newError(ReasonMalformedParams, "access key with characters other than printable ASCII")
	}
	p := AuthParams{
		Type:       typ,
		SignMethod: signMethod,
		AccessKey:  accessKey,
		Signature:  signature,
	}
	mac, hash, err := ParseSignMethod(signMethod)
	if err != nil {
		return p, err
	}
	p.Mac, p.Hash = mac, hash
	return p, nil
}

// AccessKeyMaxLen is the longest access key Backend.AI stores (keypairs.access_key is
// varchar(20)).
const AccessKeyMaxLen = 20

// ValidAccessKey reports whether s can be an access key: 1 to AccessKeyMaxLen printable ASCII
// characters without spaces. A key that is not valid cannot exist, so callers answer "Access
// key not found" without looking it up.
func ValidAccessKey(s string) bool {
	return s != "" && len(s) <= AccessKeyMaxLen && printableASCII(s)
}

// printableASCII reports whether every byte of s is a printable, non-space ASCII character.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// ParseSignMethod splits a signMethod such as "HMAC-SHA256" into its
// lowercased MAC and hash names ("hmac", "sha256").
//
// A value that does not have exactly two '-'-separated parts yields
// ReasonInvalidSignature (KindAuthFailed, "Invalid signature"), as in the
// manager. A MAC other than HMAC yields ReasonUnsupportedMAC and an unknown
// hash yields ReasonUnsupportedHash (both KindInvalidParams). Hash names are
// Python hashlib names, so SHA3-256 is written "HMAC-SHA3_256".
func ParseSignMethod(signMethod string) (mac, hash string, err error) {
	parts := strings.Split(signMethod, "-")
	if len(parts) != 2 {
		return "", "", newError(ReasonInvalidSignature, "signMethod "+quote(signMethod)+" is not <mac>-<hash>")
	}
	mac, hash = strings.ToLower(parts[0]), strings.ToLower(parts[1])
	if mac != "hmac" {
		return "", "", newError(ReasonUnsupportedMAC, "MAC "+quote(mac))
	}
	if !pythonGuaranteedHash(hash) {
		return "", "", newError(ReasonUnsupportedHash, "hash "+quote(hash))
	}
	if !HashSupported(hash) {
		return "", "", newError(ReasonUnsupportedHash, "hash "+quote(hash)+" is not implemented by Hangar")
	}
	return mac, hash, nil
}

// FormatAuthorization builds the Authorization header value for a signed
// request, e.g. "BackendAI signMethod=HMAC-SHA256, credential=AK:sig".
func FormatAuthorization(signMethod, accessKey, signature string) string {
	return "BackendAI signMethod=" + signMethod + ", credential=" + accessKey + ":" + signature
}

// pyStrip trims the characters Python's str.strip() removes: Unicode white
// space plus the ASCII separators U+001C to U+001F.
func pyStrip(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
	})
}

// quote formats s for an error detail, truncating very long values.
func quote(s string) string {
	const limit = 64
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return strconv.Quote(s)
}
