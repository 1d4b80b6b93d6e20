package server

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/reverb-go/reverb/server/tlsrec"
)

// TLS 1.3 sockets after the upgrade are driven like plain ones: c.nc is the
// raw TCP socket and c.tls its record layer (tlsrec.Session). Whatever the
// poller or reader goroutine reads goes through Session.Feed to the
// decoder (input). The queue owner (flusher or writer goroutine, see
// conn.writing) seals queued frames into records just before writing, one
// chunk at a time, so a client that reads slowly holds at most one chunk of
// ciphertext of its own besides its queue of shared frames. TLS 1.2
// sockets keep their crypto/tls connection and the goroutine path.

// sealChunk is the most plaintext sealed ahead of a write.
const sealChunk = 64 << 10

var sealPool = sync.Pool{New: func() any {
	b := make([]byte, 0, sealChunk+(sealChunk/tlsrec.MaxPlaintext+2)*64)
	return &b
}}

// tlsState is a TLS socket's record layer and what its writer keeps.
type tlsState struct {
	s tlsrec.Session

	// Owned by the queue owner: ciphertext sealed but not yet written (a
	// window of *buf, from sealPool while not empty).
	sealed []byte
	buf    *[]byte

	// Under conn.omu. alert, set before closing: what finishClose sends
	// instead of close_notify. lastWrite: when the last owner let go (unix
	// ns). listed: the socket is on the rester's list.
	alert     tlsrec.Alert
	listed    bool
	lastWrite int64
}

// input hands bytes read from the socket to the decoder, through the
// record layer for TLS; false means the socket is closing.
func (c *conn) input(p []byte) bool {
	t := c.tls
	if t == nil {
		return c.feed(p)
	}
	err := t.s.Feed(p, c.plaintext)
	t.s.Rest()
	if t.s.WriteOwed() {
		c.kickOwed()
	}
	if err == nil {
		return true
	}
	var pe *tlsrec.ProtocolError
	switch {
	case err == errClosing:
	case errors.As(err, &pe):
		c.closeTLS(pe.Alert)
	default: // close_notify, a fatal alert from the client
		c.abort()
	}
	return false
}

func (c *conn) plaintext(p []byte) error {
	if !c.feed(p) {
		return errClosing
	}
	return nil
}

// kickOwed gets a writer to send what the Session owes (a KeyUpdate) when
// no frame is queued; the owner checks WriteOwed under omu before it
// lets go, so a request made meanwhile is never lost.
func (c *conn) kickOwed() {
	c.omu.Lock()
	if c.closing || c.writing {
		c.omu.Unlock()
		return
	}
	c.writing = true
	c.omu.Unlock()
	c.kick()
}

// closeTLS ends a socket whose client broke the record protocol: queued
// frames are dropped and the alert goes out in place of close_notify.
func (c *conn) closeTLS(a tlsrec.Alert) {
	c.omu.Lock()
	if c.closing {
		c.omu.Unlock()
		return
	}
	c.markClosed()
	c.queue = nil
	c.queued = 0
	c.tls.alert = a
	start := !c.writing
	c.writing = true
	c.omu.Unlock()
	c.cleanup()
	if start {
		c.kick()
	}
}

// nextTLSChunk is the queue owner's next ciphertext to write: what is left
// of the last chunk, else the next chunk of the queue sealed (with a
// KeyUpdate first if one is owed). ok is false when there is nothing to
// write: the owner has then let go (writing is false) and finished the
// close if one was under way.
func (c *conn) nextTLSChunk() (out []byte, ok bool, err error) {
	t := c.tls
	if len(t.sealed) > 0 {
		return t.sealed, true, nil
	}
	c.omu.Lock()
	if len(c.queue) == 0 && !t.s.WriteOwed() {
		c.writing = false
		closing := c.closing
		now := time.Now().UnixNano()
		t.lastWrite = now
		list := !t.listed && !closing
		t.listed = true
		c.omu.Unlock()
		if closing {
			c.finishClose()
		} else if list {
			c.srv.tlsRest.add(c.srv, c, now)
		}
		return nil, false, nil
	}
	frames, n := takeChunk(&c.queue, sealChunk)
	c.queued -= n
	c.omu.Unlock()

	if t.buf == nil {
		t.buf = sealPool.Get().(*[]byte)
	}
	sealed, err := t.s.Seal((*t.buf)[:0], frames...)
	if err != nil {
		return nil, false, err
	}
	if cap(sealed) <= 4*sealChunk {
		*t.buf = sealed[:0] // keep a grown buffer, within reason
	}
	t.sealed = sealed
	c.app.stats.BytesOut.Add(int64(n))
	return sealed, true, nil
}

