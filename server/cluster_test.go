package server

import (
	"context"
	"encoding/json"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reverb-go/reverb/internal/testsvc"
	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server/cluster"
	"github.com/reverb-go/reverb/server/cluster/redis"
)

// Cross-node presence: member_added / member_removed once per user for the
// whole cluster, counts and users cluster-wide (§15 case 48 and the
// README's decision).
func TestClusterPresence(t *testing.T) {
	na, nb := twoNodes(t)
	ch := "presence-room"
	a1 := na.dial(t, "reverb-key")
	a1.subscribe(ch, `{"user_id":1,"user_info":{"n":"a"}}`, "reverb-secret")
	a1.expectContains(`\"count\":1`)

	b1 := nb.dial(t, "reverb-key")
	b1.subscribe(ch, `{"user_id":2}`, "reverb-secret")
	b1.expect(`{"event":"pusher_internal:subscription_succeeded","data":"{\"presence\":{\"count\":2,\"ids\":[1,2],\"hash\":{\"1\":{\"n\":\"a\"},\"2\":null}}}","channel":"presence-room"}`)
	a1.expect(`{"event":"pusher_internal:member_added","data":"{\"user_id\":2}","channel":"presence-room"}`)

	// User 1 again, on node b: no member_added anywhere.
	b2 := nb.dial(t, "reverb-key")
	b2.subscribe(ch, `{"user_id":1,"user_info":{"n":"a"}}`, "reverb-secret")
	b2.expectContains(`\"count\":2`)

	ctx := context.Background()
	for _, n := range []*testServer{na, nb} {
		ids, exists, _ := backend{n.s}.Users(ctx, n.app("123456"), ch)
		if !exists || len(ids) != 2 {
			t.Fatalf("users on %s: %v", n.s.nodeID, ids)
		}
		info, _ := backend{n.s}.Channel(ctx, n.app("123456"), []string{ch})
		if info[0].UserCount != 2 || info[0].SubscriptionCount != 3 {
			t.Fatalf("info on %s: %+v", n.s.nodeID, info[0])
		}
		c, _ := backend{n.s}.Connections(ctx, n.app("123456"))
		if c != 3 {
			t.Fatalf("connections on %s: %d", n.s.nodeID, c)
		}
	}

	// a1 (user 1) leaves: user 1 is still on node b, nothing is sent.
	_ = a1.ws.Close()
	// b2 leaves: now user 1 is gone: b1 is told once.
	time.Sleep(50 * time.Millisecond)
	_ = b2.ws.Close()
	b1.expect(`{"event":"pusher_internal:member_removed","data":"{\"user_id\":1}","channel":"presence-room"}`)
	b1.send(`{"event":"pusher:ping"}`)
	b1.expect(`{"event":"pusher:pong"}`)
}

// Events, exclusion and terminate across nodes.
func TestClusterBroadcast(t *testing.T) {
	na, nb := twoNodes(t)
	a := na.dial(t, "reverb-key")
	b := nb.dial(t, "reverb-key")
	b2 := nb.dial(t, "reverb-key")
	for _, c := range []*client{a, b, b2} {
		c.subscribe("test-channel", "", "")
		c.subscribed("test-channel")
	}
	ctx := context.Background()
	if err := (backend{na.s}).Publish(ctx, na.app("123456"), apiEvent("e", "d", b2.id, "test-channel")); err != nil {
		t.Fatal(err)
	}
	a.expect(`{"event":"e","data":"d","channel":"test-channel"}`)
	b.expect(`{"event":"e","data":"d","channel":"test-channel"}`)
	b2.send(`{"event":"pusher:ping"}`)
	b2.expect(`{"event":"pusher:pong"}`)

	// Whisper from node b reaches node a.
	b.send(`{"event":"client-w","channel":"test-channel","data":{"x":1}}`)
	a.expect(`{"event":"client-w","channel":"test-channel","data":{"x":1}}`)
	b2.expect(`{"event":"client-w","channel":"test-channel","data":{"x":1}}`)

	b.subscribe("private-u", `{"user_id":"9"}`, "reverb-secret")
	b.subscribed("private-u")
	if err := (backend{na.s}).TerminateUser(ctx, na.app("123456"), "9"); err != nil {
		t.Fatal(err)
	}
	if code, _ := b.expectClose(); code != 4009 {
		t.Fatalf("close %d", code)
	}
}

