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
	s *tlsrec.Session

	// Owned by the queue owner: ciphertext sealed but not yet written (a
	// window of *buf, from sealPool while not empty).
	sealed []byte
	buf    *[]byte

	// Under conn.omu, set before closing: the alert finishClose sends
	// instead of close_notify.
	alert tlsrec.Alert
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
	c.closing = true
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
		c.omu.Unlock()
		if closing {
			c.finishClose()
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
	c.omu.Unlock()
	if closing {
		c.finishClose()
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
		_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		n, err := c.nc.Write(out)
		if err != nil {
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
	return tcp, &tlsState{s: s}, append(initial, buffered...)
}
