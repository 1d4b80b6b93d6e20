// Package cluster connects the nodes of one Reverb cluster: the worker
// processes of one supervisor, and every node sharing a Redis channel. The
// server encodes and decodes messages; a Transport only carries bytes.
package cluster

import (
	"context"
	"sync"
)

// Transport delivers every published message to every node of the cluster,
// the publisher included, in one order that all nodes see alike.
type Transport interface {
	// Start subscribes and then calls deliver for each message, one at a
	// time, in order, until Close. It returns once the subscription is live.
	Start(ctx context.Context, deliver func(msg []byte)) error
	// Publish sends msg to every node and returns how many nodes will
	// receive it (this one included), like Redis PUBLISH's reply.
	Publish(ctx context.Context, msg []byte) (receivers int, err error)
	// Close stops delivery and releases the connection.
	Close() error
}

// Counter is implemented by transports that know how many messages they
// have taken in for this node, delivered or still waiting to be: after
// Received returned n, deliver is called for message n+1 onwards with the
// messages published later. ok is false when the count is unknown.
type Counter interface {
	Received() (n uint64, ok bool)
}

// Resubscriber is implemented by transports whose subscription can drop
// and be made again while Redis stays up or comes back (CLIENT KILL, a
// proxy's idle timeout, the pub/sub output buffer limit, a move to a new
// master, a restart of Redis).
type Resubscriber interface {
	// OnResubscribed installs the function the transport calls, on the
	// delivery goroutine, each time the subscription is live again after
	// a drop: after every message received before the drop. Call it
	// before Start.
	OnResubscribed(f func(Resubscription))
	// Drops is the number of drops of the subscription so far. A message
	// published (Publish called) while Drops was below a Resubscription's
	// Drop and not delivered to this node by the time of that
	// Resubscription never will be: its copy was lost with the old
	// subscription.
	Drops() uint64
}

// Resubscription describes a subscription live again after a drop.
type Resubscription struct {
	// Drop numbers the drop (Drops counted it).
	Drop uint64
	// Missed: the other nodes stayed subscribed and went on publishing
	// directly, so what they published until now missed this node. Not
	// so when Redis itself was away: every node held its messages until
	// the others were back.
	Missed bool
}

// Router is the Transport of the interest-routed mode (a fleet of this
// server only): besides the control stream every node receives (Publish),
// a message published to a topic (PublishTo) reaches only the nodes
// subscribed to that topic. The server uses one topic per app channel and
// one per node (answers addressed to it).
//
// Order. The control stream and each topic are delivered in one order that
// every node subscribed to them sees alike. Messages of different streams
// share one order only when Ordered says so (one Redis server: one
// subscriber connection per node); on Redis Cluster each topic lives on
// the master of its slot and streams interleave differently on each node.
// Every delivery — control, topics, Inject and live notices — runs on the
// one delivery goroutine, one at a time.
type Router interface {
	Transport
	// OnLive installs the function the transport calls, on the delivery
	// goroutine, when a topic this node wants becomes live (see Want).
	// Call it before Start.
	OnLive(live func(topic string))
	// Want subscribes this node to topic (reference counted: each Want is
	// matched by one Unwant). It returns true when the subscription is
	// live now: every message published to topic from now on reaches this
	// node. Otherwise live(topic) is called once it is — before any message
	// of topic published after the subscription — or once the transport
	// stops waiting for an unreachable Redis (then messages of other nodes
	// reach this node only when Redis is back). Want never blocks and never
	// calls back on the caller's goroutine, so it may be called under locks.
	Want(topic string) bool
	// Unwant withdraws one Want. The transport keeps the subscription for
	// a while (hysteresis: a channel that empties and fills again does not
	// cost an UNSUBSCRIBE and a SUBSCRIBE each time), then drops it unless
	// the topic is wanted again. Never blocks.
	Unwant(topic string)
	// PublishTo sends msg to the nodes subscribed to topic (this one
	// included when it is) and returns how many receive it.
	PublishTo(ctx context.Context, topic string, msg []byte) (receivers int, err error)
	// Inject delivers msg to this node only, on the delivery goroutine
	// after everything already received: a way back onto that goroutine
	// without a round trip through Redis.
	Inject(msg []byte)
	// Ordered reports whether all streams share one order at this node.
	Ordered() bool
}

// Local is the Transport of a single process: Publish delivers to this
// node's own deliver function on the publishing goroutine.
//
// A delivery may publish again (presence join → member_added, metrics
// request → response). Such nested or concurrent publishes are queued and
// delivered by the goroutine already delivering, so the order stays total
// and nothing deadlocks; Publish then returns before its message was
// delivered. msg must not be modified after Publish.
//
// Lock story: mu guards deliver, queue and delivering; it is never held
// while deliver runs.
type Local struct {
	mu         sync.Mutex
	deliver    func([]byte)
	queue      [][]byte
	delivering bool
}

// NewLocal returns a single-node Transport.
func NewLocal() *Local { return &Local{} }

// Start installs deliver.
func (l *Local) Start(_ context.Context, deliver func([]byte)) error {
	l.mu.Lock()
	l.deliver = deliver
	l.mu.Unlock()
	return nil
}

// Publish delivers msg, or queues it behind the delivery in progress.
func (l *Local) Publish(_ context.Context, msg []byte) (int, error) {
	l.mu.Lock()
	if l.deliver == nil {
		l.mu.Unlock()
		return 1, nil
	}
	l.queue = append(l.queue, msg)
	if l.delivering {
		l.mu.Unlock()
		return 1, nil
	}
	l.delivering = true
	for len(l.queue) > 0 && l.deliver != nil {
		m := l.queue[0]
		l.queue[0] = nil
		l.queue = l.queue[1:]
		d := l.deliver
		l.mu.Unlock()
		d(m)
		l.mu.Lock()
	}
	l.queue = nil
	l.delivering = false
	l.mu.Unlock()
	return 1, nil
}

// Close stops delivery.
func (l *Local) Close() error {
	l.mu.Lock()
	l.deliver = nil
	l.mu.Unlock()
	return nil
}
