package redis

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPublishToPeer: one node publishes, another receives, through
// a real redis-server (one PUBLISH round trip per message, sequential).
func BenchmarkPublishToPeer(b *testing.B) {
	r := startRedisB(b)
	var got atomic.Int64
	done := make(chan struct{})
	target := int64(b.N)
	peer, err := New(Options{Server: serverFor(r), Channel: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer peer.Close()
	if err := peer.Start(context.Background(), func([]byte) {
		if got.Add(1) == target {
			close(done)
		}
	}); err != nil {
		b.Fatal(err)
	}
	pub, err := New(Options{Server: serverFor(r), Channel: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Start(context.Background(), func([]byte) {}); err != nil {
		b.Fatal(err)
	}
	msg := []byte(`{"type":"message","application":"x","payload":{"event":"e","channels":["c"],"data":"{}"}}`)
	b.ResetTimer()
	for range b.N {
		if _, err := pub.Publish(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		b.Fatalf("delivered %d of %d", got.Load(), b.N)
	}
}
