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
// node's own deliver function, synchronously.
type Local struct {
	mu      sync.Mutex // serialises deliveries so the order is total
	deliver func([]byte)
}

// NewLocal returns a single-node Transport.
func NewLocal() *Local { return &Local{} }

func (l *Local) Start(_ context.Context, deliver func([]byte)) error {
	l.mu.Lock()
	l.deliver = deliver
	l.mu.Unlock()
	return nil
}

func (l *Local) Publish(_ context.Context, msg []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.deliver != nil {
		l.deliver(msg)
	}
	return 1, nil
}

func (l *Local) Close() error {
	l.mu.Lock()
	l.deliver = nil
	l.mu.Unlock()
	return nil
}
