package cluster

import (
	"context"
	"errors"
	"sync"
	"time"
)

// RoutedBus is an in-memory Router cluster for tests: control messages
// reach every node, topic messages only the nodes subscribed to the topic,
// all in one total order (like one Redis server). A subscription can be
// made to take a while (SetSubscribeDelay), so tests see the moments
// between a Want and its live notice; a node's topic messages can be held
// back while its control messages go on (HoldTopics), as on Redis Cluster,
// whose topics live on other shards than the control stream.
//
// Lock story: mu guards nodes and delay. Publishing holds mu while it
// appends to the inboxes, which makes the order total; a node's own mu
// (taken inside) guards its inbox, topics and state. One goroutine per
// node delivers (started by Start, stopped by Close); a pending
// subscription is a timer owned by its node, stopped by Close.
type RoutedBus struct {
	mu    sync.Mutex
	nodes []*routedNode
	delay time.Duration
}

// NewRoutedBus returns an empty routed cluster.
func NewRoutedBus() *RoutedBus { return &RoutedBus{} }

// SetSubscribeDelay makes every later subscription take d to become live.
func (b *RoutedBus) SetSubscribeDelay(d time.Duration) {
	b.mu.Lock()
	b.delay = d
	b.mu.Unlock()
}

// Node returns a new Router attached to the bus.
func (b *RoutedBus) Node() Router {
	return &routedNode{bus: b, wants: map[string]int{}, live: map[string]bool{}, timers: map[string]*time.Timer{}}
}

// Subscribers is how many nodes are subscribed to topic now.
func (b *RoutedBus) Subscribers(topic string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, o := range b.nodes {
		o.mu.Lock()
		if o.live[topic] {
			n++
		}
		o.mu.Unlock()
	}
	return n
}

type routedNode struct {
	bus *RoutedBus

	mu      sync.Mutex // guards everything below
	cond    *sync.Cond
	inbox   []routedItem
	onLive  func(string)
	started bool
	closed  bool
	done    chan struct{}
	wants   map[string]int  // topic → Want count
	live    map[string]bool // topics subscribed now
	timers  map[string]*time.Timer
	// unordered: HoldTopics was used, the node's streams share no order.
	unordered bool
	// holding: topic messages go to held instead of the inbox.
	holding bool
	held    []routedItem
}

// HoldTopics makes r, a node of this bus, keep the topic messages it is
// sent aside (hold true) while its control messages are delivered, until
// HoldTopics(r, false) queues them after what it has received meanwhile.
// From the first call on, r reports its streams unordered.
func (b *RoutedBus) HoldTopics(r Router, hold bool) {
	n := r.(*routedNode)
	b.mu.Lock()
	defer b.mu.Unlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.unordered = true
	n.holding = hold
	if hold {
		return
	}
	for _, it := range n.held {
		n.pushLocked(it)
	}
	n.held = nil
}

type routedItem struct {
	msg  []byte
	live string // a live notice for this topic instead of a message
}

func (n *routedNode) OnLive(live func(string)) {
	n.mu.Lock()
	n.onLive = live
	n.mu.Unlock()
}

func (n *routedNode) Start(_ context.Context, deliver func([]byte)) error {
	n.mu.Lock()
	if n.started {
		n.mu.Unlock()
		return errors.New("cluster: routed bus node started twice")
	}
	n.started = true
	n.cond = sync.NewCond(&n.mu)
	n.done = make(chan struct{})
	n.mu.Unlock()

	n.bus.mu.Lock()
	n.bus.nodes = append(n.bus.nodes, n)
	n.bus.mu.Unlock()

	go func() {
		defer close(n.done)
		n.mu.Lock()
		for {
			for len(n.inbox) == 0 && !n.closed {
				n.cond.Wait()
			}
			if n.closed {
				n.mu.Unlock()
				return
			}
			it := n.inbox[0]
			n.inbox[0] = routedItem{}
			n.inbox = n.inbox[1:]
			live := n.onLive
			n.mu.Unlock()
			if it.live != "" {
				if live != nil {
					live(it.live)
				}
			} else {
				deliver(it.msg)
			}
			n.mu.Lock()
		}
	}()
	return nil
}

// pushLocked queues an item; the caller holds n.mu.
func (n *routedNode) pushLocked(it routedItem) bool {
	if n.closed || !n.started {
		return false
	}
	n.inbox = append(n.inbox, it)
	n.cond.Signal()
	return true
}

func (n *routedNode) Publish(_ context.Context, msg []byte) (int, error) {
	return n.send("", msg)
}

func (n *routedNode) PublishTo(_ context.Context, topic string, msg []byte) (int, error) {
	return n.send(topic, msg)
}

// send appends msg to the inbox of every node subscribed to topic (every
// node for the control stream, topic ""), all under the bus lock.
func (n *routedNode) send(topic string, msg []byte) (int, error) {
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return 0, errors.New("cluster: routed bus node closed")
	}
	n.bus.mu.Lock()
	defer n.bus.mu.Unlock()
	count := 0
	for _, o := range n.bus.nodes {
		o.mu.Lock()
		switch {
		case topic != "" && o.live[topic] && o.holding:
			o.held = append(o.held, routedItem{msg: msg})
			count++
		case topic == "" || o.live[topic]:
			if o.pushLocked(routedItem{msg: msg}) {
				count++
			}
		}
		o.mu.Unlock()
	}
	return count, nil
}

func (n *routedNode) Want(topic string) bool {
	// Subscribing under the bus lock orders it with every publish.
	n.bus.mu.Lock()
	defer n.bus.mu.Unlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.wants[topic]++
	if n.live[topic] {
		return true
	}
	if n.timers[topic] != nil || n.closed {
		return false
	}
	if n.bus.delay <= 0 {
		n.live[topic] = true
		return true
	}
	n.timers[topic] = time.AfterFunc(n.bus.delay, func() {
		n.bus.mu.Lock()
		defer n.bus.mu.Unlock()
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(n.timers, topic)
		if n.wants[topic] > 0 && !n.closed {
			n.live[topic] = true
			n.pushLocked(routedItem{live: topic})
		}
	})
	return false
}

func (n *routedNode) Unwant(topic string) {
	n.bus.mu.Lock()
	defer n.bus.mu.Unlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.wants[topic] <= 0 {
		return
	}
	n.wants[topic]--
	if n.wants[topic] == 0 {
		delete(n.wants, topic)
		delete(n.live, topic)
	}
}

func (n *routedNode) Inject(msg []byte) {
	n.mu.Lock()
	n.pushLocked(routedItem{msg: msg})
	n.mu.Unlock()
}

func (n *routedNode) Ordered() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.unordered
}

func (n *routedNode) Close() error {
	n.bus.mu.Lock()
	for i, o := range n.bus.nodes {
		if o == n {
			n.bus.nodes = append(n.bus.nodes[:i:i], n.bus.nodes[i+1:]...)
			break
		}
	}
	n.bus.mu.Unlock()
	n.mu.Lock()
	for t, tm := range n.timers {
		tm.Stop()
		delete(n.timers, t)
	}
	if !n.started || n.closed {
		n.closed = true
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.cond.Broadcast()
	n.mu.Unlock()
	<-n.done
	return nil
}
