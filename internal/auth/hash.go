package auth

import (
	"crypto/md5"  //nolint:gosec // Backend.AI clients may sign with HMAC-MD5.
	"crypto/sha1" //nolint:gosec // Backend.AI clients may sign with HMAC-SHA1.
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"hash"
)

// DefaultHash is the hash algorithm clients use unless configured
// otherwise.
const DefaultHash = "sha256"

// hashFunc returns the constructor of the named hash algorithm. Names are
// the lowercase names Python's hashlib uses. Only the algorithms that both
// Python guarantees and the Go standard library implements are available.
func hashFunc(name string) (func() hash.Hash, bool) {
	switch name {
	case "md5":
		return md5.New, true
	case "sha1":
		return sha1.New, true
	case "sha224":
		return sha256.New224, true
	case "sha256":
		return sha256.New, true
	case "sha384":
		return sha512.New384, true
	case "sha512":
		return sha512.New, true
	case "sha3_224":
		return func() hash.Hash { return sha3.New224() }, true
	case "sha3_256":
		return func() hash.Hash { return sha3.New256() }, true
	case "sha3_384":
		return func() hash.Hash { return sha3.New384() }, true
	case "sha3_512":
		return func() hash.Hash { return sha3.New512() }, true
	default:
		return nil, false
	}
}

// pythonGuaranteedHash reports whether name is in Python's
// hashlib.algorithms_guaranteed, the set the Backend.AI manager accepts.
// The BLAKE2 and SHAKE members are accepted there but not implemented here;
// requests using them are rejected as unsupported.
func pythonGuaranteedHash(name string) bool {
	switch name {
	case "blake2b", "blake2s", "shake_128", "shake_256":
		return true
	}
	_, ok := hashFunc(name)
	return ok
}

// HashSupported reports whether name (a lowercase hashlib name such as
// "sha256") can be used with SigningKey, Signature and Sign.
func HashSupported(name string) bool {
	_, ok := hashFunc(name)
	return ok
}

// mustHash returns the constructor for name, treating "" as DefaultHash.
// It panics on an unsupported name: callers validate names with
// ParseSignMethod or HashSupported first.
func mustHash(name string) func() hash.Hash {
	if name == "" {
		name = DefaultHash
	}
	h, ok := hashFunc(name)
	if !ok {
		panic("auth: unsupported hash algorithm " + name)
	}
	return h
}
