package server

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/reverb-go/reverb/server/tlsrec"
	"github.com/reverb-go/reverb/server/websocket"
)

// Outbound queue bounds. A consumer whose queue grows past either bound is
// closed with 4100 "Over capacity" rather than stalling the broadcaster.
// The byte bound grows with the largest messages the server accepts (see
// queueLimit), and a frame is always taken into an empty queue: Reverb has
// no outbound limit, so an event as large as max_request_size allows is
// delivered, never counted as a slow consumer by itself.
const (
	maxQueueBytes  = 4 << 20
	maxQueueFrames = 4096
	// queueRoom is how many of the largest accepted messages may wait for
	// one socket when that is more than maxQueueBytes.
	queueRoom = 4
	// closeLinger is how long a closing socket waits for the client's FIN
	// after our close frame, so the frame is not lost to a TCP reset.
	closeLinger = 2 * time.Second
	// smallReadBuf serves the common small messages; a read that fills it
	// switches to a pooled large buffer for the rest of the burst.
	smallReadBuf = 512
	largeReadBuf = 32 << 10
)

// writeTimeout is how long a blocking write waits for the client to accept
// anything: a client that accepts nothing for this long is dropped, one
// that reads slowly but steadily (a large event over a slow link) is not.
// A variable for tests.
var writeTimeout = 10 * time.Second

// stalled is whether a blocking write to c that wrote n bytes and failed
// with err should give up: any error but a write deadline passed with
// progress, and that too once c is closing. A closed socket's backlog
// (a slow consumer closed with 4100, a drain's 4200) gets one
// writeTimeout from the close and no more, however many writes it takes
// (writeDeadline), so a client that reads a trickle cannot keep a socket
// that no longer counts against max_connections, and its queued bytes,
// alive; and the close frame is out before the reader stops waiting for
// the client's FIN (drainUntilEOF).
func (c *conn) stalled(n int64, err error) bool {
	return err != nil && (n == 0 || !errors.Is(err, os.ErrDeadlineExceeded) || c.isClosing())
}

// writeDeadline is the deadline of c's next blocking write: writeTimeout
// from now, but no later than writeTimeout after c was closed.
func (c *conn) writeDeadline() time.Time {
	d := time.Now().Add(writeTimeout)
	if at := c.closedAt.Load(); at != 0 {
		if end := time.Unix(0, at).Add(writeTimeout); end.Before(d) {
			return end
		}
	}
	return d
}

// markClosed records when c started closing (under omu, as closing is
// set), for writeDeadline.
func (c *conn) markClosed() {
	c.closing = true
	c.closedAt.Store(time.Now().UnixNano())
}

// writeChunk is the most one blocking write is given writeTimeout for: a
// wrapped socket (crypto/tls) cannot go on after a write deadline passed,
// so a large queue is written in chunks, each with a deadline of its own.
const writeChunk = 256 << 10

// writeSteadily writes bufs to c's socket as long as the client keeps
// accepting something every writeTimeout (see stalled).
func (c *conn) writeSteadily(bufs net.Buffers) error {
	for len(bufs) > 0 {
		chunk := takeBytes(&bufs, writeChunk)
		for len(chunk) > 0 {
			_ = c.nc.SetWriteDeadline(c.writeDeadline())
			if n, err := chunk.WriteTo(c.nc); c.stalled(n, err) {
				return err
			}
		}
	}
	return nil
}

// takeBytes removes from the front of *bufs at most limit bytes (splitting
// a buffer if need be; the bytes themselves are not touched).
func takeBytes(bufs *net.Buffers, limit int) net.Buffers {
	q := *bufs
	var out net.Buffers
	for len(q) > 0 && limit > 0 {
		b := q[0]
		if len(b) > limit {
			out = append(out, b[:limit])
			q[0] = b[limit:]
			break
		}
		out = append(out, b)
		limit -= len(b)
		q = q[1:]
	}
	*bufs = q
	return out
}

var largeBufPool = sync.Pool{New: func() any { b := make([]byte, largeReadBuf); return &b }}

