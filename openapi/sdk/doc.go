// Package sdk is Hangar's Go client, generated from openapi/openapi-3.0.yaml by oapi-codegen
// (sdk.gen.go; regenerate with `go tool task generate`), plus NewSigned, which signs every
// request with Backend.AI's HMAC scheme through internal/auth.
//
//	c, err := sdk.NewSigned("http://127.0.0.1:8081", auth.Credentials{AccessKey: ak, SecretKey: sk})
//	res, err := c.GetManagerStatusWithResponse(ctx)
package sdk
