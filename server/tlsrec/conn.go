package tlsrec

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// NewListener returns a listener whose connections are TLS servers with
// cfg (which must not change afterwards): *Conn values whose handshake runs
// on their first Read or Write, like tls.NewListener's. failed, when not
// nil, is told of each handshake that fails, from the goroutine that ran
// it.
func NewListener(inner net.Listener, cfg *tls.Config, failed func(HandshakeFailure)) net.Listener {
	lcfg := cfg.Clone()
	lcfg.GetConfigForClient = configFor(cfg)
	return &listener{Listener: inner, cfg: lcfg, failed: failed}
}

// A HandshakeFailure is a TLS handshake that did not complete.
type HandshakeFailure struct {
	Remote net.Addr
	Reason string
	// Silent is set when the client closed without sending a byte: a
	// port check (a load balancer's, an uptime monitor's), not a client
	// that tried TLS.
	Silent bool
}

type listener struct {
	net.Listener
	cfg    *tls.Config
	failed func(HandshakeFailure)
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := Server(c, l.cfg)
	tc.failed = l.failed
	return tc, nil
}

// Server returns a TLS server connection over raw. cfg should come from a
// listener made by NewListener (its GetConfigForClient captures the
// secrets); with any other Config the connection stays on crypto/tls.
func Server(raw net.Conn, cfg *tls.Config) *Conn {
	return &Conn{raw: raw, cfg: cfg}
}

// closeNotifyTimeout bounds the write of our close_notify on Close, as
// crypto/tls does.
const closeNotifyTimeout = 5 * time.Second

// Conn is a TLS server connection. After a TLS 1.3 handshake it runs this
// package's record layer (a Session) over the raw connection; otherwise it
// is a tls.Conn underneath. See the package documentation for its locks.
type Conn struct {
	raw    net.Conn
	cfg    *tls.Config
	failed func(HandshakeFailure) // NewListener's, or nil

	hsMu   sync.Mutex
	hsDone atomic.Bool
	hsErr  error
	tc     *tls.Conn // after a handshake kept on crypto/tls
	s      *Session  // after a TLS 1.3 handshake
	state  tls.ConnectionState

	rmu   sync.Mutex
	plain []byte  // decrypted, not yet read: a window of *pbuf
	pbuf  *[]byte // from bufPool while plain is not empty
	rerr  error   // sticky read error

	wmu      sync.Mutex
	werr     error // sticky write error
	sentDone bool  // close_notify or a fatal alert went out

	detached atomic.Bool
}

var errDetached = errors.New("tlsrec: connection detached")

// connBufSize is the size of a Conn's pooled buffers (reads from the
// socket, plaintext not yet read, records to write). A Conn mostly carries
// an HTTP request and its answer, and holds its read buffer while it waits
// for the client, so the buffers are small: a record longer than a read is
// completed in the Session's own buffer, longer writes are split.
const connBufSize = 4 << 10

// bufPool holds those buffers; users take the capacity, whatever the
// length.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, connBufSize)
	return &b
}}

// Handshake runs the TLS handshake if it has not run yet.
func (c *Conn) Handshake() error {
	if c.hsDone.Load() {
		return c.hsErr
	}
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.hsDone.Load() {
		return c.hsErr
	}
	c.hsErr = c.handshake()
	c.hsDone.Store(true)
	return c.hsErr
}

func (c *Conn) handshake() error {
	h := &hsConn{Conn: c.raw}
	tc := tls.Server(h, c.cfg)
	if err := tc.Handshake(); err != nil {
		// As net/http does for its own TLS connections: a plain HTTP
		// request gets a plain 400; the failure is reported.
		reason := err.Error()
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			_, _ = io.WriteString(c.raw, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			reason = "client sent an HTTP request to an HTTPS server"
		}
		if c.failed != nil {
			c.failed(HandshakeFailure{Remote: c.raw.RemoteAddr(), Reason: reason, Silent: !h.got})
		}
		_ = c.raw.Close()
		return err
	}
	c.state = tc.ConnectionState()
	if c.state.Version == tls.VersionTLS13 {
		if s, err := h.session(c.state.CipherSuite); err == nil {
			c.s = s
			return nil
		}
	}
	h.passthrough = true
	h.sent = nil
	h.clientSecret, h.serverSecret = nil, nil
	c.tc = tc
	return nil
}