// takeChunk removes from the front of *queue frames totalling at most max
// bytes (at least one) and returns them with their size.
func takeChunk(queue *[][]byte, max int) ([][]byte, int) {
	q := *queue
	k, n := 0, 0
	for k < len(q) && (k == 0 || n+len(q[k]) <= max) {
		n += len(q[k])
		k++
	}
	if k == len(q) {
		*queue = nil
		return q, n
	}
	frames := make([][]byte, k)
	copy(frames, q)
	clear(q[:k]) // the queue's array must not keep sent frames alive
	*queue = q[k:]
	return frames, n
}

// wrote records that n bytes of the chunk went out.
func (t *tlsState) wrote(n int) {
	t.sealed = t.sealed[n:]
	if len(t.sealed) == 0 {
		t.release()
	}
}

func (t *tlsState) release() {
	t.sealed = nil
	if t.buf != nil {
		sealPool.Put(t.buf)
		t.buf = nil
	}
}

// failTLSWrite ends a socket whose write failed (the record stream is
// broken, nothing more can be sent).
func (c *conn) failTLSWrite() {
	c.omu.Lock()
	c.closing = true
	c.queue = nil
	c.queued = 0
	c.writing = false
	c.omu.Unlock()
	c.tls.release()
	c.abort()
}

// flushOnceTLS is flushOnce for TLS: one non-blocking write of a sealed
// chunk. A socket that takes only part goes to its own writer goroutine;
// one with more queued goes to the back of the ready list.
func (c *conn) flushOnceTLS() {
	out, ok, err := c.nextTLSChunk()
	if err != nil {
		c.failTLSWrite()
		return
	}
	if !ok {
		return
	}
	n, err := c.writevNow([][]byte{out})
	if err != nil {
		c.failTLSWrite()
		return
	}
	c.tls.wrote(n)
	if len(c.tls.sealed) > 0 {
		c.startWriter()
		return
	}
	c.omu.Lock()
	if len(c.queue) > 0 || c.tls.s.WriteOwed() {
		c.omu.Unlock()
		c.fl.push(c)
		return
	}
	c.writing = false
	closing := c.closing
	t := c.tls
	now := time.Now().UnixNano()
	t.lastWrite = now
	list := !t.listed && !closing
	t.listed = true
	c.omu.Unlock()
	if closing {
		c.finishClose()
	} else if list {
		c.srv.tlsRest.add(c.srv, c, now)
	}
}

// writeLoopTLS is writeLoop for TLS: blocking writes of sealed chunks
// until the queue is empty.
func (c *conn) writeLoopTLS() {
	for {
		out, ok, err := c.nextTLSChunk()
		if err != nil {
			c.failTLSWrite()
			return
		}
		if !ok {
			return
		}
		_ = c.nc.SetWriteDeadline(c.writeDeadline())
		n, err := c.nc.Write(out)
		if c.stalled(int64(n), err) {
			c.failTLSWrite()
			return
		}
		c.tls.wrote(n)
	}
}

