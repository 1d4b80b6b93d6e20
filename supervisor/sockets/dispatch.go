//go:build linux && !portable

package sockets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/reverb-go/reverb/internal/rawsock"
	"github.com/reverb-go/reverb/supervisor/fdreserve"
	"golang.org/x/sys/unix"
)

// Connection dispatch: the supervisor accepts every connection itself and
// passes each to one worker over a SOCK_SEQPACKET socketpair (SCM_RIGHTS),
// like Node's cluster module. Workers sharing a listening socket would each
// accept from it, but the kernel wakes them all and one process tends to win
// nearly every race, so a worker could end up with every WebSocket;
// dispatching spreads them evenly and lets a restart switch new connections
// to the new generation at one precise moment.
//
// Under a connection storm the supervisor accepts up to MaxBatch descriptors
// per wake-up with raw accept4 (no poller registration for a socket it only
// forwards) and sends each worker its share in one message.

// MaxBatch is the most descriptors accepted per wake-up and carried by one
// message (SCM_RIGHTS allows 253).
const MaxBatch = 64

// At the open-files limit. A worker whose descriptor table is full cannot
// install what it receives: the kernel drops those descriptors and sets
// MSG_CTRUNC. So the supervisor keeps its own copy of every descriptor it
// sends until the worker acknowledges the message, saying how many it
// installed; the rest go to another worker (Outbox). The worker then
// releases its reserve of descriptors (supervisor/fdreserve) and, while
// full, declines what it is sent (it acknowledges none of it), so the
// connections go to a worker with room. Only when no worker has room does
// the supervisor mark a message "last resort": a full worker then keeps
// what fits in its reserve, answers the HTTP API and refuses WebSockets
// with 503 until it has room again, which it reports.
//
// Messages (SOCK_SEQPACKET keeps their boundaries):
//
//	supervisor → worker  [n][seq, 4 bytes LE][flags] + SCM_RIGHTS(n descriptors)
//	                     flags 1: last resort (no worker has room)
//	                     [n] alone: no acknowledgement wanted (SendFDs)
//	worker → supervisor  ['A'][seq][k][full][limit][open]: k of the n
//	                     descriptors of message seq were installed
//	                     ['R'][0][0][full][limit][open]: full, or room
//	                     again, or its descriptor count moved
//	                     (limit and open: 4 bytes LE each; open is how many
//	                     descriptors the worker has open after installing,
//	                     0 when it cannot tell. An answer without open,
//	                     11 bytes, is read as "cannot tell".)
//
// The descriptor counts are what the supervisor sizes its worker pool by
// (it adds a worker when every worker is near its limit, and never sends a
// worker more than it has room for); the reserve and MSG_CTRUNC stay the
// backstop for what the counts cannot see coming.

const (
	msgAck         = 'A'
	msgReport      = 'R'
	sendLen        = 6
	answerLen      = 15
	answerLenV1    = 11 // without the open count
	flagLastResort = 1
)

// Report is a worker's state at its open-files limit.
type Report struct {
	Full  bool   // new connections do not fit
	Limit uint64 // the worker's open-files limit
	Open  uint64 // descriptors open in the worker (0: unknown)
}

func encodeAnswer(kind byte, seq uint32, installed int, r Report) []byte {
	b := make([]byte, answerLen)
	b[0] = kind
	binary.LittleEndian.PutUint32(b[1:], seq)
	b[5] = byte(installed)
	if r.Full {
		b[6] = 1
	}
	binary.LittleEndian.PutUint32(b[7:], uint32(min(r.Limit, 1<<32-1)))
	binary.LittleEndian.PutUint32(b[11:], uint32(min(r.Open, 1<<32-1)))
	return b
}

func decodeReport(b []byte) Report {
	r := Report{Full: b[6] == 1, Limit: uint64(binary.LittleEndian.Uint32(b[7:]))}
	if len(b) >= answerLen {
		r.Open = uint64(binary.LittleEndian.Uint32(b[11:]))
	}
	return r
}

// DispatchPair returns a connected SOCK_SEQPACKET pair: the supervisor's end
// and the worker's end as a file for ExtraFiles.
func DispatchPair() (*net.UnixConn, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	parent := os.NewFile(uintptr(fds[0]), "dispatch")
	defer parent.Close()
	c, err := net.FileConn(parent)
	if err != nil {
		unix.Close(fds[1])
		return nil, nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		unix.Close(fds[1])
		return nil, nil, errors.New("dispatch socket is not a unix socket")
	}
	return uc, os.NewFile(uintptr(fds[1]), "dispatch-worker"), nil
}

