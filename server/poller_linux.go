//go:build linux && !portable

package server

import (
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The epoll read driver: idle connections hold no goroutine and no read
// buffer. Each poller owns one epoll instance and one goroutine, and a
// socket is in one poller's set, so one goroutine handles its events, one
// at a time: it reads until EAGAIN (or a short read) into a pooled buffer
// and feeds the decoder, at most readsPerTurn buffers before the other
// ready sockets get their turn. Sockets are registered edge-triggered, so a
// socket costs one epoll_ctl to register and one to remove, none per
// message; data that arrives after a read is a new edge. Reads run inside
// RawConn callbacks, which pin the descriptor so it can neither be closed
// nor reused meanwhile.
//
// Handling runs on the poller goroutine: message handling never blocks on
// a socket (sends only enqueue), so one poller serves many sockets.

const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET

type poller struct {
	epfd int
	// wake is an eventfd in the epoll set: written on stop so the poller
	// goroutine returns at once.
	wake int
	mu   sync.Mutex // guards conns
	// conns maps descriptor → what handles its events: a socket waiting
	// for its upgrade request (pendingUpgrade), then its WebSocket (conn).
	conns map[int32]pollable
}

// pollable is what a poller hands a ready descriptor to, with the epoll
// events reported for it.
type pollable interface{ onReadable(events uint32) }

// hungUp reports whether events say the client closed or reset: a short
// read then does not mean drained, as no new edge will announce the end.
func hungUp(events uint32) bool {
	return events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0
}

// pollSet is the server's pollers; sockets are spread round robin.
type pollSet struct {
	ps   []*poller
	mu   sync.Mutex // guards next; nothing else is locked under it
	next int
}

func newPollSet(n int, s *Server) (*pollSet, error) {
	set := &pollSet{}
	for i := 0; i < n; i++ {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			for _, p := range set.ps {
				_ = unix.Close(p.epfd)
			}
			return nil, err
		}
		wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			_ = unix.Close(fd)
			return nil, err
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}
		if err := unix.EpollCtl(fd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
			_ = unix.Close(fd)
			_ = unix.Close(wake)
			return nil, err
		}
		p := &poller{epfd: fd, wake: wake, conns: map[int32]pollable{}}
		set.ps = append(set.ps, p)
		s.wg.Add(1)
		go p.run(s)
	}
	return set, nil
}

// stop wakes every poller so it sees s.stop closed.
func (set *pollSet) stop() {
	if set == nil {
		return
	}
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	for _, p := range set.ps {
		_, _ = unix.Write(p.wake, one)
	}
}

// pollState is a socket's registration with a poller.
type pollState struct {
	p  *poller
	rc syscall.RawConn
	// now reads a bare descriptor without the closure rc.Read takes (one
	// allocation fewer per message a client sends); nil for other sockets.
	now nowReader
	fd  int32
	// pin is a socket on its bare descriptor (rawsock), pinned while the
	// poller knows the descriptor by number; unpinned once, by detach.
	pin      pinner
	unpinned atomic.Bool
}

// nowReader is a socket that reads its descriptor once without a
// closure (rawsock.Conn.ReadNow).
type nowReader interface {
	ReadNow(p []byte) (n int, ok bool, err error)
}

// read is one read(2) of the socket into buf: err is the registration's
// failure (the socket closed), rerr the read's, EINTR included.
func (ps *pollState) read(buf []byte) (n int, rerr, err error) {
	if ps.now != nil {
		if n, ok, rerr := ps.now.ReadNow(buf); ok {
			return n, rerr, nil
		}
	}
	return ps.readRaw(buf)
}

// readRaw is read through the RawConn (its closure allocates).
func (ps *pollState) readRaw(buf []byte) (n int, rerr, err error) {
	err = ps.rc.Read(func(f uintptr) bool {
		n, rerr = unix.Read(int(f), buf)
		return true
	})
	return n, rerr, err
}

// pinner is a socket whose descriptor must stay the same while pinned.
type pinner interface {
	Pin()
	Unpin()
}

// attach registers c for readiness events; false means the caller must
// run a reader goroutine instead (not a plain TCP socket).
func (set *pollSet) attach(c *conn) bool {
	tc, ok := plainTCP(c.nc)
	if !ok || set == nil {
		return false
	}
	// c.poll is set before the socket is visible to the poller.
	if !set.register(tc, c, func(ps *pollState) { c.poll.Store(ps) }) {
		c.poll.Store(nil)
		return false
	}
	return true
}

