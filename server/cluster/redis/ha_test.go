package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/reverb-go/reverb/internal/testsvc"
	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/phptest"
	"github.com/reverb-go/reverb/laravelcfg/redisconn"
)

// Scaling over highly available Redis: two nodes exchange a steady stream
// of messages while the master is killed (or handed over). The nodes
// reconnect by themselves, messages cross between them again within 5 s,
// every message published after the kill reaches the other node exactly
// once and in order (the ones published during the outage wait in the
// queue), and the log tells the story once rather than per attempt.

// haNode is a transport with a log and a record of what it delivered.
type haNode struct {
	name string
	tr   *Transport
	log  *syncBuffer
	// router and topic: the node publishes on topic and wants it (the
	// interest-routed mode), instead of the control channel.
	router *Router
	topic  string

	mu  sync.Mutex
	got map[string][]int // publisher → sequence numbers delivered, in order
	at  map[string]time.Time
}

func startHANode(t *testing.T, d *redisconn.Deployment, name string) *haNode {
	t.Helper()
	n := &haNode{name: name, log: &syncBuffer{}, got: map[string][]int{}, at: map[string]time.Time{}}
	tr, err := New(Options{Redis: d, Channel: "reverb", Log: n.log, StartWait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	n.tr = tr
	t.Cleanup(func() { _ = tr.Close() })
	if err := tr.Start(context.Background(), n.deliver); err != nil {
		t.Fatal(err)
	}
	return n
}

// deliver records "from:seq" messages.
func (n *haNode) deliver(m []byte) {
	from, seq, ok := strings.Cut(string(m), ":")
	if !ok {
		return
	}
	i, _ := strconv.Atoi(seq)
	n.mu.Lock()
	n.got[from] = append(n.got[from], i)
	n.at[string(m)] = time.Now()
	n.mu.Unlock()
}

// publisher sends "name:1", "name:2", ... every period until stopped, and
// remembers when each was accepted.
type publisher struct {
	n      *haNode
	mu     sync.Mutex
	sent   []time.Time // index seq-1
	stop   chan struct{}
	done   chan struct{}
	errors int
}

func (n *haNode) publishEvery(period time.Duration) *publisher {
	p := &publisher{n: n, stop: make(chan struct{}), done: make(chan struct{})}
	go func() { // owned by the test: stopped by halt
		defer close(p.done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for seq := 1; ; seq++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			var err error
			if n.router != nil {
				_, err = n.router.PublishTo(ctx, n.topic, []byte(n.name+":"+strconv.Itoa(seq)))
			} else {
				_, err = n.tr.Publish(ctx, []byte(n.name+":"+strconv.Itoa(seq)))
			}
			cancel()
			p.mu.Lock()
			if err != nil {
				p.errors++
			}
			p.sent = append(p.sent, time.Now())
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *publisher) halt() int {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sent)
}

// firstAfter is the first sequence number accepted at or after t.
func (p *publisher) firstAfter(t time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, at := range p.sent {
		if !at.Before(t) {
			return i + 1
		}
	}
	return len(p.sent) + 1
}

// checkStream verifies that receiver got from's messages first..last in
// order, at most allowLoss of them missing and none more than twice, and
// returns how many were lost and how many came twice. A message whose
// PUBLISH was on the wire when the connection failed is sent again (its
// reply never came), so it may arrive twice, next to itself.
func checkStream(t *testing.T, receiver, sender *haNode, first, last, allowLoss int) (lost, dup int) {
	t.Helper()
	from := sender.name
	waitFor(t, fmt.Sprintf("%s delivers %s up to %d", receiver.name, from, last), func() bool {
		receiver.mu.Lock()
		defer receiver.mu.Unlock()
		g := receiver.got[from]
		return len(g) > 0 && g[len(g)-1] >= last
	})
	receiver.mu.Lock()
	defer receiver.mu.Unlock()
	prev, n := first-1, 0
	for _, s := range receiver.got[from] {
		switch {
		case s < first:
			continue
		case s == prev:
			dup++
			continue
		case s < prev:
			t.Fatalf("%s got %s:%d after %s:%d: out of order", receiver.name, from, s, from, prev)
		}
		prev = s
		if s <= last {
			n++
		}
	}
	lost = last - first + 1 - n
	if lost > allowLoss || dup > 2 {
		// Which ones, when their neighbours arrived, and what both nodes
		// logged: a rare loss must be explainable from the failure alone.
		seen := map[int]bool{}
		for _, s := range receiver.got[from] {
			seen[s] = true
		}
		var missing []string
		for s := first; s <= last && len(missing) < 10; s++ {
			if !seen[s] {
				before, after := receiver.at[from+":"+strconv.Itoa(s-1)], receiver.at[from+":"+strconv.Itoa(s+1)]
				missing = append(missing, fmt.Sprintf("%d (neighbours arrived %s, %s)", s,
					before.Format("15:04:05.000"), after.Format("15:04:05.000")))
			}
		}
		t.Fatalf("%s missed %d and got %d twice of %s's %d messages published after the failover began (first %d): missing %s\n%s logged:\n%s\n%s logged:\n%s",
			receiver.name, lost, dup, from, last-first+1, first, strings.Join(missing, ", "),
			receiver.name, receiver.log.String(), sender.name, sender.log.String())
	}
	return lost, dup
}

// interruption is the longest time receiver went without a message from
// from, among those published after kill (the first one counts from kill).
func interruption(receiver *haNode, from string, first, last int, kill time.Time) time.Duration {
	receiver.mu.Lock()
	defer receiver.mu.Unlock()
	prev, longest := kill, time.Duration(0)
	for i := first; i <= last; i++ {
		at, ok := receiver.at[from+":"+strconv.Itoa(i)]
		if !ok {
			continue
		}
		longest = max(longest, at.Sub(prev))
		prev = at
	}
	return longest
}

// checkLogOnce: an outage shows as a handful of lines, not one per retry.
func checkLogOnce(t *testing.T, n *haNode) {
	t.Helper()
	log := n.log.String()
	for _, line := range []string{"Attempting reconnection to Redis (subscriber", "Disconnected from Redis (subscriber"} {
		if c := strings.Count(log, line); c > 1 {
			t.Errorf("%s logged %q %d times:\n%s", n.name, line, c, log)
		}
	}
	if c := strings.Count(log, "\n"); c > 12 {
		t.Errorf("%s logged %d lines for one failover:\n%s", n.name, c, log)
	}
}

// plannedFailoverLoss is what a planned failover may lose per direction:
// the messages published to the new master before a node has moved its
// subscription there, at 100 per second. The move takes ~10 ms on a quiet
// machine (0–1 lost) and was seen to take ~70 ms on a loaded one.
const plannedFailoverLoss = 20

// runFailover drives traffic between a and b, calls fail, and checks
// recovery; it returns how long cross-node delivery was interrupted and
// how many messages were lost (at most allowLoss per direction).
func runFailover(t *testing.T, a, b *haNode, allowLoss int, fail func()) (time.Duration, int) {
	t.Helper()
	pa, pb := a.publishEvery(10*time.Millisecond), b.publishEvery(10*time.Millisecond)
	waitFor(t, "traffic flowing both ways", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(a.got["b"]) > 20 && len(b.got["a"]) > 20
	})
	kill := time.Now()
	fail()
	// Losses count from when fail returned (a killed master is dead by
	// then): a message the old master acknowledged in its last moment may
	// not have been written to the other node yet, and Redis pub/sub
	// keeps nothing across a crash. What is published after that must
	// all arrive.
	failed := time.Now()
	firstA, firstB := pa.firstAfter(failed), pb.firstAfter(failed)
	// Both nodes resubscribed and ready to publish directly again.
	waitFor(t, "both nodes back on Redis", func() bool {
		for _, n := range []*haNode{a, b} {
			n.tr.mu.Lock()
			ok := n.tr.subUp && n.tr.flushReady && !n.tr.pubBroken && len(n.tr.queue) == 0
			if n.router != nil {
				ok = ok && n.tr.liveNameLocked(n.tr.nameOf(n.topic))
			}
			n.tr.mu.Unlock()
			if !ok {
				return false
			}
		}
		return true
	})
	time.Sleep(300 * time.Millisecond) // some traffic after the reconnection
	lastA, lastB := pa.halt(), pb.halt()
	lostB, dupB := checkStream(t, b, a, firstA, lastA, allowLoss)
	lostA, dupA := checkStream(t, a, b, firstB, lastB, allowLoss)
	lost := lostA + lostB
	if dup := dupA + dupB; dup > 0 {
		t.Logf("%d message(s) in flight at the failure arrived twice", dup)
	}
	gap := max(interruption(b, "a", firstA, lastA, kill), interruption(a, "b", firstB, lastB, kill))
	if gap > 5*time.Second {
		t.Errorf("messages crossed between the nodes again only %v after the failover began (want within 5s)", gap)
	}
	for _, n := range []*haNode{a, b} {
		checkLogOnce(t, n)
	}
	// The nodes count each other again.
	if n, err := a.tr.Publish(context.Background(), []byte("count")); err != nil || n != 2 {
		t.Errorf("PUBLISH after the failover reaches %d nodes, %v; want 2", n, err)
	}
	return gap, lost
}

func sentinelDeployment(t *testing.T, s *testsvc.SentinelSet, password string) *redisconn.Deployment {
	t.Helper()
	p := &laravelcfg.Project{Config: phptest.Arr("database", phptest.Arr("redis", phptest.Arr(
		"client", "predis",
		"ha", phptest.Arr(0, "tcp://"+s.SentinelAddr(),
			"options", phptest.Arr("replication", "sentinel", "service", s.Service(), "parameters", phptest.Arr("password", password))),
	)))}
	d, err := redisconn.Resolve(p, "ha")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSentinelMasterKilledMidTraffic(t *testing.T) {
	s := testsvc.StartSentinel(t, testsvc.SentinelOptions{Password: "data-pw"})
	d := sentinelDeployment(t, s, "data-pw")
	a, b := startHANode(t, d, "a"), startHANode(t, d, "b")
	gap, _ := runFailover(t, a, b, 0, func() { s.KillMaster() })
	t.Logf("Sentinel, master killed: messages stopped crossing between the nodes for %v", gap.Round(10*time.Millisecond))
}

func TestSentinelPlannedFailover(t *testing.T) {
	s := testsvc.StartSentinel(t, testsvc.SentinelOptions{})
	d := sentinelDeployment(t, s, "")
	a, b := startHANode(t, d, "a"), startHANode(t, d, "b")
	old := s.MasterAddr()
	// A planned failover keeps both servers up: a node moves its
	// subscription the moment the sentinel announces the switch, and a
	// message published to the new master in that moment may miss it.
	gap, lost := runFailover(t, a, b, plannedFailoverLoss, func() {
		sc := goredis.NewSentinelClient(&goredis.Options{Addr: s.SentinelAddr(), Protocol: 2, DisableIdentity: true})
		defer sc.Close()
		if err := sc.Failover(context.Background(), s.Service()).Err(); err != nil {
			t.Fatal(err)
		}
		s.WaitFailover(old, 30*time.Second)
		// Both subscriptions move to the new master.
		waitFor(t, "subscriptions on the new master", func() bool {
			return a.tr.subscribedOn() == s.MasterAddr() && b.tr.subscribedOn() == s.MasterAddr()
		})
	})
	t.Logf("Sentinel, planned failover: longest interruption %v, %d messages lost", gap.Round(10*time.Millisecond), lost)
	if !strings.Contains(a.log.String(), "moved from "+old) {
		t.Errorf("the log does not say the subscription moved:\n%s", a.log)
	}
}

func clusterDeployment(t *testing.T, c *testsvc.ClusterSet) *redisconn.Deployment {
	t.Helper()
	var nodes []any
	for _, a := range c.Addrs() {
		host, port, _ := strings.Cut(a, ":")
		nodes = append(nodes, phptest.Arr("host", host, "port", port))
	}
	p := &laravelcfg.Project{Config: phptest.Arr("database", phptest.Arr("redis", phptest.Arr(
		"client", "phpredis",
		"options", phptest.Arr("cluster", "redis", "password", "cluster-pw"),
		"clusters", phptest.Arr("scaling", phptest.List(nodes...)),
	)))}
	d, err := redisconn.Resolve(p, "scaling")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestClusterMasterKilledMidTraffic(t *testing.T) {
	c := testsvc.StartCluster(t, testsvc.ClusterOptions{Password: "cluster-pw"})
	d := clusterDeployment(t, c)
	a, b := startHANode(t, d, "a"), startHANode(t, d, "b")
	if on := a.tr.subscribedOn(); on != c.MasterOf("reverb") {
		t.Fatalf("subscribed on %s, the channel's slot is served by %s", on, c.MasterOf("reverb"))
	}
	gap, _ := runFailover(t, a, b, 0, func() { c.KillMasterOf("reverb") })
	t.Logf("Cluster, master killed: messages stopped crossing between the nodes for %v", gap.Round(10*time.Millisecond))
}

func TestClusterPlannedFailover(t *testing.T) {
	c := testsvc.StartCluster(t, testsvc.ClusterOptions{Password: "cluster-pw"})
	d := clusterDeployment(t, c)
	a, b := startHANode(t, d, "a"), startHANode(t, d, "b")
	gap, lost := runFailover(t, a, b, plannedFailoverLoss, func() {
		old := c.FailoverMasterOf("reverb")
		c.WaitNewMaster("reverb", old, 30*time.Second)
	})
	t.Logf("Cluster, CLUSTER FAILOVER: longest interruption %v, %d messages lost", gap.Round(10*time.Millisecond), lost)
}

// subscribedOn is the master the live subscription was made on.
func (t *Transport) subscribedOn() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.subUp {
		return ""
	}
	return t.subAddr
}

// One node's subscriber connection is closed by Redis while Redis stays up
// (CLIENT KILL, a proxy's idle timeout, Redis' pub/sub output buffer
// limit): the other nodes do not notice and keep publishing directly, so
// what they publish until this node has subscribed again never reaches it.
// The node subscribes again at once, not after a backoff: a few messages at
// most are lost, not a backoff's worth.
func TestOneSubscriberKilledResubscribesAtOnce(t *testing.T) {
	r := startRedis(t)
	d, err := redisconn.FromReverbServer(serverFor(r))
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: r.Addr()})
	defer c.Close()
	a := startHANode(t, d, "a")
	aIDs := pubsubClients(t, c) // only a's subscriber so far
	b := startHANode(t, d, "b")
	pb := b.publishEvery(5 * time.Millisecond)
	waitFor(t, "traffic flowing", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.got["b"]) > 20
	})
	kill := time.Now()
	for _, id := range aIDs {
		if err := c.Do(context.Background(), "CLIENT", "KILL", "ID", id).Err(); err != nil {
			t.Fatal(err)
		}
	}
	first := pb.firstAfter(kill)
	waitFor(t, "a subscribed again", func() bool {
		a.tr.mu.Lock()
		defer a.tr.mu.Unlock()
		return a.tr.subUp && strings.Contains(a.log.String(), "Disconnected from Redis (subscriber")
	})
	time.Sleep(200 * time.Millisecond)
	last := pb.halt()
	lost, _ := checkStream(t, a, b, first, last, 1000)
	gap := interruption(a, "b", first, last, kill)
	if lost > 6 || gap > 200*time.Millisecond {
		t.Errorf("a missed %d of b's messages (one every 5ms) and went %v without one after its subscriber was killed; want a prompt resubscription\n%s", lost, gap, a.log.String())
	}
}

// pubsubClients lists the ids of the subscriber connections Redis has.
func pubsubClients(t *testing.T, c *goredis.Client) []string {
	t.Helper()
	out, err := c.Do(context.Background(), "CLIENT", "LIST", "TYPE", "pubsub").Text()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range strings.Fields(out) {
		if id, ok := strings.CutPrefix(f, "id="); ok {
			ids = append(ids, id)
		}
	}
	return ids
}
