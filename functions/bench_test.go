package functions_test

import (
	"io"
	"net/http"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/hangar-run/hangar/functions"
	"github.com/hangar-run/hangar/functions/functionstest"
	"github.com/hangar-run/hangar/internal/cache"
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

// BenchmarkSessionInfo measures a signed GET /session/{id} of a PENDING session through the
// whole pipeline over loopback HTTP, 32 concurrent clients: authentication, the Redis
// rate-limit script, the session lookup and the idle report; "cached" with the API's lookup
// cache (as `hangar api` runs), "uncached" without. Besides ns/op it reports cpu-ns/op, the
// CPU time (user and system) this process spent per request; the process includes the
// clients (signing, HTTP client), so it is an upper bound of the API's share.
func BenchmarkSessionInfo(b *testing.B) {
	for _, cached := range []bool{false, true} {
		name := "uncached"
		if cached {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) { benchSessionInfo(b, cached) })
	}
}

func benchSessionInfo(b *testing.B, cached bool) {
	env := functionstest.New(b, testOps, func(s *functions.Server) {
		if cached {
			s.Deps().Cache = cache.New(cache.Options{})
		}
	})
	res := env.Do(b, http.MethodPost, "/session", map[string]any{"image": "python", "name": "bench", "enqueueOnly": true}, &functionstest.User)
	res.RequireStatus(b, http.StatusCreated)
	var created struct {
		SessionID string `json:"sessionId"`
	}
	res.JSON(b, &created)
	url := env.HTTP.URL + "/session/" + created.SessionID
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.SetParallelism(32 / max(1, runtime.GOMAXPROCS(0)))
	cpu0 := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
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
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is the CPU time (user plus system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
