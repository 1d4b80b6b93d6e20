package supervisor

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/reverb-go/reverb/server/cluster"
)

// busStub is a transport whose Publish answers receivers and whose
// deliveries the test makes.
type busStub struct {
	receivers int
	mu        sync.Mutex
	deliver   func([]byte)
}

func (b *busStub) Start(_ context.Context, d func([]byte)) error {
	b.mu.Lock()
	b.deliver = d
	b.mu.Unlock()
	return nil
}
func (b *busStub) Publish(context.Context, []byte) (int, error) { return b.receivers, nil }
func (b *busStub) Close() error                                 { return nil }
func (b *busStub) give(msg string) {
	b.mu.Lock()
	d := b.deliver
	b.mu.Unlock()
	d([]byte(msg))
}

// A worker is joined once every other node that got its hello answered
// with its snapshot, in whatever order the answers and the hello's count
// arrive; answers for other nodes and rejoin hellos do not count.
func TestJoinWatchWaitsForEveryAnswer(t *testing.T) {
	bus := &busStub{receivers: 3}
	j := newJoinWatch(bus, "g1w2-aa")
	var got []string
	j.Start(context.Background(), func(m []byte) { got = append(got, string(m)) })
	bus.give(`{"type":"reverb-go:snapshot","node":"g1w0-bb","for":"g1w2-aa"}`) // before the count
	bus.give(`{"type":"reverb-go:snapshot","node":"g1w0-bb","for":"g1w3-cc"}`) // someone else's
	j.Publish(context.Background(), []byte(`{"type":"reverb-go:hello","node":"g1w2-aa","for":"g1w0-bb"}`))
	select {
	case <-j.done:
		t.Fatal("joined before the hello")
	default:
	}
	j.Publish(context.Background(), []byte(`{"type":"reverb-go:hello","node":"g1w2-aa"}`))
	select {
	case <-j.done:
		t.Fatal("joined with one answer of two")
	default:
	}
	bus.give(`{"type":"reverb-go:snapshot","node":"g1w1-dd","for":"g1w2-aa","entries":[]}`)
	if !j.Joined() {
		t.Fatal("not joined after both answers")
	}
	if len(got) != 3 {
		t.Fatalf("deliveries not passed on: %q", got)
	}

	// Alone on the bus: joined at the hello. No answer: joinWait.
	alone := newJoinWatch(&busStub{receivers: 1}, "g1w0-ee")
	alone.Publish(context.Background(), []byte(`{"type":"reverb-go:hello","node":"g1w0-ee"}`))
	if !alone.Joined() {
		t.Fatal("a node alone waited")
	}
	silent := newJoinWatch(&busStub{receivers: 2}, "g1w0-ff")
	silent.Publish(context.Background(), []byte(`{"type":"reverb-go:hello","node":"g1w0-ff"}`))
	start := time.Now()
	if silent.Joined() || time.Since(start) < joinWait-100*time.Millisecond {
		t.Fatal("no answer should wait joinWait and say so")
	}
}

// routerStub is an interest router over busStub.
type routerStub struct {
	busStub
	wanted []string
}

func (r *routerStub) OnLive(func(string))                                    {}
func (r *routerStub) Want(t string) bool                                     { r.wanted = append(r.wanted, t); return true }
func (r *routerStub) Unwant(string)                                          {}
func (r *routerStub) Inject([]byte)                                          {}
func (r *routerStub) Ordered() bool                                          { return true }
func (r *routerStub) PublishTo(context.Context, string, []byte) (int, error) { return 1, nil }

