package supervisor

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reverb-go/reverb/internal/testsvc"
	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/phptest"
	"github.com/reverb-go/reverb/server/cluster"
	"github.com/reverb-go/reverb/server/cluster/redis"
	"github.com/reverb-go/reverb/supervisor/hub"
)

func TestNodeTransportWithoutScaling(t *testing.T) {
	local := cluster.NewLocal()
	p := &laravelcfg.Project{}
	tr, err := nodeTransport(p, local, nil)
	if err != nil || tr != cluster.Transport(local) {
		t.Fatalf("nodeTransport = %v, %v; want the local transport", tr, err)
	}
	if tr, err := nodeTransport(p, nil, nil); err != nil || tr != nil {
		t.Fatalf("single process: %v, %v; want nil (server.New picks Local)", tr, err)
	}
	p.Reverb.Server.Scaling = laravelcfg.Scaling{Enabled: true, Server: laravelcfg.RedisServer{URL: "http://nope"}}
	if _, err := nodeTransport(p, nil, nil); err == nil {
		t.Fatal("bad scaling.server accepted")
	}
	p.Reverb.Server.Scaling = laravelcfg.Scaling{Enabled: true, Connection: "ha", ConnectionFrom: "REVERB_SCALING_CONNECTION"}
	p.Config = phptest.Arr("database", phptest.Arr("redis", phptest.Arr("default", phptest.Arr("host", "127.0.0.1"))))
	if _, err := nodeTransport(p, nil, nil); err == nil || !strings.Contains(err.Error(), "scaling connection [ha] (REVERB_SCALING_CONNECTION)") {
		t.Fatalf("missing scaling connection: %v", err)
	}
}

// REVERB_SCALING_CONNECTION names a Sentinel connection of
// config/database.php: the node scales through the sentinel's master.
func TestNodeTransportScalingConnection(t *testing.T) {
	s := testsvc.StartSentinel(t, testsvc.SentinelOptions{})
	p := &laravelcfg.Project{Config: phptest.Arr("database", phptest.Arr("redis", phptest.Arr("client", "predis",
		"ha", phptest.Arr(0, "tcp://"+s.SentinelAddr(), "options", phptest.Arr("replication", "sentinel", "service", s.Service()))))),
	}
	p.Reverb.Server.Scaling = laravelcfg.Scaling{Enabled: true, Channel: "sup-ha", Connection: "ha", ConnectionFrom: "REVERB_SCALING_CONNECTION"}
	tr, err := nodeTransport(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rt := tr.(*redis.Transport)
	defer rt.Close()
	if w := rt.Where(); w != "sentinel "+s.Service()+" via "+s.SentinelAddr() {
		t.Errorf("Where() = %q", w)
	}
	got := make(chan string, 1)
	if err := rt.Start(context.Background(), func(m []byte) { got <- string(m) }); err != nil {
		t.Fatal(err)
	}
	if n, err := rt.Publish(context.Background(), []byte("hello")); err != nil || n != 1 {
		t.Fatalf("Publish = %d, %v", n, err)
	}
	select {
	case m := <-got:
		if m != "hello" {
			t.Fatalf("got %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing delivered through Sentinel's master")
	}
}

// With scaling on, each node is a Redis transport, and the hub's node_gone
// notices (a local worker died) are passed on to the cluster.
func TestNodeTransportForwardsNodeGone(t *testing.T) {
	port := testsvc.StartRedis(t).Port
	p := &laravelcfg.Project{}
	p.Reverb.Server.Scaling = laravelcfg.Scaling{Enabled: true, Channel: "sup-test",
		Server: laravelcfg.RedisServer{Host: "127.0.0.1", Port: strconv.Itoa(port), Timeout: 60}}
	local := cluster.NewLocal()
	tr, err := nodeTransport(p, local, nil)
	if err != nil {
		t.Fatal(err)
	}
	rt, ok := tr.(*redis.Transport)
	if !ok {
		t.Fatalf("transport %T, want *redis.Transport", tr)
	}
	defer rt.Close()
	got := make(chan string, 10)
	if err := rt.Start(context.Background(), func(m []byte) { got <- string(m) }); err != nil {
		t.Fatal(err)
	}
	_, _ = local.Publish(context.Background(), []byte(`{"type":"reverb-go:heartbeat","node":"x"}`))
	gone := hub.NodeGoneMessage("worker-7")
	_, _ = local.Publish(context.Background(), gone)
	// On the Redis channel a Go-only message carries an empty application,
	// for the PHP Reverb nodes that may share it.
	want := `{"application":"",` + string(gone[1:])
	select {
	case m := <-got:
		if m != want {
			t.Fatalf("forwarded %s, want only %s", m, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("node_gone not forwarded to Redis")
	}
}

// scaling.routing = interest: the node's transport routes by interest.
func TestNodeTransportInterestRouting(t *testing.T) {
	r := testsvc.StartRedis(t)
	p := &laravelcfg.Project{}
	p.Reverb.Server.Scaling = laravelcfg.Scaling{Enabled: true, Channel: "sup-routing", Routing: laravelcfg.RoutingInterest,
		Server: laravelcfg.RedisServer{Host: "127.0.0.1", Port: strconv.Itoa(r.Port)}}
	tr, err := nodeTransport(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	rt, ok := tr.(cluster.Router)
	if !ok {
		t.Fatalf("transport %T is not a cluster.Router", tr)
	}
	if !rt.Ordered() {
		t.Error("one Redis server: topics and control share one order")
	}
}