func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// ConnectionState is the handshake's outcome (version, suite, peer
// certificates).
func (c *Conn) ConnectionState() tls.ConnectionState {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	return c.state
}

// Fast reports whether the connection runs this package's record layer
// (a TLS 1.3 handshake), after Handshake.
func (c *Conn) Fast() bool { return c.hsDone.Load() && c.s != nil }

func (c *Conn) Read(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	if c.tc != nil {
		return c.tc.Read(b)
	}
	if len(b) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.plain) == 0 {
		if c.detached.Load() {
			return 0, errDetached
		}
		if c.rerr != nil {
			return 0, c.rerr
		}
		if err := c.readRecords(); err != nil {
			return 0, err
		}
	}
	n := copy(b, c.plain)
	c.plain = c.plain[n:]
	if len(c.plain) == 0 {
		c.releasePlain()
	}
	return n, nil
}

// readRecords reads once from the socket and decrypts what came; with rmu.
// Errors of the socket (deadlines) are returned but not kept, so a later
// Read may go on.
func (c *Conn) readRecords() error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := (*bp)[:cap(*bp)] // pooled buffers come back with any length
	n, err := c.raw.Read(buf)
	if n > 0 {
		ferr := c.s.Feed(buf[:n], c.keepPlain)
		c.s.Rest()
		if c.s.WriteOwed() {
			c.wmu.Lock()
			if werr := c.writeRecordsLocked(); werr != nil && ferr == nil {
				ferr = werr
			}
			c.wmu.Unlock()
		}
		if ferr != nil {
			c.rerr = c.readError(ferr)
			if len(c.plain) > 0 {
				return nil // deliver what came before the error first
			}
			return c.rerr
		}
	}
	if err != nil {
		if err == io.EOF && c.s.Pending() {
			err = io.ErrUnexpectedEOF
		}
		if len(c.plain) > 0 {
			return nil
		}
		return err
	}
	return nil
}

// keepPlain is Feed's deliver for Read: plaintext waits in a pooled buffer
// (plain is a window of *pbuf).
func (c *Conn) keepPlain(p []byte) error {
	if c.pbuf == nil {
		c.pbuf = bufPool.Get().(*[]byte)
		c.plain = (*c.pbuf)[:0]
	}
	if cap(c.plain)-len(c.plain) < len(p) {
		buf := (*c.pbuf)[:cap(*c.pbuf)]
		if len(c.plain)+len(p) > len(buf) {
			// Too big for a pooled buffer; releasePlain drops it.
			buf = make([]byte, 2*(len(c.plain)+len(p)))
			*c.pbuf = buf
		}
		c.plain = buf[:copy(buf, c.plain)]
	}
	c.plain = append(c.plain, p...)
	return nil
}

func (c *Conn) releasePlain() {
	c.plain = nil
	if c.pbuf != nil && cap(*c.pbuf) == connBufSize {
		bufPool.Put(c.pbuf)
	}
	c.pbuf = nil
}

// readError turns a Feed error into what Read reports, sending the alert a
// protocol error calls for.
func (c *Conn) readError(err error) error {
	switch e := err.(type) {
	case *ProtocolError:
		c.wmu.Lock()
		c.sendAlertLocked(e.Alert)
		c.wmu.Unlock()
		return err
	default:
		if err == ErrCloseNotify {
			return io.EOF
		}
		return err
	}
}

