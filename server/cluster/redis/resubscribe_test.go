package redis

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/reverb-go/reverb/internal/testsvc"
	"github.com/reverb-go/reverb/laravelcfg/redisconn"
	"github.com/reverb-go/reverb/server/cluster"
)

// A node whose subscriber connection is closed while Redis stays up hears
// from the transport that it subscribed again (cluster.Resubscriber), on
// the delivery goroutine, after what it received before the drop: the
// server then asks the other nodes for the state it may have missed. Alike
// on one server, Sentinel and Cluster (both routings), which share the
// subscriber loop. When Redis itself was away (every node disconnected,
// each holding its queue until the others are back), nothing was missed.

var _ cluster.Resubscriber = (*Transport)(nil)
var _ cluster.Resubscriber = (*Router)(nil)

// resubNode records deliveries and resubscription notices in one order.
type resubNode struct {
	tr  *Transport
	log *syncBuffer

	mu    sync.Mutex
	seq   []string
	drops []cluster.Resubscription
}

func (n *resubNode) add(s string) {
	n.mu.Lock()
	n.seq = append(n.seq, s)
	n.mu.Unlock()
}

func (n *resubNode) index(s string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Index(n.seq, s)
}

func (n *resubNode) count(s string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, x := range n.seq {
		if x == s {
			c++
		}
	}
	return c
}

