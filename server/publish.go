package server

import (
	"context"
	"encoding/json"
	"time"

	"github.com/reverb-go/reverb/server/cluster"
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
func (s *Server) publish(msg []byte) { s.enqueue("", msg, pubTraffic) }

// publishTo is publish to one topic of the interest-routed mode ("" is the
// control stream every node receives). One queue keeps this node's
// messages in the order they were published, whatever their topics.
func (s *Server) publishTo(topic string, msg []byte) { s.enqueue(topic, msg, pubTraffic) }

// publishState is publish for a message about this node's part of the
// cluster's state (heartbeats, ledger messages, presence, the answers to a
// hello): dropped once the node said it is gone (announceGone). The others
// then hold it gone — its members removed, its holds claimed — and a
// message from it afterwards would undo that: a claim or a commit would
// make it the holder of decisions nobody commits, a heartbeat void the
// claims quoting its last one, a hello answer bring its drained members
// back (a hello gets an empty answer instead: onHello). Broadcasts
// accepted by the HTTP API and the answers to metric queries still go
// out.
func (s *Server) publishState(msg []byte) { s.enqueue("", msg, pubState) }

// saidGone reports whether the node's end-of-drain notice is out
// (announceGone).
func (s *Server) saidGone() bool {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	return s.pubGone
}

// What enqueue is given: traffic, state (publishState), or the node's
// end-of-drain notice, after which no state follows.
const (
	pubTraffic = iota
	pubState
	pubGone
)

func (s *Server) enqueue(topic string, msg []byte, kind int) {
	s.pubMu.Lock()
	if s.pubGone && kind != pubTraffic {
		s.pubMu.Unlock()
		return
	}
	s.pubGone = s.pubGone || kind == pubGone
	s.pubQ = append(s.pubQ, pubItem{topic, msg, kind != pubTraffic && topic == ""})
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
			if m.state {
				s.own.sent(m.msg)
			}
			if _, err := s.send(context.Background(), m.topic, m.msg); err != nil {
				s.busErrors.Add(1)
				s.logError("cluster publish: " + err.Error())
			}
		}
	}
}

// publishEvent publishes a broadcast of one channel (a client event):
// on the channel's topic in the interest-routed mode, else to every node.
func (s *Server) publishEvent(a *appState, channel string, msg []byte) {
	if s.router != nil {
		s.publishTo(channelTopic(a.cfg.ID, channel), msg)
		return
	}
	s.publish(msg)
}

// pubItem is one queued message and its topic ("" for the control stream).
type pubItem struct {
	topic string
	msg   []byte
	// state: a state message on the control stream, kept until its copy
	// is back (owncopies.go).
	state bool
}

// send publishes msg now: to topic's subscribers in the interest-routed
// mode, else on the control stream (every node).
func (s *Server) send(ctx context.Context, topic string, msg []byte) (int, error) {
	if topic != "" && s.router != nil {
		return s.router.PublishTo(ctx, topic, msg)
	}
	n, err := s.transport.Publish(ctx, msg)
	if err == nil {
		s.controlReceivers.Store(int64(n))
	}
	return n, err
}

// received is how many bus messages this node has taken in (delivered or
// waiting to be), numbered as deliver counts them in s.delivering; 0 when
// the transport does not say (cluster.Counter).
func (s *Server) received() uint64 {
	if c, ok := s.transport.(cluster.Counter); ok {
		if n, ok := c.Received(); ok {
			return n
		}
	}
	return 0
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
	delete(s.inOrderLeft, ref)
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

// inOrderAfter runs fn on the delivery goroutine when a marker published
// now comes back: at that point of the cluster's one order, so everything
// ordered before the marker has been delivered here and nothing ordered
// after it has. It returns once fn ran, or with ctx's error (fn may then
// still run later, so it must be idempotent). With topics (interest
// routing on Redis Cluster, where the control stream and the topics have
// no common order) a marker goes on each, and fn runs once all are back:
// everything published on them before has been delivered here.
func (s *Server) inOrderAfter(ctx context.Context, topics []string, fn func()) error {
	ref, done := s.await()
	s.markers(ref, topics, fn)
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
func (s *Server) afterOrdered(fn func()) { s.afterMarkers(nil, fn) }

func (s *Server) runInOrder(ref string) {
	s.waitersMu.Lock()
	fn := s.inOrderFns[ref]
	delete(s.inOrderFns, ref)
	delete(s.inOrderLeft, ref)
	s.waitersMu.Unlock()
	if fn != nil {
		fn()
	}
}

// markers registers fn under ref and publishes ref's marker on the control
// stream and on each topic.
func (s *Server) markers(ref string, topics []string, fn func()) {
	s.waitersMu.Lock()
	s.inOrderFns[ref] = fn
	if len(topics) > 0 {
		s.inOrderLeft[ref] = 1 + len(topics)
	}
	s.waitersMu.Unlock()
	msg, _ := json.Marshal(envelope{Type: typeBarrier, Node: s.nodeID, Ref: ref})
	s.publish(msg)
	for _, t := range topics {
		s.publishTo(t, msg)
	}
}

// afterMarkers is inOrderAfter for the delivery goroutine, which must not
// wait: fn runs on it when the last marker is back, or after the gather
// timeout on a timer goroutine (a marker lost to a Redis outage must not
// keep fn from running; it runs once either way).
func (s *Server) afterMarkers(topics []string, fn func()) {
	ref := randomKey()
	s.markers(ref, topics, fn)
	time.AfterFunc(s.opts.GatherTimeout, func() { s.runInOrder(ref) })
}

// markerBack counts one of ref's markers back; true when it was the last
// (or the only one).
func (s *Server) markerBack(ref string) bool {
	s.waitersMu.Lock()
	defer s.waitersMu.Unlock()
	n, ok := s.inOrderLeft[ref]
	if !ok {
		return true
	}
	if n > 1 {
		s.inOrderLeft[ref] = n - 1
		return false
	}
	delete(s.inOrderLeft, ref)
	return true
}
