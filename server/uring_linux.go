//go:build linux && !portable

package server

import (
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/reverb-go/reverb/internal/uring"
)

// A flusher's batched sends (io_uring). A flusher drains a ready list of
// sockets; with one write(2)/writev(2) each, a fan-out of one event to
// 10,000 subscribers is 10,000 system calls, and on loopback each one that
// wakes a reader tends to be followed by being switched out on the way back
// to user space. With a sendRing the flusher queues one IORING_OP_SENDMSG
// per socket and submits the whole chunk with one io_uring_enter, which also
// waits for their completions: measured with reverb-bench's uring scenario,
// half the CPU per send, and a burst to 10,000 sockets finished in a third
// of the time (docs/performance.md).
//
// The sends must not wait for room: each carries MSG_DONTWAIT, so a socket
// whose buffer is full completes at once with EAGAIN and takes the
// writer-goroutine path, as with writev. Whether this kernel honours that
// for io_uring is checked once (probeNoWait); where it does not, where
// io_uring is refused (old kernels, seccomp profiles of containers) or with
// REVERB_IO_URING=0, flushers write each socket with writev.
//
// A socket's descriptor must stay its own while the kernel uses it: each
// send is made inside the socket's RawConn.Write callback, which holds a
// reference on the descriptor (a concurrent Close waits for it), nested
// once per socket of the chunk (holdFDs).
//
// Ownership: a sendRing belongs to one flusher goroutine, which alone
// fills the submission ring and reaps the completion ring; it is closed
// when that goroutine ends.
type sendRing struct {
	ring *uring.Ring

	// broken: io_uring_enter failed; the flusher writes with writev from
	// then on.
	broken bool

	// Per chunk, reused: the sockets, their message headers and iovecs.
	chunk []ringSend
	hdrs  []unix.Msghdr
	iovs  []unix.Iovec
	order []int // chunk index of each submission entry, in ring order
}

// ringSend is one socket's send in a chunk.
type ringSend struct {
	c     *conn
	bufs  [][]byte
	total int
	fd    int // -1: the descriptor is gone (closed)
	n     int
	err   error
}

// ringChunk is how many sockets one io_uring_enter carries (the ring's
// size, and the depth of holdFDs' nesting).
const ringChunk = 256

// ringIOVMax is the most buffers one send carries (IOV_MAX, as writev).
const ringIOVMax = 1024

// ringUsable says, once per process, whether flushers may use io_uring.
var ringUsable = sync.OnceValue(func() bool {
	if os.Getenv("REVERB_IO_URING") == "0" {
		return false
	}
	r, err := uring.Setup(8)
	if err != nil {
		return false
	}
	defer r.Close()
	return (&sendRing{ring: r}).probeNoWait()
})

// newSendRing is a flusher's ring, or nil when flushers write with writev.
func newSendRing() *sendRing {
	if !ringUsable() {
		return nil
	}
	r, err := uring.Setup(ringChunk)
	if err != nil {
		return nil
	}
	return &sendRing{ring: r}
}

func (r *sendRing) close() {
	if r != nil {
		r.ring.Close()
	}
}

// probeNoWait checks that a send with MSG_DONTWAIT to a full socket
// completes at once with EAGAIN rather than waiting for room: a flusher
// waits for all its completions, so a send that waited would stall it.
func (r *sendRing) probeNoWait() bool {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fds[1])
	closed := false
	defer func() {
		if !closed {
			unix.Close(fds[0])
		}
	}()
	fill := make([]byte, 64<<10)
	for {
		if _, err := unix.Write(fds[0], fill); err != nil {
			if err != unix.EAGAIN {
				return false
			}
			break
		}
	}
	one := []byte{1}
	hdr := []unix.Msghdr{{}}
	iov := []unix.Iovec{{Base: &one[0]}}
	iov[0].SetLen(1)
	hdr[0].Iov = &iov[0]
	hdr[0].SetIovlen(1)
	r.fill(0, fds[0], &hdr[0], 0)
	r.ring.SetTail(r.ring.Tail() + 1)
	if r.ring.Enter(0) != nil {
		return false
	}
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		var res int32
		if r.ring.Reap(func(c *uring.CQE) { res = c.Res }) > 0 {
			runtime.KeepAlive(one)
			runtime.KeepAlive(hdr)
			runtime.KeepAlive(iov)
			return res == -int32(unix.EAGAIN)
		}
		time.Sleep(time.Millisecond)
	}
	// The send waits for room: closing the socket ends it; this ring is
	// closed by the caller and none is used.
	unix.Close(fds[0])
	closed = true
	runtime.KeepAlive(one)
	runtime.KeepAlive(hdr)
	runtime.KeepAlive(iov)
	return false
}

// fill writes the submission entry i places after the tail: a sendmsg of
// hdr on fd that never waits for room.
func (r *sendRing) fill(i uint32, fd int, hdr *unix.Msghdr, user uint64) {
	*r.ring.Entry(i) = uring.SQE{
		Opcode:   uring.OpSendmsg,
		Fd:       int32(fd),
		Addr:     uint64(uintptr(unsafe.Pointer(hdr))),
		Len:      1,
		OpFlags:  unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL,
		UserData: user,
	}
}