func (c *Conn) Write(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	if c.tc != nil {
		return c.tc.Write(b)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.detached.Load() {
		return 0, errDetached
	}
	if c.werr != nil {
		return 0, c.werr
	}
	if c.sentDone {
		return 0, net.ErrClosed
	}
	written := 0
	for len(b) > 0 {
		chunk := b[:min(len(b), connBufSize-64)] // one record in a pooled buffer
		if err := c.sealAndWriteLocked(chunk); err != nil {
			return written, err
		}
		written += len(chunk)
		b = b[len(chunk):]
	}
	return written, nil
}

// sealAndWriteLocked writes p as records (and whatever is owed first); with
// wmu. A failed write leaves the record stream broken: the error sticks.
func (c *Conn) sealAndWriteLocked(p []byte) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	out, err := c.s.Seal((*bp)[:0], p)
	if err == nil {
		_, err = c.raw.Write(out)
	}
	if err != nil {
		c.werr = err
	}
	return err
}

// writeRecordsLocked sends what the Session owes (a KeyUpdate); with wmu.
func (c *Conn) writeRecordsLocked() error {
	if c.werr != nil || c.sentDone || c.detached.Load() {
		return c.werr
	}
	return c.sealAndWriteLocked(nil)
}

// sendAlertLocked sends a fatal alert or close_notify once; with wmu.
func (c *Conn) sendAlertLocked(a Alert) {
	if c.werr != nil || c.sentDone || c.detached.Load() {
		return
	}
	c.sentDone = true
	out, err := c.s.AppendAlert(nil, a)
	if err == nil {
		_, err = c.raw.Write(out)
	}
	if err != nil {
		c.werr = err
	}
}

// CloseWrite sends close_notify; the socket stays open (as tls.Conn's).
func (c *Conn) CloseWrite() error {
	if !c.hsDone.Load() {
		return errors.New("tls: CloseWrite called before handshake complete")
	}
	if c.tc != nil {
		return c.tc.CloseWrite()
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.sendAlertLocked(AlertCloseNotify)
	return c.werr
}

// Close sends close_notify (after a handshake) and closes the socket.
func (c *Conn) Close() error {
	if c.detached.Load() {
		return errDetached
	}
	if c.hsDone.Load() && c.hsErr == nil {
		if c.tc != nil {
			return c.tc.Close()
		}
		c.wmu.Lock()
		if !c.sentDone && c.werr == nil {
			_ = c.raw.SetWriteDeadline(time.Now().Add(closeNotifyTimeout))
			c.sendAlertLocked(AlertCloseNotify)
		}
		c.wmu.Unlock()
	}
	return c.raw.Close()
}

// Detach ends this Conn's use of the socket after a TLS 1.3 handshake and
// returns what its new driver needs: the Session, the raw connection and
// the plaintext already decrypted but not read. ok is false (and nothing
// changes) when the connection runs on crypto/tls, had an error, or is
// detached already. No Read or Write may be in progress.
func (c *Conn) Detach() (s *Session, raw net.Conn, buffered []byte, ok bool) {
	if !c.Fast() {
		return nil, nil, nil, false
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.detached.Load() || c.rerr != nil || c.werr != nil || c.sentDone {
		return nil, nil, nil, false
	}
	c.detached.Store(true)
	if len(c.plain) > 0 {
		buffered = append([]byte(nil), c.plain...)
	}
	c.releasePlain()
	return c.s, c.raw, buffered, true
}

// Raw is the connection under TLS. (Not NetConn: code that unwraps
// connections through NetConn must not strip TLS by accident.)
func (c *Conn) Raw() net.Conn { return c.raw }

func (c *Conn) LocalAddr() net.Addr                { return c.raw.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr               { return c.raw.RemoteAddr() }
func (c *Conn) SetDeadline(t time.Time) error      { return c.raw.SetDeadline(t) }
func (c *Conn) SetReadDeadline(t time.Time) error  { return c.raw.SetReadDeadline(t) }
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }
