//go:build linux && !portable

package supervisor

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/reverb-go/reverb/supervisor/sockets"
	"golang.org/x/sys/unix"
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
	acc  *sockets.Acceptor
	logf func(format string, args ...any)

	mu      sync.Mutex
	cond    *sync.Cond
	targets []*proc
	next    int
	closed  bool

	done chan struct{}
}

func newDispatcher(ln net.Listener, logf func(format string, args ...any)) (*dispatcher, error) {
	acc, err := sockets.NewAcceptor(ln)
	if err != nil {
		return nil, err
	}
	d := &dispatcher{ln: ln, acc: acc, logf: logf, done: make(chan struct{})}
	d.cond = sync.NewCond(&d.mu)
	return d, nil
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
	d.acc.Close()
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
// It accepts only while some worker can take the connections, so before the
// first generation is ready they wait in the kernel's backlog.
func (d *dispatcher) run() {
	defer close(d.done)
	fds := make([]int, 0, sockets.MaxBatch)
	for {
		d.mu.Lock()
		ok := d.waitTargetsLocked()
		d.mu.Unlock()
		if !ok {
			return
		}
		var err error
		fds, err = d.acc.Accept(fds)
		if len(fds) > 0 {
			d.dispatch(fds)
			for _, fd := range fds {
				unix.Close(fd) // the workers hold their own copies
			}
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and friends: back off a little, like net/http.
			d.logf("Accept failed: %v", err)
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// dispatch shares fds round-robin between the targets, one message per
// worker; a worker that cannot take its share passes it to the next one.
func (d *dispatcher) dispatch(fds []int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.waitTargetsLocked() {
		return
	}
	n := len(d.targets)
	groups := make([][]int, n)
	for i, fd := range fds {
		j := (d.next + i) % n
		groups[j] = append(groups[j], fd)
	}
	d.next = (d.next + len(fds)) % n
	for j, g := range groups {
		for k := 0; k < n && len(g) > 0; k++ {
			p := d.targets[(j+k)%n]
			err := sockets.SendFDs(p.dispatch, g, sendTimeout)
			if err == nil {
				break
			}
			d.logf("Cannot pass %d connection(s) to worker %s: %v", len(g), p.id, err)
		}
	}
}
