//go:build linux && !portable

package supervisor

import (
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reverb-go/reverb/supervisor/fdreserve"
	"github.com/reverb-go/reverb/supervisor/sockets"
	"golang.org/x/sys/unix"
)

// sendTimeout bounds passing one connection to a worker; a worker whose
// dispatch socket stays full that long is skipped for the next one.
const sendTimeout = 2 * time.Second

// growWait bounds how long connections wait (in the listen queue) for a
// worker being added when no worker has room; past it they go the last
// resort's way.
const growWait = 5 * time.Second

// roomPoll is how often a dispatch waiting for room looks again even when
// nothing woke it.
const roomPoll = 100 * time.Millisecond

// What the pool can do when no worker has room (set by the event loop).
const (
	growIdle     int32 = iota // it may grow: ask (dispatcher.more)
	growStarting              // a worker is being added
	growBlocked               // a bound says no, for now
)

// dispatcher accepts on the listening socket and hands each connection to
// the serving workers in turn (see sockets/dispatch.go for why the
// supervisor accepts instead of the workers).
//
// Each worker's descriptor count (its answers, plus what was sent since)
// says how much room it has: a worker is sent at most what fits, workers
// below the high-water mark first (pool.go). When none is below it, the
// dispatcher asks the event loop for one more worker (more); when none
// has room at all it holds the connections while a worker is being added
// (they wait in the listen queue, growWait at most).
//
// At the open-files limit: each worker's Outbox keeps the supervisor's copy
// of what it sent until the worker says how many descriptors it installed;
// the ones that did not fit, or that a full worker declined, come back here
// (requeue) and go to a worker not tried yet. When no worker has room and
// the pool cannot grow, they go round the full ones as a last resort, since
// a full worker answers the HTTP API from its reserve (and refuses
// WebSockets with 503). A connection no worker can take is answered 503 by
// the supervisor and counted.
//
// Lock story: mu guards targets, next and closed. The accept goroutine and
// the retry goroutine hold mu while they pick a worker and send, so when
// set returns, no connection is on its way to a worker that was removed:
// the supervisor can then order that worker to drain knowing everything it
// was sent is already queued. They never wait for room holding mu. qmu
// guards the retry queue; the Outbox readers only append to it and signal
// room (they never wait for mu). growth is written by the event loop only.
type dispatcher struct {
	ln    net.Listener
	acc   *sockets.Acceptor
	logf  func(format string, args ...any) // warnings
	infof func(format string, args ...any)
	// limit is the supervisor's own open-files limit (what workers
	// inherit), for messages before a worker reported its own.
	limit uint64
	// advice names the fix in messages about workers at their limit
	// (set before run; the pool's bounds, pool.go).
	advice func(limit uint64) string

	mu      sync.Mutex
	cond    *sync.Cond
	targets []*proc
	next    int
	closed  bool
	// refusing: connections went the last resort's way because the
	// pool could not grow (said in the log); the next one placed says
	// there is room again. Under mu.
	refusing bool

	qmu     sync.Mutex
	queue   []retryBatch
	qclosed bool
	wake    chan struct{}
	logs    limitLogs
	refused atomic.Int64 // connections no worker could take

	// more asks the event loop for one more worker (capacity 1, never
	// blocks); room wakes a dispatch waiting for room (an answer of a
	// worker, new targets, the growth state); stop is closed by close.
	more   chan struct{}
	room   chan struct{}
	stop   chan struct{}
	growth atomic.Int32

	done      chan struct{}
	retryDone chan struct{}
}

// retryBatch is descriptors a worker could not install or declined.
type retryBatch struct {
	fds []int
	route
}

// route is how far a group of descriptors got: the workers tried, and
// whether it is already the last-resort round over full workers.
type route struct {
	tried      []*proc
	lastResort bool
}

func newDispatcher(ln net.Listener, limit uint64, logf, infof func(format string, args ...any)) (*dispatcher, error) {
	acc, err := sockets.NewAcceptor(ln)
	if err != nil {
		return nil, err
	}
	d := &dispatcher{ln: ln, acc: acc, logf: logf, infof: infof, limit: limit, advice: fdreserve.Advice, wake: make(chan struct{}, 1),
		more: make(chan struct{}, 1), room: make(chan struct{}, 1), stop: make(chan struct{}),
		done: make(chan struct{}), retryDone: make(chan struct{})}
	d.cond = sync.NewCond(&d.mu)
	d.logs.logf = logf
	return d, nil
}

// set replaces the workers that receive new connections.
func (d *dispatcher) set(targets []*proc) {
	d.mu.Lock()
	d.targets = targets
	d.cond.Broadcast()
	d.mu.Unlock()
	d.signalRoom()
}

// setGrowth tells the dispatcher what the pool can do (the event loop's).
func (d *dispatcher) setGrowth(state int32) {
	if d.growth.Swap(state) != state {
		d.signalRoom()
		if state == growBlocked && d.allFull() {
			// Every worker said it was full while a worker could still be
			// added; now none can.
			d.logAllFull(d.limit)
		}
	}
}

