package redis

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reverb-go/reverb/internal/testsvc"
	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/redisconn"
)

// BenchmarkPublishToPeer: one node publishes, another receives, through
// a real redis-server (one PUBLISH round trip per message, sequential).
func BenchmarkPublishToPeer(b *testing.B) {
	r := startRedisB(b)
	d, err := redisconn.FromReverbServer(laravelcfg.RedisServer{Host: "127.0.0.1", Port: strconv.Itoa(r.Port)})
	if err != nil {
		b.Fatal(err)
	}
	benchPublish(b, d)
}

// BenchmarkPublishToPeerCluster: the same on a 3-master Redis Cluster
// (PUBLISH goes to the master of the channel's slot, found in the
// client's slot map on every publish).
func BenchmarkPublishToPeerCluster(b *testing.B) {
	c := testsvc.StartCluster(b, testsvc.ClusterOptions{ReplicasPerMaster: -1})
	benchPublish(b, &redisconn.Deployment{Mode: redisconn.Cluster, Network: "tcp", Addrs: c.Addrs()})
}

// BenchmarkPublishToPeerSentinel: the same through Sentinel's master.
func BenchmarkPublishToPeerSentinel(b *testing.B) {
	s := testsvc.StartSentinel(b, testsvc.SentinelOptions{})
	benchPublish(b, &redisconn.Deployment{Mode: redisconn.Sentinel, Network: "tcp", Addrs: []string{s.SentinelAddr()}, Service: s.Service()})
}

func benchPublish(b *testing.B, d *redisconn.Deployment) {
	var got atomic.Int64
	done := make(chan struct{})
	target := int64(b.N)
	peer, err := New(Options{Redis: d, Channel: "bench"})
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
	pub, err := New(Options{Redis: d, Channel: "bench"})
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
