package auth

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"fmt"
)

// GenerateKeypair creates a new random keypair in Backend.AI's format. The
// access key is "AKIA" followed by the unpadded upper-case base32 encoding
// of 10 random bytes (20 characters in all). The secret key is the unpadded
// URL-safe base64 encoding of 30 random bytes (40 characters).
func GenerateKeypair() (access, secret string, err error) {
	var ab [10]byte
	if _, err := rand.Read(ab[:]); err != nil {
		return "", "", fmt.Errorf("auth: generate access key: %w", err)
	}
	var sb [30]byte
	if _, err := rand.Read(sb[:]); err != nil {
		return "", "", fmt.Errorf("auth: generate secret key: %w", err)
	}
	access = "AKIA" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(ab[:])
	secret = base64.RawURLEncoding.EncodeToString(sb[:])
	return access, secret, nil
}
