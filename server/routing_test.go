package server

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/cluster"
)

// routedTests makes twoNodes and testBusNodes use a routed bus: the
// cluster tests below run again in the interest-routed mode. Tests of this
// package do not run in parallel.
var routedTests bool

func routed(t *testing.T) {
	routedTests = true
	t.Cleanup(func() { routedTests = false })
}

// The cluster tests of the classic mode, in the interest-routed mode: the
// same answers whichever node a client or the API talks to.
func TestRoutedClusterSuite(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"Presence", TestClusterPresence},
		{"Broadcast", TestClusterBroadcast},
		{"CacheAndUsers", TestClusterCacheAndUsers},
		{"DrainKeepsPresenceUntilEnd", TestDrainKeepsPresenceUntilEnd},
		{"DrainDeliversAcceptedEvents", TestDrainDeliversAcceptedEvents},
		{"WebhooksExactlyOnce", TestWebhooksExactlyOnceAcrossNodes},
		{"EventsToUser", TestEventsToUserReachEverySignedInSocket},
	} {
		t.Run(tc.name, func(t *testing.T) {
			routed(t)
			tc.fn(t)
		})
	}
}

func TestChannelTopicRoundTrip(t *testing.T) {
	for _, tc := range [][2]string{{"123456", "private-a:b"}, {"a:b", "c"}, {"", "x"}, {"7", ""}} {
		app, ch, ok := parseChannelTopic(channelTopic(tc[0], tc[1]))
		if !ok || app != tc[0] || ch != tc[1] {
			t.Errorf("%q %q → %q %q %v", tc[0], tc[1], app, ch, ok)
		}
	}
	for _, bad := range []string{"n:x", "c:", "c:5:abc", "c:x:abc", "c:-1:a"} {
		if _, _, ok := parseChannelTopic(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// countingRouter counts the broadcasts ("message") a node receives.
type countingRouter struct {
	cluster.Router
	messages atomic.Int64
}

func (c *countingRouter) Start(ctx context.Context, deliver func([]byte)) error {
	return c.Router.Start(ctx, func(m []byte) {
		if bytes.Contains(m, []byte(`"type":"message"`)) {
			c.messages.Add(1)
		}
		deliver(m)
	})
}

// A node receives only the broadcasts of channels it has subscribers on;
// it stops wanting a channel's topic when its last subscriber leaves.
func TestRoutedOnlyInterestedNodesReceive(t *testing.T) {
	bus := cluster.NewRoutedBus()
	var trs []*countingRouter
	var nodes []*testServer
	for _, id := range []string{"n1", "n2", "n3"} {
		tr := &countingRouter{Router: bus.Node()}
		trs = append(trs, tr)
		nodes = append(nodes, startServer(t, Options{Transport: tr, NodeID: id}))
	}
	a := nodes[0].dial(t, "reverb-key")
	a.subscribe("news", "", "")
	a.subscribed("news")
	b := nodes[1].dial(t, "reverb-key")
	b.subscribe("news", "", "")
	b.subscribed("news")
	for i := 0; i < 5; i++ {
		nodes[2].trigger(t, "123456", "e", strconv.Itoa(i), "news")
		a.expect(`{"event":"e","data":"` + strconv.Itoa(i) + `","channel":"news"}`)
		b.expect(`{"event":"e","data":"` + strconv.Itoa(i) + `","channel":"news"}`)
	}
	// Client events too: from node 1 to node 2 only.
	a.send(`{"event":"client-w","channel":"news","data":{}}`)
	b.expect(`{"event":"client-w","channel":"news","data":{}}`)
	if got := []int64{trs[0].messages.Load(), trs[1].messages.Load(), trs[2].messages.Load()}; got[2] != 0 || got[0] != 6 || got[1] != 6 {
		t.Fatalf("broadcasts received per node: %v, want [6 6 0]", got)
	}
	topic := channelTopic("123456", "news")
	if n := bus.Subscribers(topic); n != 2 {
		t.Fatalf("%d nodes subscribed to %s", n, topic)
	}
	b.send(`{"event":"pusher:unsubscribe","data":{"channel":"news"}}`)
	waitFor(t, "node 2 drops the topic", func() bool { return bus.Subscribers(topic) == 1 })
}

// A subscriber is acknowledged only once its node receives the channel's
// topic, and then misses nothing published after the acknowledgement,
// while events flow the whole time.
func TestRoutedGainingInterestLosesNothing(t *testing.T) {
	bus := cluster.NewRoutedBus()
	na := startServer(t, Options{Transport: bus.Node(), NodeID: "node-a"})
	nb := startServer(t, Options{Transport: bus.Node(), NodeID: "node-b"})
	watch := na.dial(t, "reverb-key")
	watch.subscribe("flow", "", "")
	watch.subscribed("flow")
	bus.SetSubscribeDelay(150 * time.Millisecond)

	var published atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			published.Store(int64(i)) // when it starts: see the redis package's test
			if err := (backend{na.s}).Publish(context.Background(), na.app("123456"), apiEvent("seq", strconv.Itoa(i), "", "flow")); err != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	c := nb.dial(t, "reverb-key")
	start := time.Now()
	c.subscribe("flow", "", "")
	c.subscribed("flow")
	acked := published.Load()
	if time.Since(start) < 100*time.Millisecond {
		t.Fatalf("acknowledged after %v, before the topic was live", time.Since(start))
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	last := published.Load()
	next := int64(-1)
	for next <= last {
		var ev struct{ Data string }
		_ = json.Unmarshal([]byte(c.read()), &ev)
		n, _ := strconv.ParseInt(ev.Data, 10, 64)
		if next < 0 {
			if n > acked+1 {
				t.Fatalf("first event %d, but %d was published after the acknowledgement", n, acked+1)
			}
			next = n
		}
		if n != next {
			t.Fatalf("got event %d, want %d (acknowledged at %d)", n, next, acked)
		}
		next++
	}
}

// Presence and cache channels wait for the topic too: the held subscriber
// gets the members as of its acknowledgement, and the last event from the
// node that has it.
func TestRoutedHeldPresenceAndCache(t *testing.T) {
	bus := cluster.NewRoutedBus()
	na := startServer(t, Options{Transport: bus.Node(), NodeID: "node-a"})
	nb := startServer(t, Options{Transport: bus.Node(), NodeID: "node-b"})
	a := na.dial(t, "reverb-key")
	a.subscribe("presence-cache-room", `{"user_id":1}`, "reverb-secret")
	a.expectContains(`subscription_succeeded`)
	a.expect(`{"event":"pusher:cache_miss","channel":"presence-cache-room"}`)
	na.trigger(t, "123456", "e", "d", "presence-cache-room")
	a.expect(`{"event":"e","data":"d","channel":"presence-cache-room"}`)

	bus.SetSubscribeDelay(100 * time.Millisecond)
	b := nb.dial(t, "reverb-key")
	b.subscribe("presence-cache-room", `{"user_id":2}`, "reverb-secret")
	b.expectContains(`\"count\":2`)
	b.expect(`{"event":"e","data":"d","channel":"presence-cache-room"}`)
	a.expect(`{"event":"pusher_internal:member_added","data":"{\"user_id\":2}","channel":"presence-cache-room"}`)
	na.trigger(t, "123456", "e2", "d2", "presence-cache-room")
	b.expect(`{"event":"e2","data":"d2","channel":"presence-cache-room"}`)

	// A cache channel nobody published on: cache_miss once the others said
	// they have nothing.
	c := nb.dial(t, "reverb-key")
	c.subscribe("cache-empty", "", "")
	c.subscribed("cache-empty")
	c.expect(`{"event":"pusher:cache_miss","channel":"cache-empty"}`)
}

// Unsubscribing before the acknowledgement: nothing is sent later.
func TestRoutedUnsubscribeWhileHeld(t *testing.T) {
	bus := cluster.NewRoutedBus()
	bus.SetSubscribeDelay(100 * time.Millisecond)
	ts := startServer(t, Options{Transport: bus.Node(), NodeID: "node-a"})
	c := ts.dial(t, "reverb-key")
	c.subscribe("gone", "", "")
	c.send(`{"event":"pusher:unsubscribe","data":{"channel":"gone"}}`)
	time.Sleep(200 * time.Millisecond)
	c.send(`{"event":"pusher:ping"}`)
	c.expect(`{"event":"pusher:pong"}`)
}

// A PHP Reverb node (a listener that sends no heartbeats) or a node in the
// classic mode on the control channel is reported.
func TestRoutedWarnsAboutMixedFleet(t *testing.T) {
	bus := cluster.NewRoutedBus()
	log := &lockedBuffer{}
	startServer(t, Options{Transport: bus.Node(), NodeID: "node-a", ErrorLog: log, HeartbeatInterval: 20 * time.Millisecond})
	classic := bus.Node()
	_ = classic.Start(context.Background(), func([]byte) {})
	defer classic.Close()
	hb, _ := json.Marshal(envelope{Type: typeHeartbeat, Node: "old-node", HB: 1})
	if _, err := classic.Publish(context.Background(), hb); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the classic node reported", func() bool { return strings.Contains(log.String(), "node old-node uses the classic routing") })
	// The silent listener (the classic transport above never sends
	// another heartbeat: once forgotten it counts as foreign).
	waitFor(t, "a foreign subscriber reported", func() bool { return strings.Contains(log.String(), "are not nodes of this server") })
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A subscription count decided while subscribers wait for their channel's
// topic skips them; they get the latest with their acknowledgement, as in
// the classic routing a new subscriber gets the count after it.
func TestRoutedHeldSubscribersGetTheCount(t *testing.T) {
	bus := cluster.NewRoutedBus()
	bus.SetSubscribeDelay(400 * time.Millisecond)
	app := appWith(func(a *laravelcfg.App) { a.SubscriptionCount = true })
	n1 := startServer(t, Options{Apps: []laravelcfg.App{app}, Transport: bus.Node(), NodeID: "n1"})
	n2 := startServer(t, Options{Apps: []laravelcfg.App{app}, Transport: bus.Node(), NodeID: "n2"})
	count := `{"event":"pusher_internal:subscription_count","data":"{\"subscription_count\":2}","channel":"news"}`
	a := n1.dial(t, "reverb-key")
	b := n2.dial(t, "reverb-key")
	a.subscribe("news", "", "")
	b.subscribe("news", "", "")
	for _, c := range []*client{a, b} {
		c.subscribed("news")
		got := c.expectContains("subscription_count")
		for !strings.Contains(got, `\"subscription_count\":2`) {
			got = c.expectContains("subscription_count")
		}
		if got != count {
			t.Errorf("got %s, want %s", got, count)
		}
	}
}