// With scaling on, the answers come over Redis: the wait watches that
// transport, and an interest router stays one (the server routes by topic
// only when its transport is a cluster.Router).
func TestWatchJoinsKeepsTheRouter(t *testing.T) {
	r := &routerStub{busStub: busStub{receivers: 2}}
	tr, j := watchJoins(r, "g2w0-aa")
	router, ok := tr.(cluster.Router)
	if !ok {
		t.Fatal("the wrapped router is no longer a cluster.Router")
	}
	router.Want("presence-room")
	if len(r.wanted) != 1 {
		t.Fatal("Want did not reach the router")
	}
	_ = tr.Start(context.Background(), func([]byte) {})
	_, _ = tr.Publish(context.Background(), []byte(`{"type":"reverb-go:hello","node":"g2w0-aa"}`))
	r.give(`{"type":"reverb-go:snapshot","node":"g1w0-bb","for":"g2w0-aa"}`)
	if !j.Joined() {
		t.Fatal("the answer that came through the router was not seen")
	}

	plain := &busStub{receivers: 1}
	if tr, _ := watchJoins(plain, "g2w1-cc"); tr == cluster.Transport(plain) {
		t.Fatal("a plain transport is not watched")
	} else if _, ok := tr.(cluster.Router); ok {
		t.Fatal("a plain transport became a router")
	}
}

// The in-process servers' transport, the bus under a joinWatch, still
// counts what it took in, so a server knows which broadcasts predate a
// subscription (a client that moved from the draining generation).
func TestJoinWatchPassesOnTheBusCount(t *testing.T) {
	bus := cluster.NewBus()
	tr, _ := watchJoins(bus.Node(), "g1s0")
	c, ok := tr.(cluster.Counter)
	if !ok {
		t.Fatal("the watched transport is no cluster.Counter")
	}
	got := make(chan []byte, 2)
	if err := tr.Start(context.Background(), func(m []byte) { got <- m }); err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	other := bus.Node()
	defer other.Close()
	if _, err := other.Publish(context.Background(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	<-got
	if n, ok := c.Received(); !ok || n != 1 {
		t.Fatalf("Received() = %d, %v; want 1, true", n, ok)
	}
}

// resubStub is a transport that reports resubscriptions.
type resubStub struct {
	busStub
	f func(cluster.Resubscription)
}

func (r *resubStub) OnResubscribed(f func(cluster.Resubscription)) { r.f = f }
func (r *resubStub) Drops() uint64                                 { return 7 }

type resubRouterStub struct {
	routerStub
	f func(cluster.Resubscription)
}

func (r *resubRouterStub) OnResubscribed(f func(cluster.Resubscription)) { r.f = f }
func (r *resubRouterStub) Drops() uint64                                 { return 7 }

// The server hears through the joinWatch, plain or routed, that the Redis
// subscription was made again after a drop (it then asks the other nodes
// for the state it may have missed).
func TestJoinWatchPassesResubscriptionsOn(t *testing.T) {
	plain := &resubStub{busStub: busStub{receivers: 1}}
	routed := &resubRouterStub{routerStub: routerStub{busStub: busStub{receivers: 1}}}
	for _, c := range []struct {
		tr   cluster.Transport
		got  func() func(cluster.Resubscription)
		name string
	}{{plain, func() func(cluster.Resubscription) { return plain.f }, "plain"}, {routed, func() func(cluster.Resubscription) { return routed.f }, "routed"}} {
		tr, _ := watchJoins(c.tr, "g1w0-aa")
		rs, ok := tr.(cluster.Resubscriber)
		if !ok {
			t.Fatalf("%s: the watched transport is no cluster.Resubscriber", c.name)
		}
		var got cluster.Resubscription
		rs.OnResubscribed(func(r cluster.Resubscription) { got = r })
		if f := c.got(); f == nil {
			t.Fatalf("%s: the function did not reach the transport", c.name)
		} else if f(cluster.Resubscription{Drop: 3, Missed: true}); got != (cluster.Resubscription{Drop: 3, Missed: true}) {
			t.Fatalf("%s: the transport's call did not reach the server: %+v", c.name, got)
		}
		if rs.Drops() != 7 {
			t.Fatalf("%s: Drops is not the transport's", c.name)
		}
	}
}
