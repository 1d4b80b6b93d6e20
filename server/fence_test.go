package server

import (
	"testing"
	"time"

	"github.com/reverb-go/reverb/internal/testsvc"
	"github.com/reverb-go/reverb/server/cluster"
)

// laggingPair is two nodes of one bus, the second taking every message in
// only once lb's lag has passed (unread, so uncounted), both aware of the
// other.
func laggingPair(t *testing.T, obs ...Observer) (na, nb *testServer, lb *uncountedLagNode) {
	t.Helper()
	var a, b cluster.Transport
	if routedTests {
		bus := cluster.NewRoutedBus()
		inner := bus.Node()
		lb = &uncountedLagNode{Transport: inner}
		a, b = bus.Node(), &uncountedLagRouter{Router: inner, lag: lb}
	} else {
		bus := cluster.NewBus()
		lb = &uncountedLagNode{Transport: bus.Node()}
		a, b = bus.Node(), lb
	}
	na = startServer(t, Options{Transport: a, NodeID: "node-a"})
	nb = startServer(t, Options{Transport: b, NodeID: "node-b", Observers: obs})
	waitFor(t, "node b hears of node a", nb.s.hasPeers)
	return na, nb, lb
}

// A socket that subscribes again to a channel it is subscribed to (as
// Reverb allows: its membership is replaced, and answered again) keeps
// getting the channel's events throughout: an event published before the
// second subscribe that its node had yet to deliver still reaches it.
func TestSubscribingAgainLosesNoEvent(t *testing.T) {
	na, nb, lb := laggingPair(t)
	c := nb.dial(t, "reverb-key")
	c.subscribe("news", "", "")
	c.subscribed("news")

	lb.lag.Store(int64(300 * time.Millisecond))
	na.trigger(t, "123456", "e", "1", "news")
	c.subscribe("news", "", "")
	c.subscribed("news")
	lb.lag.Store(0)
	c.expect(`{"event":"e","data":"1","channel":"news"}`)
}

// The same in the interest routing.
func TestRoutedSubscribingAgainLosesNoEvent(t *testing.T) {
	routed(t)
	TestSubscribingAgainLosesNoEvent(t)
}

// On a cache channel it is answered at once with the cache as it is then,
// as by Reverb, and the event on its way arrives after.
func TestSubscribingAgainToACacheChannelIsAnsweredAtOnce(t *testing.T) {
	na, nb, lb := laggingPair(t)
	c := nb.dial(t, "reverb-key")
	c.subscribe("cache-news", "", "")
	c.subscribed("cache-news")
	c.expect(`{"event":"pusher:cache_miss","channel":"cache-news"}`)

	lb.lag.Store(int64(300 * time.Millisecond))
	na.trigger(t, "123456", "e", "1", "cache-news")
	c.subscribe("cache-news", "", "")
	c.subscribed("cache-news")
	c.expect(`{"event":"pusher:cache_miss","channel":"cache-news"}`)
	lb.lag.Store(0)
	c.expect(`{"event":"e","data":"1","channel":"cache-news"}`)
}

// A socket that subscribes twice before the first subscribe was answered
// gets an answer to each, as from Reverb (and from a node alone), and the
// channel's events after them. Each cache_miss it is sent is reported.
func TestSubscribingTwiceWhileHeldIsAnsweredTwice(t *testing.T) {
	rec := &recorder{want: CacheMiss}
	na, nb, lb := laggingPair(t, rec)
	lb.lag.Store(int64(100 * time.Millisecond))
	c := nb.dial(t, "reverb-key")
	c.subscribe("cache-twice", "", "")
	c.subscribe("cache-twice", "", "")
	c.subscribed("cache-twice")
	c.expect(`{"event":"pusher:cache_miss","channel":"cache-twice"}`)
	c.subscribed("cache-twice")
	c.expect(`{"event":"pusher:cache_miss","channel":"cache-twice"}`)
	waitFor(t, "a cache miss per answer", func() bool { return len(rec.of(CacheMiss)) == 2 })
	lb.lag.Store(0)
	na.trigger(t, "123456", "e", "1", "cache-twice")
	c.expect(`{"event":"e","data":"1","channel":"cache-twice"}`)
	c.send(`{"event":"pusher:ping"}`)
	c.expect(`{"event":"pusher:pong"}`)
}

