package functions_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/functionstest"
)

// BenchmarkSignedRequest measures one signed request through the whole pipeline over loopback
// HTTP: signing, routing, Date and HMAC verification with the keypair and user loaded from
// PostgreSQL, the Redis rate-limit script, parameter handling and the handler.
func BenchmarkSignedRequest(b *testing.B) {
	env := functionstest.New(b, testOps)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.SetParallelism(16) // 32 concurrent clients on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, env.HTTP.URL+"/t/echo?name=x", nil)
			if err := functionstest.User.SignRequest(req, functions.APIVersion, env.Clock.Now()); err != nil {
				b.Fatal(err)
			}
			res, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	})
}

// BenchmarkPublicRequest is the same path without authentication (GET /), for comparison.
func BenchmarkPublicRequest(b *testing.B) {
	env := functionstest.New(b, testOps)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := client.Get(env.HTTP.URL + "/")
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
}
