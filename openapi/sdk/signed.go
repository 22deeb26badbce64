package sdk

import (
	"time"

	"github.com/hangar-run/hangar/internal/auth"
)

// APIVersion is the X-BackendAI-Version the SDK sends.
const APIVersion = "v8.20240315"

// NewSigned returns a client for endpoint whose requests are signed with creds. Extra options
// (e.g. WithHTTPClient) are applied after the signer; now may be overridden with WithClock.
func NewSigned(endpoint string, creds auth.Credentials, opts ...ClientOption) (*ClientWithResponses, error) {
	all := append([]ClientOption{WithRequestEditorFn(creds.RequestEditor(APIVersion, time.Now))}, opts...)
	return NewClientWithResponses(endpoint, all...)
}

// NewSignedAt is NewSigned with an injected clock, for tests of clock skew.
func NewSignedAt(endpoint string, creds auth.Credentials, now func() time.Time, opts ...ClientOption) (*ClientWithResponses, error) {
	all := append([]ClientOption{WithRequestEditorFn(creds.RequestEditor(APIVersion, now))}, opts...)
	return NewClientWithResponses(endpoint, all...)
}
