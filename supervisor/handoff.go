package supervisor

import (
	"net"
	"sync"
)

// handoff is the listener an in-process server serves: the accept loop
// pushes the connections it took off the real listening socket, and the
// server's net/http Accept pops them. It never blocks the pusher.
//
// Lock story: mu guards queue and closed; cond (on mu) wakes Accept.
// After Close, Accept still returns what was queued before (nothing the
// accept loop handed over is dropped), then net.ErrClosed.
type handoff struct {
	addr   net.Addr
	mu     sync.Mutex
	cond   *sync.Cond
	queue  []net.Conn
	closed bool
}

func newHandoff(addr net.Addr) *handoff {
	h := &handoff{addr: addr}
	h.cond = sync.NewCond(&h.mu)
	return h
}

// push queues c for Accept; false (and c untouched) once closed.
func (h *handoff) push(c net.Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.queue = append(h.queue, c)
	h.cond.Signal()
	return true
}

// Accept returns the next handed-over connection.
func (h *handoff) Accept() (net.Conn, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(h.queue) == 0 && !h.closed {
		h.cond.Wait()
	}
	if len(h.queue) == 0 {
		return nil, net.ErrClosed
	}
	c := h.queue[0]
	h.queue[0] = nil
	h.queue = h.queue[1:]
	return c, nil
}

// Close stops taking connections; queued ones are still accepted.
func (h *handoff) Close() error {
	h.mu.Lock()
	h.closed = true
	h.cond.Broadcast()
	h.mu.Unlock()
	return nil
}

// Addr is the real listening socket's address.
func (h *handoff) Addr() net.Addr { return h.addr }

// gate is the switch between the accept loop and the serving generation:
// set replaces the handoffs that receive new connections, round robin.
//
// Lock story: mu guards targets and next. hand holds mu while it pushes, so
// when set returns no connection is on its way to a handoff that was
// replaced: the old generation can be closed and drained knowing it has
// everything it was given.
type gate struct {
	mu      sync.Mutex
	targets []*handoff
	next    int
}

func (g *gate) set(targets []*handoff) {
	g.mu.Lock()
	g.targets = targets
	g.next = 0
	g.mu.Unlock()
}

// hand gives c to the next target; with none (stopping) c is closed.
func (g *gate) hand(c net.Conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for range g.targets {
		t := g.targets[g.next%len(g.targets)]
		g.next++
		if t.push(c) {
			return
		}
	}
	_ = c.Close()
}