// allFull reports whether every serving worker said it is full.
func (d *dispatcher) allFull() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	all := len(d.targets) > 0
	for _, t := range d.targets {
		all = all && t.out.Full()
	}
	return all
}

// logAllFull says, rate-limited, that new WebSockets get 503.
func (d *dispatcher) logAllFull(limit uint64) {
	d.logs.print("all full", "Every worker is at its open-files limit (%d) and the pool cannot grow: new WebSocket connections are refused with 503 while the HTTP API keeps answering; %s",
		limit, d.advice(limit))
}

// signalRoom wakes a dispatch waiting for room; it never blocks.
func (d *dispatcher) signalRoom() {
	select {
	case d.room <- struct{}{}:
	default:
	}
}

// askMore asks the event loop for one more worker; it never blocks.
func (d *dispatcher) askMore() {
	select {
	case d.more <- struct{}{}:
	default:
	}
}

// close stops dispatching: the accept and retry goroutines end and the
// listening socket closes (nothing accepts new connections any more).
func (d *dispatcher) close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	d.targets = nil
	d.cond.Broadcast()
	d.mu.Unlock()
	close(d.stop)
	d.acc.Close()
	d.ln.Close()
	<-d.done
	d.qmu.Lock()
	d.qclosed = true
	close(d.wake)
	d.qmu.Unlock()
	<-d.retryDone
}