// sayGoodbyeTLS sends close_notify (or the alert a protocol error called
// for) once the close frame is out; finishClose calls it as the queue's
// last owner. Best effort: a socket that takes nothing more is closed
// anyway.
func (c *conn) sayGoodbyeTLS() {
	c.omu.Lock()
	a := c.tls.alert
	c.omu.Unlock()
	rec, err := c.tls.s.AppendAlert(nil, a)
	if err != nil {
		return
	}
	if c.raw != nil {
		_, _ = c.writevNow([][]byte{rec})
		return
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.nc.Write(rec)
}

// detachTLS moves an upgraded TLS 1.3 connection onto its raw TCP socket
// and record layer, with the plaintext it had read ahead appended to
// initial. Otherwise (TLS 1.2, no TCP socket underneath) nc is returned as
// it is, to be served through crypto/tls.
func detachTLS(nc net.Conn, initial []byte) (net.Conn, *tlsState, []byte) {
	tc, ok := nc.(*tlsrec.Conn)
	if !ok || !tc.Fast() {
		return nc, nil, initial
	}
	tcp, ok := rawTCP(tc.Raw())
	if !ok {
		return nc, nil, initial
	}
	s, _, buffered, ok := tc.Detach()
	if !ok {
		return nc, nil, initial
	}
	st := &tlsState{}
	s.MoveTo(&st.s) // one object, allocated with the connection's own
	return tcp, st, append(initial, buffered...)
}

// restDelay is how long a TLS socket writes nothing before its write key
// rests. A socket with events more often than that keeps its key; a rarer
// one pays a rebuild (about a microsecond for AES-GCM) per event. Shorter
// also means fewer keys alive when the GC sizes the heap after a burst of
// connections (docs/performance.md, TLS).
const restDelay = 250 * time.Millisecond

// tlsRester lets the write keys of quiet TLS sockets rest. Sockets are
// listed (once, tlsState.listed) when a writer lets go of them; the
// rester's goroutine, started with the first one and stopped by Close,
// looks at each restDelay after it was listed: still quiet and no writer,
// the key rests and the socket leaves the list; written meanwhile, it is
// looked at again later.
//
// Lock story: mu guards list and started; a socket's fields are read
// under its omu, never with mu held.
type tlsRester struct {
	mu      sync.Mutex
	list    []restEntry // in the order listed, so due entries are a prefix
	started bool
	wake    chan struct{}
}

type restEntry struct {
	c   *conn
	due int64 // unix ns
}

func (r *tlsRester) add(s *Server, c *conn, lastWrite int64) {
	r.mu.Lock()
	wasEmpty := len(r.list) == 0
	r.list = append(r.list, restEntry{c, lastWrite + int64(restDelay)})
	start := !r.started
	if start {
		r.started = true
		r.wake = make(chan struct{}, 1)
	}
	wake := r.wake
	r.mu.Unlock()
	if start && !s.spawn(func() { r.run(s, wake) }) {
		r.mu.Lock()
		r.list = nil // closed: nothing will rest
		r.mu.Unlock()
		return
	}
	if wasEmpty {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

func (r *tlsRester) run(s *Server, wake <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		r.mu.Lock()
		now := time.Now().UnixNano()
		k := 0
		for k < len(r.list) && r.list[k].due <= now {
			k++
		}
		due := append([]restEntry(nil), r.list[:k]...)
		r.list = append(r.list[:0], r.list[k:]...)
		wait := time.Hour
		if len(r.list) > 0 {
			wait = time.Duration(r.list[0].due - now)
		}
		r.mu.Unlock()
		for _, e := range due {
			if again, ok := e.c.restWrite(now); !ok {
				r.mu.Lock()
				r.list = append(r.list, restEntry{e.c, again})
				r.mu.Unlock()
			}
		}
		if len(due) > 0 {
			continue // entries put back may be due first
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-wake:
		case <-s.stop:
			r.mu.Lock()
			r.list = nil
			r.mu.Unlock()
			return
		}
	}
}

// restWrite lets the socket's write key rest if it wrote nothing for
// restDelay and has no writer; otherwise it says when to look again.
func (c *conn) restWrite(now int64) (again int64, ok bool) {
	c.omu.Lock()
	defer c.omu.Unlock()
	t := c.tls
	if c.closing {
		t.listed = false
		return 0, true
	}
	if c.writing {
		return now + int64(restDelay), false
	}
	if due := t.lastWrite + int64(restDelay); due > now {
		return due, false
	}
	// No owner, and none can start while omu is held.
	t.s.RestWrite()
	t.listed = false
	return 0, true
}