// A node that disappears takes its presence members with it.
func TestClusterNodeGone(t *testing.T) {
	bus := cluster.NewBus()
	na := startServer(t, Options{Transport: bus.Node(), NodeID: "node-a"})
	nbT := bus.Node()
	nb := startServer(t, Options{Transport: nbT, NodeID: "node-b", HeartbeatInterval: time.Hour})
	a := na.dial(t, "reverb-key")
	a.subscribe("presence-r", `{"user_id":1}`, "reverb-secret")
	a.expectContains("subscription_succeeded")
	b := nb.dial(t, "reverb-key")
	b.subscribe("presence-r", `{"user_id":2}`, "reverb-secret")
	b.expectContains("subscription_succeeded")
	a.expectContains("member_added")
	gone, _ := json.Marshal(map[string]string{"type": "reverb-go:node_gone", "node_id": "node-b"})
	_ = nbT.Close()                                       // node b vanishes without a word
	_, _ = bus.Node().Publish(context.Background(), gone) // publisher not started: only delivers to others
	a.expect(`{"event":"pusher_internal:member_removed","data":"{\"user_id\":2}","channel":"presence-r"}`)
}

// A node joining late learns the presence members from snapshots.
func TestClusterLateJoiner(t *testing.T) {
	bus := cluster.NewBus()
	na := startServer(t, Options{Transport: bus.Node(), NodeID: "node-a"})
	a := na.dial(t, "reverb-key")
	a.subscribe("presence-r", `{"user_id":1}`, "reverb-secret")
	a.expectContains("subscription_succeeded")
	nb := startServer(t, Options{Transport: bus.Node(), NodeID: "node-b"})
	deadline := time.Now().Add(2 * time.Second)
	for {
		ids, _, _ := backend{nb.s}.Users(context.Background(), nb.app("123456"), "presence-r")
		if len(ids) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("late node never learned the member")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b := nb.dial(t, "reverb-key")
	b.subscribe("presence-r", `{"user_id":1}`, "reverb-secret")
	b.expectContains(`\"count\":1`)
	a.send(`{"event":"pusher:ping"}`)
	a.expect(`{"event":"pusher:pong"}`) // no member_added for the same user
}

// Connections come and go without leaking goroutines.
func TestChurnNoGoroutineLeak(t *testing.T) {
	ts := startServer(t, Options{})
	time.Sleep(50 * time.Millisecond)
	base := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		c := ts.dial(t, "reverb-key")
		c.subscribe("presence-x", `{"user_id":1}`, "reverb-secret")
		c.expectContains("subscription_succeeded")
		c.subscribe("test", "", "")
		c.subscribed("test")
		_ = c.ws.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base || ts.s.openSockets() != 0 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutines %d > baseline %d\n%s", runtime.NumGoroutine(), base, buf[:n])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The last message of a cache channel reaches a subscriber on a node that
// had no subscriber of it; /users existence is cluster-wide.
func TestClusterCacheAndUsers(t *testing.T) {
	na, nb := twoNodes(t)
	time.Sleep(50 * time.Millisecond) // heartbeats: the nodes know each other
	a := na.dial(t, "reverb-key")
	a.subscribe("cache-x", "", "")
	a.subscribed("cache-x")
	a.expect(`{"event":"pusher:cache_miss","channel":"cache-x"}`)
	na.trigger(t, "123456", "e", "d", "cache-x")
	a.expect(`{"event":"e","data":"d","channel":"cache-x"}`)
	b := nb.dial(t, "reverb-key")
	b.subscribe("cache-x", "", "")
	b.subscribed("cache-x")
	b.expect(`{"event":"e","data":"d","channel":"cache-x"}`)

	a.subscribe("public-only-on-a", "", "")
	a.subscribed("public-only-on-a")
	_, exists, err := backend{nb.s}.Users(context.Background(), nb.app("123456"), "public-only-on-a")
	if err != nil || !exists {
		t.Fatalf("exists=%v err=%v", exists, err)
	}
	_, exists, _ = backend{nb.s}.Users(context.Background(), nb.app("123456"), "nowhere")
	if exists {
		t.Fatal("missing channel exists")
	}
}

// max_connections holds across nodes.
func TestClusterQuota(t *testing.T) {
	na, nb := twoNodes(t)
	time.Sleep(50 * time.Millisecond)
	na.dial(t, "reverb-key-2")
	time.Sleep(50 * time.Millisecond)
	c := nb.dialRaw(t, "reverb-key-2", nil)
	c.expectContains(`4004`)
}

// A drained node's presence members leave when the drain ends, and only
// users who did not reconnect elsewhere are reported gone: a deploy does
// not make every member leave and join again.
func TestDrainKeepsPresenceUntilEnd(t *testing.T) {
	na, nb := twoNodes(t)
	watcher := nb.dial(t, "reverb-key")
	watcher.subscribe("presence-r", `{"user_id":"w"}`, "reverb-secret")
	watcher.expectContains("subscription_succeeded")
	stay := na.dial(t, "reverb-key")
	stay.subscribe("presence-r", `{"user_id":"moves"}`, "reverb-secret")
	stay.expectContains("subscription_succeeded")
	watcher.expectContains(`\"user_id\":\"moves\"`)
	leave := na.dial(t, "reverb-key")
	leave.subscribe("presence-r", `{"user_id":"quits"}`, "reverb-secret")
	leave.expectContains("subscription_succeeded")
	watcher.expectContains(`\"user_id\":\"quits\"`)

	// Drain by hand, in a known order: "moves" is closed first and
	// reconnects to node b while the drain is still running.
	na.s.draining.Store(true)
	closeSocket := func(id string) {
		a := na.s.appList()[0]
		a.mu.Lock()
		c := a.conns[id]
		a.mu.Unlock()
		c.closeNow(4200, "Server restarting", false)
	}
	closeSocket(stay.id)
	if code, _ := stay.expectClose(); code != 4200 {
		t.Fatalf("close %d", code)
	}
	moved := nb.dial(t, "reverb-key")
	moved.subscribe("presence-r", `{"user_id":"moves"}`, "reverb-secret")
	moved.expectContains("subscription_succeeded")
	closeSocket(leave.id)
	leave.expectClose()
	na.s.announceGone()
	// Only "quits" is reported gone, once.
	watcher.expect(`{"event":"pusher_internal:member_removed","data":"{\"user_id\":\"quits\"}","channel":"presence-r"}`)
	watcher.send(`{"event":"pusher:ping"}`)
	watcher.expect(`{"event":"pusher:pong"}`)
	ids, _, _ := backend{nb.s}.Users(context.Background(), nb.app("123456"), "presence-r")
	if len(ids) != 2 {
		t.Fatalf("users after drain: %v", ids)
	}
}

// An event accepted by the cluster before a drain starts reaches every
// socket the drain closes, ahead of the close frame.
func TestDrainDeliversAcceptedEvents(t *testing.T) {
	na, nb := twoNodes(t)
	var subs []*client
	for i := 0; i < 20; i++ {
		c := na.dial(t, "reverb-key")
		c.subscribe("test-channel", "", "")
		c.subscribed("test-channel")
		subs = append(subs, c)
	}
	// Slow node a's delivery down behind a burst, then accept one more
	// event on node b and drain node a at once.
	for i := 0; i < 200; i++ {
		nb.trigger(t, "123456", "filler", "x", "other-channel")
	}
	nb.trigger(t, "123456", "last", "d", "test-channel")
	if err := na.s.Drain(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	for _, c := range subs {
		c.expect(`{"event":"last","data":"d","channel":"test-channel"}`)
		if code, _ := c.expectClose(); code != 4200 {
			t.Fatalf("close %d", code)
		}
	}
}

// laggingNode is a bus node whose deliveries wait lag first, as those of a
// server whose CPU is saturated fall behind.
type laggingNode struct {
	cluster.Transport
	lag atomic.Int64 // nanoseconds
}

func (l *laggingNode) Start(ctx context.Context, deliver func([]byte)) error {
	return l.Transport.Start(ctx, func(msg []byte) {
		if d := l.lag.Load(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		deliver(msg)
	})
}

func (l *laggingNode) Received() (uint64, bool) {
	if c, ok := l.Transport.(cluster.Counter); ok {
		return c.Received()
	}
	return 0, false
}

// A client that moves to another node (pusher-js after a restart's 4200
// close) does not get there, again, an event its old socket already had,
// however far behind the new node's deliveries are: a subscription gets
// what was published after it, not what the node had yet to deliver.
func TestSubscriptionGetsOnlyLaterEvents(t *testing.T) {
	bus := cluster.NewBus()
	subscriptionGetsOnlyLaterEvents(t, bus.Node(), bus.Node())
}

// The same over Redis: each node counts what it read off its subscription.
func TestSubscriptionGetsOnlyLaterEventsOverRedis(t *testing.T) {
	node := redisNodes(t, testsvc.StartRedis(t))
	subscriptionGetsOnlyLaterEvents(t, node(), node())
}

// redisNodes returns a function making nodes of one cluster over r.
func redisNodes(t *testing.T, r *testsvc.Redis) func() cluster.Transport {
	return func() cluster.Transport {
		tr, err := redis.New(redis.Options{Server: laravelcfg.RedisServer{Host: "127.0.0.1", Port: strconv.Itoa(r.Port)}, Channel: "reverb"})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
}

func subscriptionGetsOnlyLaterEvents(t *testing.T, a, b cluster.Transport) {
	lb := &laggingNode{Transport: b}
	na := startServer(t, Options{Transport: a, NodeID: "node-a"})
	nb := startServer(t, Options{Transport: lb, NodeID: "node-b"})
	old := na.dial(t, "reverb-key")
	old.subscribe("news", "", "")
	old.subscribed("news")

	movesAndGetsOnlyTheNext(t, na, nb, old, &lb.lag)
}

// movesAndGetsOnlyTheNext has old, subscribed to news on na, get an event
// nb runs lag behind on, then move to nb and subscribe again there: the
// next event is the first it gets.
func movesAndGetsOnlyTheNext(t *testing.T, na, nb *testServer, old *client, lag *atomic.Int64) {
	t.Helper()
	lag.Store(int64(300 * time.Millisecond))
	na.trigger(t, "123456", "e", "1", "news")
	old.expect(`{"event":"e","data":"1","channel":"news"}`)
	_ = old.ws.Close()
	moved := nb.dial(t, "reverb-key")
	moved.subscribe("news", "", "")
	moved.subscribed("news")
	lag.Store(0)
	na.trigger(t, "123456", "e", "2", "news")
	moved.expect(`{"event":"e","data":"2","channel":"news"}`)
}

// uncountedLagNode holds each message lag before its node takes it in, as
// the socket between the hub and a worker whose CPU is saturated holds
// them: the node cannot count what it has not read yet.
type uncountedLagNode struct {
	cluster.Transport
	lag   atomic.Int64 // nanoseconds
	taken atomic.Uint64
}

func (l *uncountedLagNode) Start(ctx context.Context, deliver func([]byte)) error {
	return l.Transport.Start(ctx, func(msg []byte) {
		if d := l.lag.Load(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		l.taken.Add(1)
		deliver(msg)
	})
}

func (l *uncountedLagNode) Received() (uint64, bool) { return l.taken.Load(), true }

// uncountedLagRouter is uncountedLagNode for a node of the interest routing.
type uncountedLagRouter struct {
	cluster.Router
	lag *uncountedLagNode
}

func (l *uncountedLagRouter) Start(ctx context.Context, deliver func([]byte)) error {
	return l.lag.Start(ctx, deliver)
}

func (l *uncountedLagRouter) Received() (uint64, bool) { return l.lag.Received() }

// The same when the events the new node is behind on are still on their
// way to it (not read, so not counted): the subscription is acknowledged
// once the bus's order has passed it, so the event the old socket had
// does not arrive twice, and the next one arrives.
func TestSubscriptionGetsOnlyLaterEventsBehindUnreadOnes(t *testing.T) {
	bus := cluster.NewBus()
	lb := &uncountedLagNode{Transport: bus.Node()}
	subscriptionGetsOnlyLaterEventsBehindUnreadOnes(t, bus.Node(), lb, lb)
}

// The same in the interest routing, the new node's topic live already
// (another subscriber there).
func TestRoutedSubscriptionGetsOnlyLaterEventsBehindUnreadOnes(t *testing.T) {
	bus := cluster.NewRoutedBus()
	inner := bus.Node()
	lb := &uncountedLagNode{Transport: inner}
	subscriptionGetsOnlyLaterEventsBehindUnreadOnes(t, bus.Node(), &uncountedLagRouter{Router: inner, lag: lb}, lb)
}

func subscriptionGetsOnlyLaterEventsBehindUnreadOnes(t *testing.T, a, b cluster.Transport, lb *uncountedLagNode) {
	na := startServer(t, Options{Transport: a, NodeID: "node-a"})
	nb := startServer(t, Options{Transport: b, NodeID: "node-b"})
	waitFor(t, "node b hears of node a", nb.s.hasPeers)
	old := na.dial(t, "reverb-key")
	old.subscribe("news", "", "")
	old.subscribed("news")
	stays := nb.dial(t, "reverb-key")
	stays.subscribe("news", "", "")
	stays.subscribed("news")

	movesAndGetsOnlyTheNext(t, na, nb, old, &lb.lag)
}

// A presence member that moves to a node whose channel topic runs behind
// its control stream (Redis Cluster: they live on different shards) gets
// no event twice: its join comes back on the control stream before the
// topic has delivered what the old socket had, so it is fenced on the
// topic too.
func TestRoutedPresenceJoinGetsOnlyLaterEventsBehindItsTopic(t *testing.T) {
	bus := cluster.NewRoutedBus()
	nbBus := bus.Node()
	na := startServer(t, Options{Transport: bus.Node(), NodeID: "node-a"})
	nb := startServer(t, Options{Transport: nbBus, NodeID: "node-b"})
	waitFor(t, "node b hears of node a", nb.s.hasPeers)
	const ch = "presence-news"
	old := na.dial(t, "reverb-key")
	old.subscribe(ch, `{"user_id":1}`, "reverb-secret")
	old.expectContains("subscription_succeeded")
	stays := nb.dial(t, "reverb-key")
	stays.subscribe(ch, `{"user_id":2}`, "reverb-secret")
	stays.expectContains("subscription_succeeded")
	old.expectContains("member_added")

	bus.HoldTopics(nbBus, true)
	na.trigger(t, "123456", "e", "1", ch)
	old.expect(`{"event":"e","data":"1","channel":"presence-news"}`)
	_ = old.ws.Close()
	moved := nb.dial(t, "reverb-key")
	moved.subscribe(ch, `{"user_id":1}`, "reverb-secret")
	time.Sleep(100 * time.Millisecond) // its join is back on the control stream
	bus.HoldTopics(nbBus, false)
	moved.expectContains("subscription_succeeded")
	na.trigger(t, "123456", "e", "2", ch)
	for {
		got := moved.read()
		if strings.Contains(got, "pusher_internal:member_") {
			continue
		}
		if want := `{"event":"e","data":"2","channel":"presence-news"}`; got != want {
			t.Fatalf("moved member got %s\nwant %s", got, want)
		}
		break
	}
}

// On a cache channel a subscriber of a node whose deliveries run behind
// still gets the last event published before it subscribed: acknowledged
// once the bus's order has passed it, it is sent the cache as it is then.
func TestCacheSubscriptionGetsEventsItsNodeHadYetToDeliver(t *testing.T) {
	bus := cluster.NewBus()
	lb := &laggingNode{Transport: bus.Node()}
	na := startServer(t, Options{Transport: bus.Node(), NodeID: "node-a"})
	nb := startServer(t, Options{Transport: lb, NodeID: "node-b"})
	first := nb.dial(t, "reverb-key")
	first.subscribe("cache-news", "", "")
	first.subscribed("cache-news")
	first.expect(`{"event":"pusher:cache_miss","channel":"cache-news"}`)

	lb.lag.Store(int64(300 * time.Millisecond))
	na.trigger(t, "123456", "e", "1", "cache-news")
	late := nb.dial(t, "reverb-key")
	late.subscribe("cache-news", "", "")
	late.subscribed("cache-news")
	lb.lag.Store(0)
	late.expect(`{"event":"e","data":"1","channel":"cache-news"}`)
	late.send(`{"event":"pusher:ping"}`)
	late.expect(`{"event":"pusher:pong"}`)
}

// A socket that joins a presence channel while its node already drains (a
// restart right after the previous one, while clients are still
// subscribing on the generation that now drains) keeps its membership
// through the rejoin grace like the others: its user, back on another node
// at once, never leaves for the other members.
func TestDrainKeepsPresenceJoinedDuringTheDrain(t *testing.T) {
	na, nb := twoNodes(t)
	watcher := nb.dial(t, "reverb-key")
	watcher.subscribe("presence-r", `{"user_id":"w"}`, "reverb-secret")
	watcher.expectContains("subscription_succeeded")
	late := na.dial(t, "reverb-key") // connected, not subscribed yet
	// The drain's closes wait until late has joined: its close falls
	// anywhere in the window, which could be before the join.
	na.s.PauseDrain(true)
	done := make(chan error, 1)
	go func() { done <- na.s.Drain(context.Background(), 600*time.Millisecond) }()
	time.Sleep(50 * time.Millisecond)
	late.subscribe("presence-r", `{"user_id":"late"}`, "reverb-secret")
	late.expectContains("subscription_succeeded")
	watcher.expectContains(`\"user_id\":\"late\"`)
	na.s.PauseDrain(false)
	if code, _ := late.expectClose(); code != 4200 {
		t.Fatalf("close %d", code)
	}
	time.Sleep(300 * time.Millisecond) // pusher-js reconnects, asks the app, subscribes
	back := nb.dial(t, "reverb-key")
	back.subscribe("presence-r", `{"user_id":"late"}`, "reverb-secret")
	back.expectContains("subscription_succeeded")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Nothing for the watcher: "late" never left.
	watcher.send(`{"event":"pusher:ping"}`)
	watcher.expect(`{"event":"pusher:pong"}`)
}