// refusedCount is how many connections no worker could take.
func (d *dispatcher) refusedCount() int64 { return d.refused.Load() }

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
	go d.retryLoop()
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
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and friends: back off a little, like net/http; the
			// connections wait in the listen queue meanwhile.
			if fdreserve.IsExhaustion(err) {
				d.logs.print("supervisor", "The supervisor is at its open-files limit (%d) with connections on their way to workers: new ones wait in the listen queue; %s",
					d.limit, fdreserve.Advice(d.limit))
			} else {
				d.logs.print("accept", "Accept failed: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// dispatch passes fds to workers with room (place); what does not fit
// waits for a worker being added, or goes the last resort's way.
func (d *dispatcher) dispatch(fds []int) {
	d.deliver(fds, route{})
}

// deliver places fds and waits for room as long as the pool is growing;
// it returns once every descriptor was sent, refused or closed.
func (d *dispatcher) deliver(fds []int, r route) {
	var deadline time.Time
	for {
		d.mu.Lock()
		if !d.waitTargetsLocked() {
			d.mu.Unlock()
			closeAll(fds)
			return
		}
		if r.lastResort {
			cands, rr := d.nextLocked(r)
			d.sendLocked(fds, cands, rr)
			d.mu.Unlock()
			return
		}
		n := len(fds)
		fds, r.tried = d.placeLocked(fds, r.tried)
		if len(fds) < n && d.refusing {
			d.refusing = false
			d.logs.printWith(d.infof, "room", "The workers have room again under their open-files limit: WebSocket connections are accepted again")
		}
		if len(fds) == 0 {
			d.mu.Unlock()
			return
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(growWait)
		}
		if blocked := d.growth.Load() == growBlocked; blocked || now.After(deadline) {
			// Nothing will make room soon: full workers keep what fits
			// in their reserve, for the HTTP API.
			if blocked {
				d.logAllFull(d.limit)
				d.refusing = true
			}
			cands, rr := d.nextLocked(route{lastResort: true})
			d.sendLocked(fds, cands, rr)
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
		d.askMore()
		d.logs.printWith(d.infof, "waiting", "Every worker is at its open-files limit: %d connection(s) wait for the worker being added", len(fds))
		t := time.NewTimer(min(roomPoll, time.Until(deadline)))
		select {
		case <-d.room:
		case <-t.C:
		case <-d.stop:
		}
		t.Stop()
	}
}

// placeLocked sends each worker not in tried at most what fits under its
// limit: round-robin over the workers below the high-water mark, the rest
// over the workers above it with room. It returns what did not fit, and
// tried with the workers a send failed to. When no worker is below the
// high-water mark it asks for one more. Caller holds mu.
func (d *dispatcher) placeLocked(fds []int, tried []*proc) ([]int, []*proc) {
	type slot struct {
		p    *proc
		room int
		take []int
	}
	var low, high []*slot
	for _, p := range d.targets {
		if p.out.Full() || slices.Contains(tried, p) {
			continue
		}
		w := d.loadOf(p)
		s := &slot{p: p, room: w.room()}
		switch {
		case s.room <= 0:
			d.logs.print("full "+p.id, "Worker %d (%s) is at its open-files limit (%d): new connections go to the other workers",
				p.slot, p.id, w.limit)
		case w.high():
			high = append(high, s)
		default:
			low = append(low, s)
		}
	}
	if len(low) == 0 {
		d.askMore()
	}
	i := 0
	for _, tier := range [][]*slot{low, high} {
		for n := len(tier); i < len(fds) && n > 0; {
			// One pass of the round-robin, starting at next.
			progress := false
			for k := range tier {
				s := tier[(d.next+k)%len(tier)]
				if i < len(fds) && len(s.take) < s.room {
					s.take = append(s.take, fds[i])
					i++
					progress = true
				}
			}
			if !progress {
				break
			}
		}
		if len(tier) > 0 {
			d.next++
		}
	}
	left := slices.Clone(fds[i:])
	for _, tier := range [][]*slot{low, high} {
		for _, s := range tier {
			if len(s.take) == 0 {
				continue
			}
			// Handed back (the worker's table filled after all), they go
			// to another worker.
			tag := route{tried: append(slices.Clone(tried), s.p)}
			if err := s.p.out.Send(s.take, tag, false, sendTimeout); err != nil {
				d.logs.print("send "+s.p.id, "Cannot pass %d connection(s) to worker %s: %v", len(s.take), s.p.id, err)
				tried = append(tried, s.p)
				left = append(left, s.take...)
			}
		}
	}
	return left, tried
}

// loadOf is what the dispatcher knows of p's descriptors.
func (d *dispatcher) loadOf(p *proc) workerLoad {
	n, known := p.out.Load()
	limit := p.out.Limit()
	if limit == 0 {
		limit = d.limit
	}
	return workerLoad{known: known, limit: limit, load: n}
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// nextLocked lists the workers r may try next and the route to send with:
// workers with room not tried yet; when none is left, a new last-resort
// round over every worker (full ones keep what fits in their reserve),
// each tried once. An empty list means every worker was tried.
func (d *dispatcher) nextLocked(r route) ([]*proc, route) {
	cands, lastResort := d.candidatesLocked(r)
	if lastResort && !r.lastResort {
		r = route{lastResort: true}
	}
	return cands, r
}

func (d *dispatcher) candidatesLocked(r route) ([]*proc, bool) {
	if !r.lastResort {
		var room []*proc
		for _, p := range d.targets {
			if !p.out.Full() && !slices.Contains(r.tried, p) {
				room = append(room, p)
			}
		}
		if len(room) > 0 {
			return room, false
		}
		return slices.Clone(d.targets), true
	}
	var left []*proc
	for _, p := range d.targets {
		if !slices.Contains(r.tried, p) {
			left = append(left, p)
		}
	}
	return left, true
}

// sendLocked gives g to the first worker of order that takes the message;
// none: refused. Caller holds mu.
func (d *dispatcher) sendLocked(g []int, order []*proc, r route) {
	for _, p := range order {
		r.tried = append(r.tried[:len(r.tried):len(r.tried)], p) // each message its own list
		err := p.out.Send(g, r, r.lastResort, sendTimeout)
		if err == nil {
			return
		}
		d.logs.print("send "+p.id, "Cannot pass %d connection(s) to worker %s: %v", len(g), p.id, err)
	}
	d.refuse(g)
}

// refuse answers connections no worker can take with 503, and counts them.
func (d *dispatcher) refuse(fds []int) {
	for _, fd := range fds {
		sockets.Refuse(fd)
	}
	total := d.refused.Add(int64(len(fds)))
	d.logs.print("refused", "%d connection(s) answered 503: no worker could take them (%d so far); every worker is at its open-files limit (%d); %s",
		len(fds), total, d.limit, d.advice(d.limit))
}

// requeue takes back descriptors a worker could not install (an Outbox
// reader calls it); the retry goroutine passes them on.
func (d *dispatcher) requeue(fds []int, tag any) {
	r, _ := tag.(route)
	d.qmu.Lock()
	defer d.qmu.Unlock()
	if d.qclosed { // stopping: nothing accepts any more
		for _, fd := range fds {
			unix.Close(fd)
		}
		return
	}
	d.queue = append(d.queue, retryBatch{fds: fds, route: r})
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// retryLoop gives requeued descriptors to workers not tried yet; it is
// owned by run and ends when close closes wake.
func (d *dispatcher) retryLoop() {
	defer close(d.retryDone)
	for {
		d.qmu.Lock()
		q := d.queue
		d.queue = nil
		d.qmu.Unlock()
		for _, b := range q {
			d.deliver(b.fds, b.route)
		}
		if _, ok := <-d.wake; !ok {
			d.qmu.Lock()
			q := d.queue
			d.queue = nil
			d.qmu.Unlock()
			for _, b := range q {
				for _, fd := range b.fds {
					unix.Close(fd)
				}
			}
			return
		}
	}
}

// reported is a worker's report: full, or room again (an Outbox reader
// calls it).
func (d *dispatcher) reported(p *proc, r sockets.Report) {
	limit := r.Limit
	if limit == 0 {
		limit = d.limit
	}
	if !r.Full {
		d.logs.printWith(d.infof, "room "+p.id, "Worker %d (%s) has room again under its open-files limit (%d)", p.slot, p.id, limit)
		return
	}
	if d.allFull() {
		if d.growth.Load() != growBlocked {
			return // a worker may be added: said when none can (setGrowth)
		}
		d.logAllFull(limit)
		return
	}
	d.logs.print("full "+p.id, "Worker %d (%s) is at its open-files limit (%d): new connections go to the other workers",
		p.slot, p.id, limit)
}
