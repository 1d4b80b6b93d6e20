//go:build linux && !portable

package server

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
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
	fd     int
	maps   [][]byte
	sqHead *uint32 // advanced by the kernel
	sqTail *uint32 // advanced by us
	sqMask uint32
	cqHead *uint32 // advanced by us
	cqTail *uint32 // advanced by the kernel
	cqMask uint32
	sqes   []ringSQE
	cqes   []ringCQE

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

// Kernel ABI (include/uapi/linux/io_uring.h).
const (
	ioringOffSQRing      = 0
	ioringOffCQRing      = 0x8000000
	ioringOffSQEs        = 0x10000000
	ioringFeatSingleMmap = 1 << 0
	ioringEnterGetEvents = 1 << 0
	ioringOpSendmsg      = 9
)

type ringSQOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type ringCQOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// ringParams is struct io_uring_params.
type ringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  ringSQOffsets
	cqOff                                                                  ringCQOffsets
}

// ringSQE is struct io_uring_sqe (64 bytes) as a send fills it.
type ringSQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	msgFlags    uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	fileIndex   int32
	addr3       uint64
	pad         uint64
}

// ringCQE is struct io_uring_cqe (16 bytes).
type ringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

// ringUsable says, once per process, whether flushers may use io_uring.
var ringUsable = sync.OnceValue(func() bool {
	if os.Getenv("REVERB_IO_URING") == "0" {
		return false
	}
	r, err := setupRing(8)
	if err != nil {
		return false
	}
	defer r.close()
	return r.probeNoWait()
})

// newSendRing is a flusher's ring, or nil when flushers write with writev.
func newSendRing() *sendRing {
	if !ringUsable() {
		return nil
	}
	r, err := setupRing(ringChunk)
	if err != nil {
		return nil
	}
	return r
}

func setupRing(entries uint32) (*sendRing, error) {
	var p ringParams
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, errno
	}
	r := &sendRing{fd: int(fd)}
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*int(unsafe.Sizeof(ringCQE{}))
	single := p.features&ioringFeatSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	mmap := func(off int64, size int) ([]byte, error) {
		m, err := unix.Mmap(r.fd, off, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err == nil {
			r.maps = append(r.maps, m)
		}
		return m, err
	}
	sq, err := mmap(ioringOffSQRing, sqSize)
	if err != nil {
		r.close()
		return nil, err
	}
	cq := sq
	if !single {
		if cq, err = mmap(ioringOffCQRing, cqSize); err != nil {
			r.close()
			return nil, err
		}
	}
	sqeMem, err := mmap(ioringOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(ringSQE{})))
	if err != nil {
		r.close()
		return nil, err
	}
	u32 := func(mem []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }
	r.sqHead, r.sqTail, r.sqMask = u32(sq, p.sqOff.head), u32(sq, p.sqOff.tail), *u32(sq, p.sqOff.ringMask)
	r.cqHead, r.cqTail, r.cqMask = u32(cq, p.cqOff.head), u32(cq, p.cqOff.tail), *u32(cq, p.cqOff.ringMask)
	r.sqes = unsafe.Slice((*ringSQE)(unsafe.Pointer(&sqeMem[0])), p.sqEntries)
	r.cqes = unsafe.Slice((*ringCQE)(unsafe.Pointer(&cq[p.cqOff.cqes])), p.cqEntries)
	// Slot i of the submission ring always names entry i.
	array := unsafe.Slice(u32(sq, p.sqOff.array), p.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	return r, nil
}

func (r *sendRing) close() {
	if r == nil {
		return
	}
	for _, m := range r.maps {
		_ = unix.Munmap(m)
	}
	r.maps, r.sqes, r.cqes = nil, nil, nil
	_ = unix.Close(r.fd)
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
	if !r.submit(1, 0) {
		return false
	}
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		head := *r.cqHead
		if head != atomic.LoadUint32(r.cqTail) {
			res := r.cqes[head&r.cqMask].res
			atomic.StoreUint32(r.cqHead, head+1)
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

// fill writes submission entry i: a sendmsg of hdr on fd.
func (r *sendRing) fill(i uint32, fd int, hdr *unix.Msghdr, user uint64) {
	tail := *r.sqTail + i
	r.sqes[tail&r.sqMask] = ringSQE{
		opcode:   ioringOpSendmsg,
		fd:       int32(fd),
		addr:     uint64(uintptr(unsafe.Pointer(hdr))),
		len:      1,
		msgFlags: unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL,
		userData: user,
	}
}

// submit publishes n filled entries and enters the kernel to take them,
// waiting for wait completions; false when io_uring_enter fails.
func (r *sendRing) submit(n, wait uint32) bool {
	atomic.StoreUint32(r.sqTail, *r.sqTail+n)
	return r.enter(*r.sqTail-atomic.LoadUint32(r.sqHead), wait)
}

// enter offers toSubmit entries and waits for wait completions (none when
// the kernel took fewer entries than offered); false when it fails.
func (r *sendRing) enter(toSubmit, wait uint32) bool {
	flags := uintptr(0)
	if wait > 0 {
		flags = ioringEnterGetEvents
	}
	for {
		_, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(wait), flags, 0, 0)
		if errno != unix.EINTR {
			return errno == 0
		}
		// Interrupted: what was taken stays taken; offer the rest.
		toSubmit = *r.sqTail - atomic.LoadUint32(r.sqHead)
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
	tail0 := *r.sqTail
	atomic.StoreUint32(r.sqTail, tail0+n)
	reaped := uint32(0)
	failed := false
	for {
		submitted := atomic.LoadUint32(r.sqHead) - tail0
		pending, inflight := n-submitted, submitted-reaped
		if pending == 0 && inflight == 0 {
			break
		}
		if pending > 0 && failed {
			// The kernel refuses entries: take back those it did not
			// take and write them with writev, now and from now on.
			atomic.StoreUint32(r.sqTail, tail0+submitted)
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
		failed = !r.enter(pending, pending+inflight)
		head := *r.cqHead
		for tail := atomic.LoadUint32(r.cqTail); head != tail; head++ {
			cqe := r.cqes[head&r.cqMask]
			s := &r.chunk[cqe.userData]
			switch {
			case cqe.res >= 0:
				s.n = int(cqe.res)
			case cqe.res == -int32(unix.EAGAIN) || cqe.res == -int32(unix.EINTR):
				s.n = 0 // full: the writer goroutine waits for room
			default:
				s.err = syscall.Errno(-cqe.res)
			}
			reaped++
		}
		atomic.StoreUint32(r.cqHead, head)
	}
	// The kernel is done with every header, iovec and frame.
	runtime.KeepAlive(r.hdrs)
	runtime.KeepAlive(r.iovs)
}