// conn is one WebSocket connection.
//
// Ownership: one reader at a time (the epoll poller's onReadable, or the
// socket's readLoop goroutine) owns dec, the rate-limit window and the read
// half of tls, and runs the Pusher protocol for this socket. Frames are written by a
// flusher of the pool, or by a writer goroutine that exists only while
// frames wait for a slow client (writeLoop), so an idle socket holds no
// write buffer and no writer. omu guards the outbound queue and the closing
// state; appState.mu guards subs and wantPresence. Activity fields are
// atomics because the sweep reads them from its own goroutine.
type conn struct {
	srv *Server
	app *appState
	nc  net.Conn
	id  string
	// origin is the Origin header of the handshake (observer events).
	origin string
	// tls is the record layer of a TLS 1.3 socket (nc is then the raw
	// TCP socket); nil for plain sockets (conn_tls.go).
	tls *tlsState

	dec *websocket.Decoder
	// poll is the epoll registration; nil when a reader goroutine drives
	// this socket instead.
	poll atomic.Pointer[pollState]

	// Reader-owned rate-limit window (§3.8).
	rlEnd   time.Time
	rlCount int

	lastSeen      atomic.Int64 // unix nanoseconds of the last touch
	pinged        atomic.Bool
	controlFrames atomic.Bool

	// Under app.mu.
	subs         []*sub          // memberships, see subOf
	wantPresence map[string]bool // allocated on the first presence subscribe

	// raw is the socket's descriptor access for non-blocking writes by
	// the flusher pool (fl); both nil for TLS 1.2 and other wrapped
	// sockets, which get a writer goroutine while they have frames queued.
	raw syscall.RawConn
	fl  *flusher

	// omu guards the queue. writing means the queue has an owner: the
	// socket is on a flusher's ready list, being flushed, or drained by
	// its writer goroutine. Exactly one owner at a time keeps the frames
	// in order.
	omu     sync.Mutex
	queue   [][]byte
	queued  int
	writing bool
	closing bool
	// closedAt is when closing was set to close with a frame (unix ns;
	// 0 while open), read by the queue's owner without omu.
	closedAt atomic.Int64
	// handshake is how many bytes at the head of the queue are the 101
	// response (plain sockets send it with connection_established in
	// one write): not WebSocket traffic, so not counted in BytesOut.
	// Touched only by the queue's owner (writing), and by open before
	// anyone can own it. hs is that response, set by open and then only
	// read.
	handshake int
	hs        []byte

	cleanupOnce sync.Once
	closeOnce   sync.Once
}

func (c *conn) touch() {
	c.lastSeen.Store(time.Now().UnixNano())
	c.pinged.Store(false)
}

// send queues one frame; the bytes must not change afterwards (broadcast
// frames are shared by every subscriber). It never blocks on the socket.
func (c *conn) send(frame []byte) bool {
	if !c.enqueue(frame) {
		return false
	}
	if len(frame) > 0 && frame[0] == 0x81 { // FIN + text: Reverb's MessageSent
		c.sentFrame(frame)
	}
	return true
}

// enqueue is send without the text-frame count; fanout counts a whole
// broadcast with one atomic add instead of one per recipient.
func (c *conn) enqueue(frame []byte) bool {
	c.omu.Lock()
	if c.closing {
		c.omu.Unlock()
		return false
	}
	if len(c.queue) >= maxQueueFrames || (len(c.queue) > 0 && c.queued+len(frame) > c.queueLimit()) {
		// Slow consumer: drop what it did not read, close with 4100.
		c.markClosed()
		c.queue, c.queued = c.unsentHandshake()
		c.queue = append(c.queue, websocket.AppendClose(nil, 4100, "Over capacity"))
		start := !c.writing
		c.writing = true
		c.omu.Unlock()
		c.app.stats.SlowConsumersClosed.Add(1)
		if start {
			c.kick()
		}
		// The cleanup runs on its own goroutine: the caller may be a
		// delivery in the middle of its own state changes.
		c.srv.spawn(c.cleanup)
		return false
	}
	c.queue = append(c.queue, frame)
	c.queued += len(frame)
	start := !c.writing
	c.writing = true
	c.omu.Unlock()
	if start {
		c.kick()
	}
	return true
}

// queueLimit is the most bytes that may wait for c: maxQueueBytes, or room
// for queueRoom of the largest messages the server accepts (an API event
// up to max_request_size, a client event up to the app's
// max_message_size), whichever is more. A socket of an unknown key has
// s.noApp, whose max_message_size is 0.
func (c *conn) queueLimit() int {
	largest := max(c.srv.opts.MaxRequestSize, c.app.cfg.MaxMessageSize)
	return max(maxQueueBytes, queueRoom*largest)
}

