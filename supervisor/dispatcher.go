package supervisor

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/reverb-go/reverb/supervisor/sockets"
)

// sendTimeout bounds passing one connection to a worker; a worker whose
// dispatch socket stays full that long is skipped for the next one.
const sendTimeout = 2 * time.Second

// dispatcher accepts on the listening socket and hands each connection to
// the serving workers in turn (see sockets/dispatch.go for why the
// supervisor accepts instead of the workers).
//
// Lock story: mu guards targets, next and closed. The accept goroutine holds
// mu while it picks a worker and sends, so when set returns, no connection
// is on its way to a worker that was removed: the supervisor can then order
// that worker to drain knowing everything it was sent is already queued.
type dispatcher struct {
	ln   net.Listener
	logf func(format string, args ...any)

	mu      sync.Mutex
	cond    *sync.Cond
	targets []*proc
	next    int
	closed  bool

	done chan struct{}
}

func newDispatcher(ln net.Listener, logf func(format string, args ...any)) *dispatcher {
	d := &dispatcher{ln: ln, logf: logf, done: make(chan struct{})}
	d.cond = sync.NewCond(&d.mu)
	return d
}

// set replaces the workers that receive new connections.
func (d *dispatcher) set(targets []*proc) {
	d.mu.Lock()
	d.targets = targets
	d.cond.Broadcast()
	d.mu.Unlock()
}

// close stops dispatching: the accept goroutine ends and the listening
// socket closes (nothing accepts new connections any more).
func (d *dispatcher) close() {
	d.mu.Lock()
	d.closed = true
	d.targets = nil
	d.cond.Broadcast()
	d.mu.Unlock()
	d.ln.Close()
	<-d.done
}

// waitTargets blocks until there is a worker to send to; false once closed.
// Caller holds mu.
func (d *dispatcher) waitTargetsLocked() bool {
	for len(d.targets) == 0 && !d.closed {
		d.cond.Wait()
	}
	return !d.closed
}

// run is the accept loop; it is owned by the supervisor and ends on close.
// It accepts only while some worker can take the connection, so before the
// first generation is ready connections wait in the kernel's backlog.
func (d *dispatcher) run() {
	defer close(d.done)
	for {
		d.mu.Lock()
		ok := d.waitTargetsLocked()
		d.mu.Unlock()
		if !ok {
			return
		}
		c, err := d.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and friends: back off a little, like net/http.
			d.logf("Accept failed: %v", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		d.dispatch(c)
	}
}

func (d *dispatcher) dispatch(c net.Conn) {
	defer c.Close() // the worker has its own copy
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.waitTargetsLocked() {
		return
	}
	for range len(d.targets) {
		p := d.targets[d.next%len(d.targets)]
		d.next++
		err := sockets.SendConn(p.dispatch, c, sendTimeout)
		if err == nil {
			return
		}
		d.logf("Cannot pass a connection to worker %s: %v", p.id, err)
	}
}