// Acceptor takes connections off a listening socket as raw descriptors.
// A listener's own RawConn cannot wait for readability, so the Acceptor
// holds a non-blocking duplicate registered with the runtime poller; Close
// it as well as the listener.
type Acceptor struct {
	f      *os.File
	rc     syscall.RawConn
	closed atomic.Bool
}

// NewAcceptor duplicates ln's socket (a *net.TCPListener or *net.UnixListener).
func NewAcceptor(ln net.Listener) (*Acceptor, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("cannot accept raw descriptors from a %T", ln)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	dup := -1
	var derr error
	if err := raw.Control(func(fd uintptr) { dup, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, os.NewSyscallError("fcntl", derr)
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		return nil, err
	}
	inheritTCPOptions(dup)
	f := os.NewFile(uintptr(dup), "listener") // non-blocking: uses the poller
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Acceptor{f: f, rc: rc}, nil
}

// inheritTCPOptions sets on the listening socket the options Go's net
// package sets on every TCP connection it makes: no Nagle delay, and
// keep-alive probes after 15 s idle, every 15 s, 9 of them. Accepted sockets
// inherit them from the listener (Linux copies the listener's socket), so
// workers driving the bare descriptors (rawsock) set nothing per
// connection. A Unix listener refuses them, which is fine.
func inheritTCPOptions(fd int) {
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 15)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 15)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 9)
}

// Close releases the duplicate; Accept then returns net.ErrClosed.
func (a *Acceptor) Close() error {
	a.closed.Store(true)
	return a.f.Close()
}

// Accept waits for at least one connection and returns up to MaxBatch of
// them, appended to fds[:0]. The caller owns (and must close) them. It
// returns net.ErrClosed once the Acceptor is closed.
func (a *Acceptor) Accept(fds []int) ([]int, error) {
	fds = fds[:0]
	var aerr error
	err := a.rc.Read(func(lfd uintptr) bool {
		for len(fds) < MaxBatch {
			nfd, err := accept4(int(lfd))
			switch {
			case err == nil:
				fds = append(fds, nfd)
			case err == unix.EAGAIN:
				return len(fds) > 0 // false: wait until readable
			case err == unix.EINTR || err == unix.ECONNABORTED:
			default:
				aerr = os.NewSyscallError("accept4", err)
				return true
			}
		}
		return true
	})
	if err != nil {
		if a.closed.Load() || errors.Is(err, os.ErrClosed) {
			err = net.ErrClosed
		}
		return fds, err
	}
	return fds, aerr
}

// accept4 takes one connection off the non-blocking listening socket
// without its peer address. The supervisor only hands descriptors on, and
// unix.Accept4 converts the address of every connection it returns, which
// costs an allocation and a getsockopt(2) each (x/sys asks the socket's
// protocol): one of the three system calls the supervisor made per
// connection (accept, that, and closing its copy after the hand-off).
// A raw system call: on a non-blocking socket accept4 never blocks.
func accept4(lfd int) (int, error) {
	nfd, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(lfd), 0, 0,
		unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(nfd), nil
}

// Queue reports the listening socket's accept queue: the connections the
// kernel completed that nobody accepted yet, and the most it holds before
// it drops new ones (the listen backlog). ok is false for a socket that
// does not say (not TCP).
func (a *Acceptor) Queue() (waiting, capacity int, ok bool) {
	var info *unix.TCPInfo
	var err error
	if cerr := a.rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); cerr != nil || err != nil || info.State != unix.BPF_TCP_LISTEN {
		return 0, 0, false
	}
	// For a listening socket Linux puts the accept queue's length in
	// tcpi_unacked and the backlog in tcpi_sacked.
	return int(info.Unacked), int(info.Sacked), true
}

// SendFDs passes the descriptors over uc in one message. The caller still
// owns them and closes them afterwards (the worker holds duplicates).
func SendFDs(uc *net.UnixConn, fds []int, timeout time.Duration) error {
	if len(fds) == 0 {
		return nil
	}
	uc.SetWriteDeadline(time.Now().Add(timeout))
	_, _, err := uc.WriteMsgUnix([]byte{byte(len(fds))}, unix.UnixRights(fds...), nil)
	return err
}

