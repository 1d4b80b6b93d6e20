package server

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// Publishing in order, and waiting for a point of the bus's one order.

// publish sends msg through the transport; errors are logged.
//
// Messages go out in the order publish was called, from one goroutine that
// exists while there is something to send, so a reader (an epoll poller
// serving many sockets) never waits for a network round trip to the hub or
// Redis. Publishes that need the receiver count or must be waited for
// (metrics, API events, terminate) call the transport directly; barrier
// goes through this queue so it follows everything queued before it.
//
// publish never sends on the caller's goroutine, so it may be called with
// an app's lock held (presence and ledger messages are, to keep their
// order with the state they describe; a local transport delivers on the
// publishing goroutine, which would then need that lock).
func (s *Server) publish(msg []byte) {
	s.pubMu.Lock()
	s.pubQ = append(s.pubQ, msg)
	if s.pubRunning {
		s.pubMu.Unlock()
		return
	}
	s.pubRunning = true
	s.pubMu.Unlock()
	if !s.spawn(s.publishLoop) {
		// After Close: Close's waitPublishes sends the queue, in order.
		s.pubMu.Lock()
		s.pubRunning = false
		s.pubMu.Unlock()
	}
}

// publishLoop sends the queue in order and returns when it is empty.
func (s *Server) publishLoop() {
	for {
		s.pubMu.Lock()
		q := s.pubQ
		s.pubQ = nil
		if len(q) == 0 {
			s.pubRunning = false
			s.pubMu.Unlock()
			return
		}
		s.pubMu.Unlock()
		for _, m := range q {
			if _, err := s.transport.Publish(context.Background(), m); err != nil {
				s.busErrors.Add(1)
				s.logError("cluster publish: " + err.Error())
			}
		}
	}
}

// release wakes whoever waits for the delivery of the message ref.
func (s *Server) release(ref string) {
	if ref == "" {
		return
	}
	s.waitersMu.Lock()
	ch := s.waiters[ref]
	delete(s.waiters, ref)
	s.waitersMu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// await registers a waiter for the delivery of a message carrying ref.
func (s *Server) await() (string, chan struct{}) {
	ref := randomKey()
	done := make(chan struct{})
	s.waitersMu.Lock()
	s.waiters[ref] = done
	s.waitersMu.Unlock()
	return ref, done
}

func (s *Server) forget(ref string) {
	s.waitersMu.Lock()
	delete(s.inOrderFns, ref)
	delete(s.waiters, ref)
	s.waitersMu.Unlock()
}

// barrier returns once everything this node published before it has been
// delivered back to this node (the transport's order is total).
func (s *Server) barrier(ctx context.Context) error {
	ref, done := s.await()
	msg, _ := json.Marshal(envelope{Type: typeBarrier, Node: s.nodeID, Ref: ref})
	s.publish(msg)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.forget(ref)
		return ctx.Err()
	}
}

// inOrder runs fn on the delivery goroutine when a marker published now
// comes back: at that point of the cluster's one order, so everything
// ordered before the marker has been delivered here and nothing ordered
// after it has. It returns once fn ran, or with ctx's error (fn may then
// still run later, so it must be idempotent).
func (s *Server) inOrder(ctx context.Context, fn func()) error {
	ref, done := s.await()
	s.waitersMu.Lock()
	s.inOrderFns[ref] = fn
	s.waitersMu.Unlock()
	msg, _ := json.Marshal(envelope{Type: typeBarrier, Node: s.nodeID, Ref: ref})
	s.publish(msg)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.forget(ref)
		return ctx.Err()
	}
}

// afterOrdered runs fn once, on the delivery goroutine, when a marker
// published now comes back (as inOrder, without waiting for it), or after
// GatherTimeout when the transport is stuck.
func (s *Server) afterOrdered(fn func()) {
	var once sync.Once
	run := func() { once.Do(fn) }
	ref, _ := s.await()
	s.waitersMu.Lock()
	s.inOrderFns[ref] = run
	s.waitersMu.Unlock()
	msg, _ := json.Marshal(envelope{Type: typeBarrier, Node: s.nodeID, Ref: ref})
	s.publish(msg)
	time.AfterFunc(s.opts.GatherTimeout, func() {
		s.forget(ref)
		run()
	})
}

func (s *Server) runInOrder(ref string) {
	s.waitersMu.Lock()
	fn := s.inOrderFns[ref]
	delete(s.inOrderFns, ref)
	s.waitersMu.Unlock()
	if fn != nil {
		fn()
	}
}