func startResubNode(t *testing.T, d *redisconn.Deployment, router bool) *resubNode {
	t.Helper()
	n := &resubNode{log: &syncBuffer{}}
	opts := Options{Redis: d, Channel: "reverb", Log: n.log, StartWait: 10 * time.Second}
	if router {
		r, err := NewRouter(opts)
		if err != nil {
			t.Fatal(err)
		}
		n.tr = r.Transport
	} else {
		tr, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		n.tr = tr
	}
	t.Cleanup(func() { _ = n.tr.Close() })
	n.tr.OnResubscribed(func(r cluster.Resubscription) {
		n.mu.Lock()
		n.drops = append(n.drops, r)
		n.mu.Unlock()
		if r.Missed {
			n.add("resubscribed")
		} else {
			n.add("resubscribed, nothing missed")
		}
	})
	if err := n.tr.Start(context.Background(), func(m []byte) { n.add(string(m)) }); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkResubscribed kills node a's subscriber connection on master (the
// server its subscription sits on) and checks the notice and its place.
func checkResubscribed(t *testing.T, d *redisconn.Deployment, master *goredis.Client, router bool) {
	t.Helper()
	others := pubsubClients(t, master) // a sentinel's own, on Sentinel
	a := startResubNode(t, d, router)
	var aIDs []string
	for _, id := range pubsubClients(t, master) {
		if !slices.Contains(others, id) {
			aIDs = append(aIDs, id)
		}
	}
	if len(aIDs) != 1 {
		t.Fatalf("a's subscriber connections on the master: %v, want one", aIDs)
	}
	b := startResubNode(t, d, router)
	ctx := context.Background()
	waitFor(t, "b subscribed", func() bool { return len(pubsubClients(t, master)) == len(others)+2 })
	if _, err := b.tr.Publish(ctx, []byte("before")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a got the message before the drop", func() bool { return a.index("before") >= 0 })
	if err := master.Do(ctx, "CLIENT", "KILL", "ID", aIDs[0]).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a subscribed again", func() bool { return a.index("resubscribed") >= 0 })
	if _, err := b.tr.Publish(ctx, []byte("after")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a got the message after", func() bool { return a.index("after") >= 0 })
	if !(a.index("before") < a.index("resubscribed") && a.index("resubscribed") < a.index("after")) {
		t.Errorf("a's deliveries and notices: %q; want the notice between the message before the drop and the one after", a.seq)
	}
	if n := a.count("resubscribed"); n != 1 {
		t.Errorf("%d notices for one drop: %q", n, a.seq)
	}
	if len(b.drops) != 0 || b.tr.Drops() != 0 {
		t.Errorf("b, whose subscription never dropped, was told it subscribed again: %q", b.seq)
	}
	if a.tr.Drops() != 1 || len(a.drops) != 1 || a.drops[0] != (cluster.Resubscription{Drop: 1, Missed: true}) {
		t.Errorf("a counts %d drops and was told %+v; want one drop, the others went on publishing", a.tr.Drops(), a.drops)
	}
	if !strings.Contains(a.log.String(), "Disconnected from Redis (subscriber") {
		t.Errorf("the drop is not logged:\n%s", a.log)
	}
}

func TestResubscribedNoticeOneServer(t *testing.T) {
	for _, router := range []bool{false, true} {
		r := startRedis(t)
		d, err := redisconn.FromReverbServer(serverFor(r))
		if err != nil {
			t.Fatal(err)
		}
		c := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
		checkResubscribed(t, d, c, router)
		c.Close()
	}
}

func TestResubscribedNoticeSentinel(t *testing.T) {
	s := testsvc.StartSentinel(t, testsvc.SentinelOptions{})
	d := sentinelDeployment(t, s, "")
	c := goredis.NewClient(&goredis.Options{Addr: s.MasterAddr()})
	defer c.Close()
	checkResubscribed(t, d, c, false)
}

func TestResubscribedNoticeCluster(t *testing.T) {
	cs := testsvc.StartCluster(t, testsvc.ClusterOptions{Password: "cluster-pw"})
	d := clusterDeployment(t, cs)
	c := goredis.NewClient(&goredis.Options{Addr: cs.MasterOf("reverb"), Password: "cluster-pw"})
	defer c.Close()
	// The interest routing on Cluster: shard channels for the topics, the
	// control channel (presence, the ledger) on the same subscriber loop.
	checkResubscribed(t, d, c, true)
}

func TestResubscribedAfterARedisRestartMissedNothing(t *testing.T) {
	r := startRedis(t)
	d, err := redisconn.FromReverbServer(serverFor(r))
	if err != nil {
		t.Fatal(err)
	}
	a, b := startResubNode(t, d, false), startResubNode(t, d, false)
	ctx := context.Background()
	for _, n := range []*resubNode{a, b} {
		if _, err := n.tr.Publish(ctx, []byte("hello")); err != nil { // both count 2 receivers
			t.Fatal(err)
		}
	}
	waitFor(t, "both messages everywhere", func() bool { return a.count("hello") == 2 && b.count("hello") == 2 })
	r.Stop()
	time.Sleep(300 * time.Millisecond)
	r.Start()
	waitFor(t, "both subscribed again", func() bool {
		return strings.Count(a.log.String(), "Redis connection established") == 2 &&
			strings.Count(b.log.String(), "Redis connection established") == 2
	})
	if _, err := b.tr.Publish(ctx, []byte("after")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a got the message after", func() bool { return a.index("after") >= 0 })
	time.Sleep(200 * time.Millisecond)
	// Both were disconnected, and each waited for the other before
	// publishing again: neither missed the other's messages.
	if n := a.count("resubscribed, nothing missed") + b.count("resubscribed, nothing missed"); n != 2 || a.count("resubscribed")+b.count("resubscribed") != 0 {
		t.Errorf("%d notices after a restart of Redis: a %q, b %q", n, a.seq, b.seq)
	}
}

// A planned failover moves each node's subscription to the new master; a
// message published there before a node moved missed it: each is told.
func TestResubscribedNoticeAfterAPlannedMove(t *testing.T) {
	s := testsvc.StartSentinel(t, testsvc.SentinelOptions{})
	d := sentinelDeployment(t, s, "")
	a, b := startResubNode(t, d, false), startResubNode(t, d, false)
	old := s.MasterAddr()
	sc := goredis.NewSentinelClient(&goredis.Options{Addr: s.SentinelAddr(), Protocol: 2, DisableIdentity: true})
	defer sc.Close()
	if err := sc.Failover(context.Background(), s.Service()).Err(); err != nil {
		t.Fatal(err)
	}
	s.WaitFailover(old, 30*time.Second)
	waitFor(t, "both told after moving", func() bool { return a.count("resubscribed") == 1 && b.count("resubscribed") == 1 })
}