// SendConn passes c's descriptor over uc. The caller still owns c.
func SendConn(uc *net.UnixConn, c net.Conn, timeout time.Duration) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return fmt.Errorf("cannot pass a %T to a worker", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var fd int
	if err := raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return err
	}
	// c stays open (and fd valid) until the caller closes it after this.
	return SendFDs(uc, []int{fd}, timeout)
}

// Outbox is the supervisor's side of one worker's dispatch socket: it
// passes connections and keeps its own copy of each descriptor until the
// worker acknowledges, so a worker that could not install them (its
// descriptor table was full) never loses a connection: Run hands them back.
//
// Lock story: mu guards seq, inflight and closed, and orders the writes of
// open and sending (Load reads the two together under it); full and limit
// are the worker's last report, read lock-free by the dispatcher.
type Outbox struct {
	uc      *net.UnixConn
	full    atomic.Bool
	limit   atomic.Uint64
	open    atomic.Uint64 // written under mu
	base    atomic.Uint64 // the least open count reported; under mu
	sending atomic.Int64  // written under mu

	// Answered, when set before Run, is called after every answer of the
	// worker (its counts changed); it must not block.
	Answered func()

	mu       sync.Mutex
	seq      uint32
	inflight map[uint32]inflight
	closed   bool
}

type inflight struct {
	fds []int
	tag any
}

// NewOutbox wraps the supervisor's end of a dispatch pair.
func NewOutbox(uc *net.UnixConn) *Outbox {
	return &Outbox{uc: uc, inflight: map[uint32]inflight{}}
}

// Full reports the worker's last word: its descriptor table is full.
func (o *Outbox) Full() bool { return o.full.Load() }

// Limit is the worker's open-files limit (0 until it reported).
func (o *Outbox) Limit() uint64 { return o.limit.Load() }

// Open is how many descriptors the worker had open at its last answer (0
// until it said).
func (o *Outbox) Open() uint64 { return o.open.Load() }

// Base is the fewest descriptors the worker ever said it had open: what it
// needs of its own, without connections (0 until it said).
func (o *Outbox) Base() uint64 { return o.base.Load() }

// Load is how many descriptors the worker holds or is about to: the count
// of its last answer plus what was sent since and not yet acknowledged;
// known is false until the worker said (a worker that cannot count).
func (o *Outbox) Load() (n uint64, known bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	open := o.open.Load()
	return open + uint64(o.sending.Load()), open != 0
}

// Send passes fds to the worker in one message. On success the Outbox owns
// them (closed once acknowledged, or handed back by Run); on error nothing
// was sent and the caller still owns them. tag comes back with descriptors
// handed back. lastResort says no worker has room: a full worker keeps
// what fits instead of declining.
func (o *Outbox) Send(fds []int, tag any, lastResort bool, timeout time.Duration) error {
	if len(fds) == 0 {
		return nil
	}
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return net.ErrClosed
	}
	o.seq++
	seq := o.seq
	o.inflight[seq] = inflight{fds: append([]int(nil), fds...), tag: tag}
	o.sending.Add(int64(len(fds)))
	o.mu.Unlock()
	var head [sendLen]byte
	head[0] = byte(len(fds))
	binary.LittleEndian.PutUint32(head[1:], seq)
	if lastResort {
		head[5] = flagLastResort
	}
	o.uc.SetWriteDeadline(time.Now().Add(timeout))
	if _, _, err := o.uc.WriteMsgUnix(head[:], unix.UnixRights(fds...), nil); err != nil {
		o.mu.Lock()
		delete(o.inflight, seq)
		o.sending.Add(-int64(len(fds)))
		o.mu.Unlock()
		return err
	}
	return nil
}

