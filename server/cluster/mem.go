package cluster

import (
	"context"
	"errors"
	"sync"
)

// Bus is an in-memory cluster (the servers of the in-process generations of
// `reverb start`, and tests): every Transport it hands out
// receives every message published on any of them, in one total order.
//
// Lock story: mu guards nodes and the sequence; one goroutine per node
// (started by Start, stopped by Close) delivers from that node's unbounded
// inbox, so a slow or re-publishing node never blocks publishers.
type Bus struct {
	mu    sync.Mutex
	nodes []*busNode
}

// NewBus returns an empty in-memory cluster.
func NewBus() *Bus { return &Bus{} }

// Node returns a new Transport attached to the bus.
func (b *Bus) Node() Transport { return &busNode{bus: b} }

type busNode struct {
	bus *Bus

	mu       sync.Mutex // guards inbox, received, started, closed
	cond     *sync.Cond
	inbox    [][]byte
	received uint64 // messages appended to inbox so far
	started  bool
	closed   bool
	done     chan struct{}
}

func (n *busNode) Start(_ context.Context, deliver func([]byte)) error {
	n.mu.Lock()
	if n.started {
		n.mu.Unlock()
		return errors.New("cluster: bus node started twice")
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
			m := n.inbox[0]
			n.inbox[0] = nil
			n.inbox = n.inbox[1:]
			n.mu.Unlock()
			deliver(m)
			n.mu.Lock()
		}
	}()
	return nil
}

func (n *busNode) Publish(_ context.Context, msg []byte) (int, error) {
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return 0, errors.New("cluster: bus node closed")
	}
	// Holding the bus lock while appending to every inbox makes the order
	// total: no two publishes interleave differently on two nodes.
	n.bus.mu.Lock()
	defer n.bus.mu.Unlock()
	count := 0
	for _, o := range n.bus.nodes {
		o.mu.Lock()
		if !o.closed {
			o.inbox = append(o.inbox, msg)
			o.received++
			o.cond.Signal()
			count++
		}
		o.mu.Unlock()
	}
	return count, nil
}

// Received is how many messages this node has taken in (cluster.Counter).
func (n *busNode) Received() (uint64, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.received, true
}

func (n *busNode) Close() error {
	n.bus.mu.Lock()
	for i, o := range n.bus.nodes {
		if o == n {
			n.bus.nodes = append(n.bus.nodes[:i:i], n.bus.nodes[i+1:]...)
			break
		}
	}
	n.bus.mu.Unlock()
	n.mu.Lock()
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