// flush is a flusher's turn with a batch: each socket's queue goes out in
// one sendmsg, the sockets' sends in chunks of one io_uring_enter each.
// TLS sockets are sealed and written one by one (conn.flushOnce).
func (r *sendRing) flush(batch []*conn) {
	r.chunk = r.chunk[:0]
	for _, c := range batch {
		if c.tls != nil || c.raw == nil {
			c.flushOnce()
			continue
		}
		bufs, total, ok := c.takeQueue()
		if !ok {
			continue
		}
		r.chunk = append(r.chunk, ringSend{c: c, bufs: bufs, total: total, fd: -1})
		if len(r.chunk) == ringChunk {
			r.sendChunk()
		}
	}
	if len(r.chunk) > 0 {
		r.sendChunk()
	}
}

// sendChunk sends r.chunk and ends each socket's turn (conn.afterFlush).
func (r *sendRing) sendChunk() {
	r.holdFDs(0)
	for i := range r.chunk {
		s := &r.chunk[i]
		s.c.afterFlush(s.bufs, s.total, s.n, s.err)
		r.chunk[i] = ringSend{}
	}
	r.chunk = r.chunk[:0]
}

// holdFDs enters socket i's RawConn.Write, which keeps its descriptor from
// being closed and reused meanwhile, and goes on with the next; inside the
// last one every held socket is sent to.
func (r *sendRing) holdFDs(i int) {
	if i == len(r.chunk) {
		r.sendHeld()
		return
	}
	s := &r.chunk[i]
	entered := false
	err := s.c.raw.Write(func(fd uintptr) bool {
		entered = true
		s.fd = int(fd)
		r.holdFDs(i + 1)
		return true
	})
	if !entered {
		if err == nil {
			err = syscall.EBADF
		}
		s.err = err
		r.holdFDs(i + 1)
	}
}

// complete records a send's completion in its socket's entry.
func (r *sendRing) complete(cqe *uring.CQE) {
	s := &r.chunk[cqe.UserData]
	switch {
	case cqe.Res >= 0:
		s.n = int(cqe.Res)
	case cqe.Res == -int32(unix.EAGAIN) || cqe.Res == -int32(unix.EINTR):
		s.n = 0 // full: the writer goroutine waits for room
	default:
		s.err = syscall.Errno(-cqe.Res)
	}
}

// writeOne writes a held socket with writev (its descriptor is
// non-blocking: a full socket writes nothing).
func (r *sendRing) writeOne(s *ringSend) {
	m, err := unix.Writev(s.fd, s.bufs[:min(len(s.bufs), ringIOVMax)])
	switch {
	case err == nil:
		s.n = m
	case err == unix.EAGAIN || err == unix.EINTR:
	default:
		s.err = err
	}
}

// sendHeld submits one sendmsg per held socket and reaps every completion.
func (r *sendRing) sendHeld() {
	r.hdrs = r.hdrs[:0]
	r.iovs = r.iovs[:0]
	// Headers and iovecs are laid out first (appending may move them), then
	// pointed at.
	for i := range r.chunk {
		s := &r.chunk[i]
		if s.fd < 0 {
			continue
		}
		for _, b := range s.bufs[:min(len(s.bufs), ringIOVMax)] {
			iov := unix.Iovec{}
			if len(b) > 0 {
				iov.Base = &b[0]
			}
			iov.SetLen(len(b))
			r.iovs = append(r.iovs, iov)
		}
		r.hdrs = append(r.hdrs, unix.Msghdr{})
	}
	var n uint32
	iov := 0
	r.order = r.order[:0]
	for i := range r.chunk {
		s := &r.chunk[i]
		if s.fd < 0 {
			continue
		}
		k := min(len(s.bufs), ringIOVMax)
		h := &r.hdrs[n]
		h.Iov = &r.iovs[iov]
		h.SetIovlen(k)
		iov += k
		r.fill(n, s.fd, h, uint64(i))
		r.order = append(r.order, i)
		n++
	}
	if n == 0 {
		return
	}
	// Entries are consumed in order: the first submitted ones of the
	// chunk's sends are r.order[:submitted]. The kernel skips the wait when
	// it took fewer entries than offered, so the wait below never waits for
	// a send that was not submitted.
	tail0 := r.ring.Tail()
	r.ring.SetTail(tail0 + n)
	reaped := uint32(0)
	failed := false
	for {
		submitted := r.ring.Consumed() - tail0
		pending, inflight := n-submitted, submitted-reaped
		if pending == 0 && inflight == 0 {
			break
		}
		if pending > 0 && failed {
			// The kernel refuses entries: take back those it did not
			// take and write them with writev, now and from now on.
			r.ring.SetTail(tail0 + submitted)
			for _, i := range r.order[submitted:n] {
				r.writeOne(&r.chunk[i])
			}
			n = submitted
			r.broken = true
			continue
		}
		if failed {
			// Sends in flight complete at once (MSG_DONTWAIT): look again
			// shortly rather than leave completions for the next chunk.
			time.Sleep(time.Millisecond)
		}
		failed = r.ring.Enter(pending+inflight) != nil
		reaped += uint32(r.ring.Reap(r.complete))
	}
	// The kernel is done with every header, iovec and frame.
	runtime.KeepAlive(r.hdrs)
	runtime.KeepAlive(r.iovs)
}