// Run reads the worker's answers until the dispatch socket ends (the
// worker exited or the supervisor closed it), then hands back every
// descriptor not acknowledged. back gets the descriptors the worker could
// not install (it now owns them); report gets the worker's reports when it
// becomes full or has room again.
// It is the one reader of the socket; it returns when the socket is closed.
func (o *Outbox) Run(back func(fds []int, tag any), report func(Report)) {
	buf := make([]byte, 64)
	for {
		n, err := o.uc.Read(buf)
		if err != nil || n == 0 {
			break
		}
		if n < answerLenV1 || (buf[0] != msgAck && buf[0] != msgReport) {
			continue
		}
		r := decodeReport(buf[:n])
		changed := o.full.Swap(r.Full) != r.Full
		o.limit.Store(r.Limit)
		if buf[0] == msgAck {
			seq, installed := binary.LittleEndian.Uint32(buf[1:]), int(buf[5])
			o.mu.Lock()
			m, ok := o.inflight[seq]
			delete(o.inflight, seq)
			if ok {
				o.sending.Add(-int64(len(m.fds)))
			}
			o.noteOpenLocked(r.Open) // with the in-flight count (Load)
			o.mu.Unlock()
			if ok {
				installed = min(installed, len(m.fds))
				for _, fd := range m.fds[:installed] {
					unix.Close(fd) // the worker holds its own copy
				}
				if rest := m.fds[installed:]; len(rest) > 0 {
					back(rest, m.tag)
				}
			}
		}
		if buf[0] == msgReport {
			o.mu.Lock()
			o.noteOpenLocked(r.Open)
			o.mu.Unlock()
		}
		if changed && report != nil {
			report(r)
		}
		if o.Answered != nil {
			o.Answered()
		}
	}
	o.mu.Lock()
	o.closed = true
	left := o.inflight
	o.inflight = nil
	o.sending.Store(0)
	o.mu.Unlock()
	for _, m := range left {
		back(m.fds, m.tag)
	}
}

func (o *Outbox) noteOpenLocked(n uint64) {
	o.open.Store(n)
	if b := o.base.Load(); n != 0 && (b == 0 || n < b) {
		o.base.Store(n)
	}
}

// Refuse answers a connection no worker can take with 503 and closes it
// (best effort, never blocking: the descriptor is non-blocking). What the
// client already sent is read first, so the close sends a FIN after the
// answer rather than a reset that could discard it.
func Refuse(fd int) {
	var buf [4096]byte
	for i := 0; i < 4; i++ {
		if n, err := unix.Read(fd, buf[:]); n <= 0 || err != nil {
			break
		}
	}
	_, _ = unix.Write(fd, []byte("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 41\r\n\r\nEvery worker is at its open-files limit.\n"))
	unix.Close(fd)
}

// DispatchListener is a worker's net.Listener: Accept returns the
// connections the supervisor passes. Close ends it; Flush ends it once the
// connections already sent are accepted.
//
// Lock story: mu serialises Accept callers (net/http has one) and guards
// pending, the descriptors received but not yet returned. wmu serialises
// the answers (Accept's acknowledgements, the reserve's and the load
// reporter's reports) so each is one message with fresh counts.
type DispatchListener struct {
	uc       *net.UnixConn
	addr     net.Addr
	flushing atomic.Bool
	once     sync.Once
	closed   chan struct{}
	reserve  *fdreserve.Reserve
	lost     atomic.Int64
	fds      fdCounter
	wmu      sync.Mutex
	sentOpen uint64 // the open count of the last answer; under wmu

	mu      sync.Mutex
	pending []int
	// reserved: the pending descriptors were taken while full, from the
	// reserve (last resort): their WebSocket upgrades get 503.
	reserved bool
	oob      []byte
}

// NewDispatchListener wraps the worker's end of the dispatch pair; addr is
// what Addr reports (the supervisor's listening address).
func NewDispatchListener(uc *net.UnixConn, addr net.Addr) *DispatchListener {
	return &DispatchListener{uc: uc, addr: addr, closed: make(chan struct{}), oob: make([]byte, unix.CmsgSpace(4*MaxBatch))}
}

// SetReserve gives the listener the worker's descriptors in reserve: a
// message that did not fit (MSG_CTRUNC) releases them, and reports say
// whether the worker is full. Call it before Accept.
func (l *DispatchListener) SetReserve(r *fdreserve.Reserve) { l.reserve = r }

// Report tells the supervisor the worker is full or has room again (the
// reserve's OnChange).
func (l *DispatchListener) Report(full bool) {
	l.answer(msgReport, 0, 0, full)
}

// answer writes one answer with the current counts.
func (l *DispatchListener) answer(kind byte, seq uint32, installed int, full bool) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	r := Report{Full: full, Limit: l.reserve.Limit(), Open: l.fds.count()}
	l.sentOpen = r.Open
	_, _ = l.uc.Write(encodeAnswer(kind, seq, installed, r))
}

// ReportLoad tells the supervisor every period how many descriptors the
// worker has open, when that moved by step or more since its last answer:
// connections that closed make room the supervisor would otherwise not
// see until the next hand-off. The goroutine is the listener's; it ends
// with Close.
func (l *DispatchListener) ReportLoad(period time.Duration, step uint64) {
	step = max(step, 1)
	go func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for first := true; ; first = false {
			if !first { // the first report says what the worker needs alone
				select {
				case <-l.closed:
					return
				case <-t.C:
				}
			}
			l.wmu.Lock()
			n := l.fds.count()
			moved := n != 0 && (n >= l.sentOpen+step || n+step <= l.sentOpen)
			l.wmu.Unlock()
			if moved {
				l.Report(l.reserve.Full())
			}
		}
	}()
}

