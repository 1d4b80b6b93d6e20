//go:build linux

// Package uring is the little of io_uring the server's flushers and the
// benchmark tool use: a ring set up with io_uring_setup, its submission and
// completion queues mapped with mmap, entries filled in place and
// io_uring_enter to submit and wait. No cgo and no library: the kernel ABI
// (include/uapi/linux/io_uring.h) is spelled out below.
//
// A Ring is used by one goroutine at a time. It owns the submission queue's
// tail and the completion queue's head; the kernel owns the other two, so
// each side publishes its index with an atomic store and reads the other's
// with an atomic load (the barriers the ring protocol asks for). The
// submission queue's indirection array maps slot i to entry i once and for
// all, so entries are filled at tail & mask.
package uring

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Operations and flags used here.
const (
	OpSendmsg      = 9  // IORING_OP_SENDMSG
	OpSend         = 26 // IORING_OP_SEND
	EnterGetEvents = 1  // IORING_ENTER_GETEVENTS
)

const (
	offSQRing      = 0
	offCQRing      = 0x8000000
	offSQEs        = 0x10000000
	featSingleMmap = 1 << 0
)

type sqOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// params is struct io_uring_params (120 bytes).
type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqOffsets
	cqOff                                                                  cqOffsets
}

// SQE is struct io_uring_sqe (64 bytes), with the fields a send uses named
// and the unions under their first member's name.
type SQE struct {
	Opcode      uint8
	Flags       uint8
	Ioprio      uint16
	Fd          int32
	Off         uint64
	Addr        uint64
	Len         uint32
	OpFlags     uint32 // msg_flags for a send
	UserData    uint64
	BufIndex    uint16
	Personality uint16
	FileIndex   int32
	Addr3       uint64
	pad         uint64
}

// CQE is struct io_uring_cqe (16 bytes; no IORING_SETUP_CQE32).
type CQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

// Ring is one io_uring instance.
type Ring struct {
	fd     int
	maps   [][]byte
	sqHead *uint32 // advanced by the kernel
	sqTail *uint32 // advanced by us
	sqMask uint32
	cqHead *uint32 // advanced by us
	cqTail *uint32 // advanced by the kernel
	cqMask uint32
	sqes   []SQE
	cqes   []CQE
	// Entries is the size of the submission queue; the completion queue
	// has at least as many.
	Entries uint32
}

// Setup makes a ring with at least entries submission slots (the kernel
// rounds up to a power of two). Its error is the system call's (EPERM
// where seccomp forbids io_uring, ENOSYS on kernels without it).
func Setup(entries uint32) (*Ring, error) {
	var p params
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, errno
	}
	r := &Ring{fd: int(fd)}
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*int(unsafe.Sizeof(CQE{}))
	single := p.features&featSingleMmap != 0
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
	sq, err := mmap(offSQRing, sqSize)
	if err != nil {
		r.Close()
		return nil, err
	}
	cq := sq
	if !single {
		if cq, err = mmap(offCQRing, cqSize); err != nil {
			r.Close()
			return nil, err
		}
	}
	sqeMem, err := mmap(offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(SQE{})))
	if err != nil {
		r.Close()
		return nil, err
	}
	u32 := func(mem []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }
	r.sqHead, r.sqTail, r.sqMask = u32(sq, p.sqOff.head), u32(sq, p.sqOff.tail), *u32(sq, p.sqOff.ringMask)
	r.cqHead, r.cqTail, r.cqMask = u32(cq, p.cqOff.head), u32(cq, p.cqOff.tail), *u32(cq, p.cqOff.ringMask)
	r.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&sqeMem[0])), p.sqEntries)
	r.cqes = unsafe.Slice((*CQE)(unsafe.Pointer(&cq[p.cqOff.cqes])), p.cqEntries)
	r.Entries = min(p.sqEntries, p.cqEntries)
	array := unsafe.Slice(u32(sq, p.sqOff.array), p.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	return r, nil
}

// Close unmaps the queues and closes the ring (nil: nothing).
func (r *Ring) Close() {
	if r == nil {
		return
	}
	for _, m := range r.maps {
		_ = unix.Munmap(m)
	}
	r.maps, r.sqes, r.cqes = nil, nil, nil
	_ = unix.Close(r.fd)
}

// Tail is the submission queue's tail: entries filled past it are not
// the kernel's yet.
func (r *Ring) Tail() uint32 { return *r.sqTail }

// Entry is the entry i places after the tail, to fill.
func (r *Ring) Entry(i uint32) *SQE { return &r.sqes[(*r.sqTail+i)&r.sqMask] }

// SetTail publishes the entries up to tail (or takes back those the kernel
// has not consumed, when tail is lower).
func (r *Ring) SetTail(tail uint32) { atomic.StoreUint32(r.sqTail, tail) }

// Consumed is the submission queue's head: entries before it were taken.
func (r *Ring) Consumed() uint32 { return atomic.LoadUint32(r.sqHead) }

// Enter submits what was published and not taken yet and, with wait > 0,
// waits for wait completions (the kernel skips the wait when it took fewer
// entries than offered). An interrupted call is made again.
func (r *Ring) Enter(wait uint32) error {
	flags := uintptr(0)
	if wait > 0 {
		flags = EnterGetEvents
	}
	for {
		toSubmit := *r.sqTail - r.Consumed()
		_, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(wait), flags, 0, 0)
		if errno == 0 {
			return nil
		}
		if errno != unix.EINTR {
			return errno
		}
	}
}

// Reap hands every available completion to fn, frees their slots and
// returns how many there were.
func (r *Ring) Reap(fn func(*CQE)) int {
	head := *r.cqHead
	n := 0
	for tail := atomic.LoadUint32(r.cqTail); head != tail; head++ {
		fn(&r.cqes[head&r.cqMask])
		n++
	}
	atomic.StoreUint32(r.cqHead, head)
	return n
}
