// Package auth implements Backend.AI's HMAC request signing for Hangar: the
// server checks signatures with it, and the Go SDK and tests create them.
// It imports no other Hangar package.
//
// # What is signed
//
// A signed request carries a Date header, an X-BackendAI-Version header
// and an Authorization header of the form
//
//	BackendAI signMethod=HMAC-SHA256, credential=<access key>:<signature>
//
// The signature is the lowercase hex HMAC of a seven-line string (see
// StringToSign): the method, the request target exactly as sent (escaped
// path and query), the Date header value exactly as sent, "host:" and the
// Host header, "content-type:" and the media type without parameters,
// "x-backendai-version:" and the version, and the hex digest of an empty
// body. Bodies are never signed: every API version Hangar accepts is past
// the point where Backend.AI stopped hashing them.
//
// # The signing key
//
// The HMAC key is not the secret key itself. It is derived in two steps:
// HMAC(secret, YYYYMMDD), then HMAC of that with the Host header value (see
// SigningKey). The YYYYMMDD is the calendar date written in the Date header,
// in the header's own offset: a request dated 2024-05-01T23:30:00-05:00
// uses 20240501 even though it is already 2 May in UTC. ParseDate therefore
// keeps the offset it parsed.
//
// # Server-side checks
//
// On a protected route the server first checks the date (CheckDate: the
// header must parse and lie strictly within 15 minutes of the server clock),
// then parses the Authorization header (ParseAuthorization), looks up the
// keypair, and finally recomputes and compares the signature in constant
// time (Verify). Every failure is an *Error whose Kind tells the HTTP layer
// whether to answer 400 invalid-auth-params or 401 auth-failed, and whose
// Msg is the exact message Backend.AI clients expect.
//
// # Client side
//
// Credentials.SignRequest signs an outgoing *http.Request the way the
// official Python client does, and Credentials.RequestEditor adapts it to
// generated API clients. GenerateKeypair creates keys in Backend.AI's
// format.
package auth