// Lost counts connections this worker received but could not open (its
// table full even after the reserve was released).
func (l *DispatchListener) Lost() int64 { return l.lost.Load() }

// Accept returns the next connection the supervisor passed.
func (l *DispatchListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		for len(l.pending) > 0 {
			fd := l.pending[0]
			l.pending = l.pending[1:]
			if !l.reserved {
				// The worker's pollers and flushers drive the descriptor
				// itself (rawsock): no per-connection system call here.
				c := rawsock.New(fd)
				c.OnExhausted = l.exhausted
				return c, nil
			}
			if c, ok := l.open(fd); ok {
				return &fdreserve.Conn{Conn: c}, nil
			}
		}
		var buf [16]byte
		n, oobn, flags, _, err := l.uc.ReadMsgUnix(buf[:], l.oob)
		if err != nil {
			if l.flushing.Load() || errors.Is(err, os.ErrDeadlineExceeded) {
				l.Close()
				return nil, net.ErrClosed
			}
			return nil, err
		}
		if n == 0 && oobn == 0 {
			l.Close()
			return nil, net.ErrClosed // supervisor gone (EOF)
		}
		var fds []int
		if oobn > 0 {
			fds, _ = fdsFromRights(l.oob[:oobn])
		}
		if n >= sendLen {
			// Descriptors that did not fit were dropped by the kernel;
			// the supervisor still has them and passes them on.
			want := int(buf[0])
			if flags&unix.MSG_CTRUNC != 0 || len(fds) < want {
				l.reserve.Exhausted()
			}
			if l.reserve.Full() && buf[5]&flagLastResort == 0 {
				// Full: decline, another worker has room.
				for _, fd := range fds {
					unix.Close(fd)
				}
				fds = nil
			}
			l.reserved = l.reserve.Full()
			l.fds.add(len(fds))
			l.answer(msgAck, binary.LittleEndian.Uint32(buf[1:]), len(fds), l.reserved)
		}
		l.pending = append(l.pending[:0], fds...)
	}
}

// exhausted releases the reserve when a connection found no room for a
// descriptor it needed (a rawsock's blocking duplicate).
func (l *DispatchListener) exhausted() {
	if !l.reserve.Full() {
		l.reserve.Exhausted()
	}
}

// open turns a received descriptor into a *net.TCPConn, for a connection
// taken from the reserve (fdreserve.Conn marks it). net.FileConn needs one
// more descriptor for a moment: at the limit the reserve makes room.
func (l *DispatchListener) open(fd int) (net.Conn, bool) {
	f := os.NewFile(uintptr(fd), "conn")
	defer f.Close()
	c, err := net.FileConn(f)
	if fdreserve.IsExhaustion(err) && !l.reserve.Full() {
		l.exhausted()
		c, err = net.FileConn(f)
	}
	if err != nil {
		// Not a socket after all, or no room even in reserve: that one
		// connection is lost, not the worker.
		if fdreserve.IsExhaustion(err) {
			l.lost.Add(1)
		}
		return nil, false
	}
	return c, true
}

func fdsFromRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("dispatch: bad control message: %w", err)
	}
	// The descriptors are close-on-exec already: on Linux, ReadMsgUnix
	// receives with MSG_CMSG_CLOEXEC (TestReceivedDescriptorsCloseOnExec),
	// so no fcntl(2) per connection here.
	var out []int
	for i := range msgs {
		fds, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			continue
		}
		out = append(out, fds...)
	}
	return out, nil
}

// Flush makes Accept return what is already queued, then stop: the
// supervisor sends nothing more to a draining worker, and everything it sent
// before is in the socket buffer by the time the drain order arrives.
func (l *DispatchListener) Flush(wait time.Duration) {
	l.flushing.Store(true)
	l.uc.SetReadDeadline(time.Now().Add(wait))
}

// Close stops Accept.
func (l *DispatchListener) Close() error {
	var err error
	l.once.Do(func() { close(l.closed); err = l.uc.Close() })
	return err
}

// Addr is the supervisor's listening address.
func (l *DispatchListener) Addr() net.Addr { return l.addr }
