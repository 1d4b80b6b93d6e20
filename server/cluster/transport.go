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