// kick hands a socket that has frames and no owner to a writer: a flusher
// of the pool for plain TCP sockets, else its own writer goroutine.
func (c *conn) kick() {
	if c.fl != nil {
		c.fl.push(c)
		return
	}
	c.startWriter()
}

// startWriter runs writeLoop on its own goroutine; after Close the socket
// is gone anyway.
func (c *conn) startWriter() {
	if !c.srv.spawn(c.writeLoop) {
		c.abort()
	}
}

// writeLoop drains the queue, coalescing everything queued into writevs
// of at most writeChunk bytes, and exits when the queue is empty.
func (c *conn) writeLoop() {
	if c.tls != nil {
		c.writeLoopTLS()
		return
	}
	for {
		c.omu.Lock()
		if len(c.queue) == 0 {
			c.writing = false
			closing := c.closing
			c.omu.Unlock()
			if closing {
				c.finishClose()
			}
			return
		}
		bufs := net.Buffers(c.queue)
		n := c.queued
		c.queue = nil
		c.queued = 0
		c.omu.Unlock()

		if err := c.writeSteadily(bufs); err != nil {
			c.omu.Lock()
			c.closing = true
			c.queue = nil
			c.queued = 0
			c.writing = false
			c.omu.Unlock()
			c.abort()
			return
		}
		c.app.stats.BytesOut.Add(int64(c.metered(n)))
	}
}

// unsentHandshake is what dropping the queue keeps (under omu): the 101
// response while it is still queued whole, as no frame may reach the
// client without it.
func (c *conn) unsentHandshake() ([][]byte, int) {
	if len(c.hs) > 0 && len(c.queue) > 0 && len(c.queue[0]) == len(c.hs) && &c.queue[0][0] == &c.hs[0] {
		return c.queue[:1:1], len(c.hs)
	}
	return nil, 0
}

// metered is n written bytes less the 101 response among them. Called by
// the queue's owner.
func (c *conn) metered(n int) int {
	if c.handshake > 0 {
		d := min(n, c.handshake)
		c.handshake -= d
		n -= d
	}
	return n
}

// closeNow closes with a close frame carrying code and reason, after the
// frames in pre. With drop, frames still queued are discarded (a slow
// consumer must not get them first).
func (c *conn) closeNow(code int, reason string, drop bool, pre ...[]byte) {
	if c.closeQueued(code, reason, drop, pre...) {
		c.kick()
	}
}

// closeAfterLeaving is closeNow for a socket the cluster removes
// (terminate_connections): its presence leaves go on the bus first, and the
// close frame is written once they have been delivered, as Reverb
// unsubscribes a terminated connection (member_removed to the others)
// before it closes it. A client that saw its close, and anything it does
// next, comes after its member_removed everywhere.
func (c *conn) closeAfterLeaving(code int, reason string) {
	if c.closeQueued(code, reason, false) {
		c.srv.afterOrdered(c.kick)
	}
}

// closeQueued queues the close frame (after pre, dropping what is queued
// when drop), runs the cleanup, and reports whether the caller must start
// the writing (no one owns the queue yet).
func (c *conn) closeQueued(code int, reason string, drop bool, pre ...[]byte) bool {
	c.omu.Lock()
	if c.closing {
		c.omu.Unlock()
		return false
	}
	c.markClosed()
	if drop {
		c.queue, c.queued = c.unsentHandshake()
	}
	for _, p := range pre {
		c.queue = append(c.queue, p)
		if len(p) > 0 && p[0] == 0x81 { // an error sent before the close: MessageSent
			c.sentFrame(p)
		}
	}
	c.queue = append(c.queue, websocket.AppendClose(nil, code, reason))
	start := !c.writing
	c.writing = true
	c.omu.Unlock()
	if c.srv.debug != nil {
		c.srv.debugCloseSent(c, code, reason)
	}
	c.cleanup()
	return start
}

// closeRaw is closeNow for an already built close frame (the echo of a
// client's close).
func (c *conn) closeRaw(frame []byte) {
	c.omu.Lock()
	if c.closing {
		c.omu.Unlock()
		return
	}
	c.markClosed()
	c.queue = append(c.queue, frame)
	start := !c.writing
	c.writing = true
	c.omu.Unlock()
	c.cleanup()
	if start {
		c.kick()
	}
}