// register adds sc to the next poller with h handling its events; before
// is called with the registration before the first event can arrive.
func (set *pollSet) register(sc syscall.Conn, h pollable, before func(*pollState)) bool {
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	set.mu.Lock()
	p := set.ps[set.next%len(set.ps)]
	set.next++
	set.mu.Unlock()
	ps := &pollState{p: p, rc: rc}
	if now, ok := sc.(nowReader); ok {
		ps.now = now
	}
	if pin, ok := sc.(pinner); ok {
		pin.Pin()
		ps.pin = pin
	}
	var cerr error
	err = rc.Control(func(f uintptr) {
		ps.fd = int32(f)
		before(ps)
		p.mu.Lock()
		p.conns[ps.fd] = h
		p.mu.Unlock()
		ev := unix.EpollEvent{Events: pollEvents, Fd: ps.fd}
		cerr = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(f), &ev)
	})
	if err != nil || cerr != nil {
		p.mu.Lock()
		if p.conns[ps.fd] == h {
			delete(p.conns, ps.fd)
		}
		p.mu.Unlock()
		ps.unpin()
		return false
	}
	return true
}

func (ps *pollState) unpin() {
	if ps.pin != nil && ps.unpinned.CompareAndSwap(false, true) {
		ps.pin.Unpin()
	}
}

// handOver makes h the handler of ps's events (a pending upgrade becoming
// its WebSocket); the registration and the descriptor stay.
func (ps *pollState) handOver(h pollable) {
	ps.p.mu.Lock()
	ps.p.conns[ps.fd] = h
	ps.p.mu.Unlock()
}

// detach removes the registration of h; called before the socket is
// closed or given to another reader.
func (ps *pollState) detach(h pollable) {
	_ = ps.rc.Control(func(f uintptr) {
		_ = unix.EpollCtl(ps.p.epfd, unix.EPOLL_CTL_DEL, int(f), nil)
	})
	ps.p.mu.Lock()
	if ps.p.conns[ps.fd] == h {
		delete(ps.p.conns, ps.fd)
	}
	ps.p.mu.Unlock()
	ps.unpin()
}

// recheck makes epoll report the socket again if it is readable now: for a
// handler that stopped reading before the socket was drained, as an edge
// comes only with new data.
func (ps *pollState) recheck() {
	_ = ps.rc.Control(func(f uintptr) {
		ev := unix.EpollEvent{Events: pollEvents, Fd: ps.fd}
		_ = unix.EpollCtl(ps.p.epfd, unix.EPOLL_CTL_MOD, int(f), &ev)
	})
}

func (p *poller) run(s *Server) {
	defer s.wg.Done()
	defer unix.Close(p.wake)
	defer unix.Close(p.epfd)
	events := make([]unix.EpollEvent, 128)
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		n, err := p.wait(events)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			s.logError("epoll: " + err.Error())
			return
		}
		for i := 0; i < n; i++ {
			if events[i].Fd == int32(p.wake) {
				continue
			}
			p.mu.Lock()
			h := p.conns[events[i].Fd]
			p.mu.Unlock()
			if h != nil {
				h.onReadable(events[i].Events)
			}
		}
	}
}

// wait returns the poller's ready events, blocking only when none are.
// The first look is a raw epoll_pwait with a zero timeout: it cannot block,
// so Go's scheduler is not told of it, and a busy poller does not go
// through a blocking system call's hand-off of its P (sysmon retakes a P
// held 20 µs in a system call; the poller must then find one again) between
// batches. In the connect storm this took 4–10 % off the server's CPU per
// connect (docs/performance.md).
func (p *poller) wait(events []unix.EpollEvent) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.epfd),
		uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e == 0 && r > 0 {
		return int(r), nil
	}
	return unix.EpollWait(p.epfd, events, -1)
}

// readsPerTurn is how many full buffers one socket's event reads before
// the poller moves on: a client that writes without pause is read again
// after the other sockets that are ready, rather than holding the poller
// (and every socket it serves) for as long as it keeps writing.
const readsPerTurn = 4

// onReadable reads what arrived, hands it to the decoder and re-arms.
func (c *conn) onReadable(events uint32) {
	hup := hungUp(events)
	ps := c.poll.Load()
	if ps == nil {
		return
	}
	bp := largeBufPool.Get().(*[]byte)
	defer largeBufPool.Put(bp)
	buf := *bp
	for reads := 1; ; reads++ {
		n, rerr, err := ps.read(buf)
		if err != nil {
			c.abort()
			return
		}
		if rerr == unix.EINTR {
			continue
		}
		if rerr == unix.EAGAIN {
			break
		}
		if rerr != nil || n == 0 {
			c.abort()
			return
		}
		c.app.stats.BytesIn.Add(int64(n))
		// While closing (input false), what the client still sends is
		// read and discarded until its FIN or the linger timer.
		if c.input(buf[:n]) && n < len(buf) && !hup {
			break // drained: what comes next is a new edge
		}
		if reads >= readsPerTurn {
			// More is waiting: no new edge will say so, so ask epoll to
			// report the socket again, behind the others ready now.
			ps.recheck()
			break
		}
	}
}

// lingerThenAbort ends a closing socket whose client never closes.
func (c *conn) lingerThenAbort() {
	time.AfterFunc(closeLinger, c.abort)
}