// The same in the interest routing.
func TestRoutedSubscribingTwiceWhileHeldIsAnsweredTwice(t *testing.T) {
	routed(t)
	TestSubscribingTwiceWhileHeldIsAnsweredTwice(t)
}

// While Redis is away the other nodes stay known (until their heartbeats
// are missed), and a subscription made meanwhile is answered without
// waiting for a marker that cannot travel: this node delivers what it
// publishes to itself at once, its marker included.
func TestSubscriptionWhileRedisIsAwayIsAnsweredAtOnce(t *testing.T) {
	r := testsvc.StartRedis(t)
	node := redisNodes(t, r)
	na := startServer(t, Options{Transport: node(), NodeID: "node-a"})
	_ = startServer(t, Options{Transport: node(), NodeID: "node-b"})
	waitFor(t, "node a hears of node b", na.s.hasPeers)
	c := na.dial(t, "reverb-key")
	r.Stop()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	c.subscribe("news", "", "")
	c.subscribed("news")
	if d := time.Since(start); d > time.Second || !na.s.hasPeers() {
		t.Fatalf("answered after %v (peers known: %v)", d, na.s.hasPeers())
	}
	na.trigger(t, "123456", "e", "1", "news")
	c.expect(`{"event":"e","data":"1","channel":"news"}`)
}

// A signed-in client that moves to a node running behind its old one (a
// restart's 4200; pusher-js signs in again on the new connection) does not
// get there, again, an event to its user its old socket had: the sign-in
// is answered once the bus's order has passed it. The next event arrives.
func TestMovedSignedInUserGetsOnlyLaterEvents(t *testing.T) {
	na, nb, lb := laggingPair(t)
	const user = `{"id":"7"}`
	old := na.dial(t, "reverb-key")
	old.signin(user)
	lb.lag.Store(int64(300 * time.Millisecond))
	na.trigger(t, "123456", "e", "1", "#server-to-user-7")
	old.expect(`{"event":"e","data":"1","channel":"#server-to-user-7"}`)
	_ = old.ws.Close()
	moved := nb.dial(t, "reverb-key")
	moved.signin(user)
	lb.lag.Store(0)
	na.trigger(t, "123456", "e", "2", "#server-to-user-7")
	moved.expect(`{"event":"e","data":"2","channel":"#server-to-user-7"}`)
}

// A socket that signs in twice before the first sign-in was answered gets
// both answers, in order, and a sign-out of a socket closed before its
// sign-in was answered leaves nothing behind.
func TestSigningInTwiceWhileHeldIsAnsweredTwice(t *testing.T) {
	na, nb, lb := laggingPair(t)
	lb.lag.Store(int64(100 * time.Millisecond))
	c := nb.dial(t, "reverb-key")
	c.send(signinMsg(c.id, "reverb-secret", `{"id":"7"}`))
	c.send(signinMsg(c.id, "reverb-secret", `{"id":"7","user_info":{"n":1}}`))
	c.expect(`{"event":"pusher:signin_success","data":` + jsonString(`{"user_data":`+jsonString(`{"id":"7"}`)+`}`) + `}`)
	c.expect(`{"event":"pusher:signin_success","data":` + jsonString(`{"user_data":`+jsonString(`{"id":"7","user_info":{"n":1}}`)+`}`) + `}`)
	lb.lag.Store(0)
	na.trigger(t, "123456", "e", "1", "#server-to-user-7")
	c.expect(`{"event":"e","data":"1","channel":"#server-to-user-7"}`)
}