func (c *conn) isClosing() bool {
	c.omu.Lock()
	defer c.omu.Unlock()
	return c.closing
}

// finishClose runs once the close frame is written: half-close so the
// client reads the frame and answers, and let the reader wait briefly for
// its FIN before the socket is released.
func (c *conn) finishClose() {
	if c.tls != nil {
		c.sayGoodbyeTLS()
	}
	type closeWriter interface{ CloseWrite() error }
	if cw, ok := c.nc.(closeWriter); ok {
		_ = cw.CloseWrite()
		if c.poll.Load() != nil {
			c.lingerThenAbort()
		} else {
			_ = c.nc.SetReadDeadline(time.Now().Add(closeLinger))
		}
		return
	}
	c.abort()
}

// abort closes the TCP connection at once.
func (c *conn) abort() {
	c.closeOnce.Do(func() {
		if ps := c.poll.Load(); ps != nil {
			ps.detach(c)
		}
		_ = c.nc.Close()
	})
	c.cleanup()
}

// cleanup removes the socket from every channel of its app (§3.9) once.
func (c *conn) cleanup() {
	c.cleanupOnce.Do(func() {
		c.srv.disconnect(c)
	})
}

// readLoop is the read driver: bytes arrived → Decoder.Feed → handlers.
func (c *conn) readLoop(initial []byte) {
	defer c.abort()
	if len(initial) > 0 {
		if !c.feed(initial) {
			c.drainUntilEOF()
			return
		}
	}
	small := make([]byte, smallReadBuf)
	var large *[]byte
	for {
		buf := small
		if large != nil {
			buf = *large
		}
		n, err := c.nc.Read(buf)
		if n > 0 {
			c.app.stats.BytesIn.Add(int64(n))
			if !c.input(buf[:n]) {
				if large != nil {
					largeBufPool.Put(large)
				}
				c.drainUntilEOF()
				return
			}
		}
		if err != nil {
			if large != nil {
				largeBufPool.Put(large)
			}
			return
		}
		switch {
		case large == nil && n == len(small):
			large = largeBufPool.Get().(*[]byte)
		case large != nil && n < len(*large)/2:
			largeBufPool.Put(large)
			large = nil
		}
	}
}

// drainUntilEOF discards input after our close frame until the client
// closes or closeLinger passes (finishClose sets the deadline).
func (c *conn) drainUntilEOF() {
	var buf [256]byte
	_ = c.nc.SetReadDeadline(time.Now().Add(closeLinger + writeTimeout))
	for {
		if _, err := c.nc.Read(buf[:]); err != nil {
			return
		}
	}
}

// feed hands bytes to the decoder; false means the socket is closing.
func (c *conn) feed(p []byte) bool {
	if c.isClosing() {
		return false
	}
	err := c.dec.Feed(p, c.onFrame)
	if err == nil {
		return !c.isClosing()
	}
	if ce, ok := err.(*websocket.CloseError); ok {
		c.closeNow(ce.Code, ce.Reason, false)
	}
	return false
}

func (c *conn) onFrame(op websocket.Opcode, payload []byte) error {
	if c.isClosing() {
		return errClosing
	}
	switch op {
	case websocket.OpText, websocket.OpBinary:
		c.app.stats.MessagesIn.Add(1)
		c.handleMessage(payload)
	case websocket.OpPing:
		c.controlFrames.Store(true)
		c.touch()
		c.srv.debugControl(c, op, payload)
		c.send(websocket.AppendPong(nil, payload))
	case websocket.OpPong:
		c.controlFrames.Store(true)
		c.touch()
		c.srv.debugControl(c, op, payload)
	case websocket.OpClose:
		c.controlFrames.Store(true)
		c.srv.debugControl(c, op, payload)
		c.closeRaw(websocket.AppendFrame(nil, websocket.OpClose, websocket.EchoClosePayload(payload)))
		return errClosing
	}
	if c.isClosing() {
		return errClosing
	}
	return nil
}

type closingError struct{}

func (closingError) Error() string { return "connection closing" }

var errClosing error = closingError{}

// flushOnce is a flusher's turn with this socket (it owns the queue): one
// non-blocking writev of everything queued. A socket that takes only part
// goes to its own writer goroutine, which may wait; more frames queued
// meanwhile put the socket back at the end of the ready list.
func (c *conn) flushOnce() {
	if c.tls != nil {
		c.flushOnceTLS()
		return
	}
	bufs, total, ok := c.takeQueue()
	if !ok {
		return
	}
	n, err := c.writevNow(bufs)
	c.afterFlush(bufs, total, n, err)
}

