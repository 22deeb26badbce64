package agentrpc

import (
	"context"
	"testing"
)

// BenchmarkPingRoundTrip measures ping round trips over TCP on 127.0.0.1 through a real
// server and client: "window1" one call at a time, "parallel" with many goroutines sharing
// one client (b.SetParallelism(32), i.e. 32 × GOMAXPROCS callers).
func BenchmarkPingRoundTrip(b *testing.B) {
	s := startServer(b, newFakeHandler(), ServerOptions{})
	c := dial(b, s.Addr(), ClientOptions{})
	ctx := context.Background()
	req := &PingRequest{Payload: "0123456789abcdef0123456789abcd"}
	if _, err := c.Ping(ctx, req); err != nil {
		b.Fatal(err)
	}

	b.Run("window1", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Ping(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Ping(ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