// takeQueue takes everything queued for a flusher's write. With nothing
// queued the socket's turn ends here (ok false): it has no owner any more,
// and a close frame already written finishes the close.
func (c *conn) takeQueue() (bufs [][]byte, total int, ok bool) {
	c.omu.Lock()
	if len(c.queue) == 0 {
		c.writing = false
		closing := c.closing
		c.omu.Unlock()
		if closing {
			c.finishClose()
		}
		return nil, 0, false
	}
	bufs, total = c.queue, c.queued
	c.queue = nil
	c.queued = 0
	c.omu.Unlock()
	return bufs, total, true
}

// afterFlush ends a flusher's turn after n bytes of bufs (total bytes)
// were written: an error closes the socket, a partial write hands the rest
// to the socket's own writer goroutine, frames queued meanwhile put it back
// at the end of the ready list.
func (c *conn) afterFlush(bufs [][]byte, total, n int, err error) {
	if err != nil {
		c.omu.Lock()
		c.closing = true
		c.queue = nil
		c.queued = 0
		c.writing = false
		c.omu.Unlock()
		c.abort()
		return
	}
	c.app.stats.BytesOut.Add(int64(c.metered(n)))
	if n < total {
		rest := unwritten(bufs, n)
		c.omu.Lock()
		c.queue = append(rest, c.queue...)
		c.queued += total - n
		c.omu.Unlock()
		c.startWriter()
		return
	}
	c.omu.Lock()
	if len(c.queue) > 0 {
		// More arrived meanwhile: back of the line, for fairness.
		c.omu.Unlock()
		c.fl.push(c)
		return
	}
	c.writing = false
	closing := c.closing
	c.omu.Unlock()
	if closing {
		c.finishClose()
	}
}

// unwritten is what remains of bufs after n bytes were written.
func unwritten(bufs [][]byte, n int) [][]byte {
	for len(bufs) > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	if len(bufs) == 0 {
		return nil
	}
	out := make([][]byte, len(bufs))
	copy(out, bufs)
	out[0] = out[0][n:]
	return out
}

// unwrittenInPlace drops m written bytes from the front of bufs (the
// caller's slice headers only; frame bytes are shared and never changed).
//
//lint:ignore U1000 the Linux writer's (write_linux.go), tested in every build
func unwrittenInPlace(bufs [][]byte, m int) [][]byte {
	for len(bufs) > 0 && m >= len(bufs[0]) {
		m -= len(bufs[0])
		bufs = bufs[1:]
	}
	if len(bufs) > 0 && m > 0 {
		head := bufs[0][m:]
		bufs = append([][]byte{head}, bufs[1:]...)
	}
	return bufs
}

// plainSocket is a plain TCP socket: a *net.TCPConn, or a socket a worker
// received from the supervisor and drives on its bare descriptor
// (rawsock.Conn, marked by RawTCP).
type plainSocket interface {
	net.Conn
	syscall.Conn
	CloseWrite() error
}

// plainTCP reports whether nc itself is a plain TCP socket.
func plainTCP(nc net.Conn) (plainSocket, bool) {
	switch c := nc.(type) {
	case *net.TCPConn:
		return c, true
	case interface {
		plainSocket
		RawTCP()
	}:
		return c, true
	}
	return nil, false
}

// rawTCP finds the plain TCP socket under nc, looking through wrappers that
// embed a net.Conn (the supervisor's drain listener) but never through TLS.
func rawTCP(nc net.Conn) (plainSocket, bool) {
	for depth := 0; depth < 4; depth++ {
		if c, ok := plainTCP(nc); ok {
			return c, true
		}
		switch c := nc.(type) {
		case *tls.Conn, *tlsrec.Conn:
			return nil, false
		case interface{ NetConn() net.Conn }:
			nc = c.NetConn()
			continue
		}
		v := reflect.ValueOf(nc)
		if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
			return nil, false
		}
		f := v.Elem().FieldByName("Conn")
		if !f.IsValid() || !f.CanInterface() {
			return nil, false
		}
		inner, ok := f.Interface().(net.Conn)
		if !ok || inner == nil {
			return nil, false
		}
		nc = inner
	}
	return nil, false
}
