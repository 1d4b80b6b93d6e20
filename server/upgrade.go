package server

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Upgrades on the pollers. Where the epoll pollers run (Linux), a plain
// socket is read by a poller from its first byte: the HTTP request of a
// WebSocket upgrade is parsed where the socket's frames will be read, so a
// connect costs no goroutine, no net/http connection and no second epoll
// registration. Whatever is not a clean upgrade to a known app (API
// calls, TLS, handshake errors, an app the provider must be asked about,
// anything unusual) goes to net/http with the bytes already read, and is
// answered exactly as before: the poller only takes requests net/http
// would have accepted and the handshake checks pass.

// acceptLoop accepts from ln: plain sockets go to a poller, the rest to
// hs through a hand-off listener. It returns when ln fails for good (ln
// closed), after hs has stopped serving.
func (s *Server) acceptLoop(ln net.Listener, hs *http.Server) error {
	hand := newHandoffListener(ln.Addr())
	served := make(chan struct{})
	go func() { // owned by this loop: ends when hand closes, below or in Close
		defer close(served)
		_ = hs.Serve(hand)
	}()
	defer func() {
		hand.Close()
		<-served
	}()
	var delay time.Duration // net/http's backoff for temporary accept errors
	for {
		nc, err := ln.Accept()
		if err != nil {
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
					continue
				case <-s.stop:
				}
			}
			return err
		}
		delay = 0
		if tc, ok := rawTCP(nc); ok && s.polls.watchUpgrade(s, hand, nc, tc) {
			continue
		}
		hand.put(nc)
	}
}

// handoffListener is what net/http serves when pollers take the upgrades:
// the connections the accept loop and the pollers hand it.
//
// Lock story: mu serialises put against Close, so every connection put
// before Close is either accepted or closed by Close; closed is closed
// first, which releases a put waiting for room.
type handoffListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
	mu     sync.Mutex
	done   bool // under mu: Close has drained conns
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn, 64), closed: make(chan struct{})}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case <-l.closed:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// put hands c to net/http, or closes it once the listener is closed.
func (l *handoffListener) put(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		_ = c.Close()
		return
	}
	select {
	case l.conns <- c:
	case <-l.closed:
		_ = c.Close()
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.done = true
		for {
			select {
			case c := <-l.conns:
				_ = c.Close()
			default:
				return
			}
		}
	})
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// prefixConn gives net/http the bytes a poller already read, then the
// socket's.
type prefixConn struct {
	net.Conn
	pre []byte // read by net/http's one reader at a time
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// NetConn is the socket underneath (rawTCP, fdreserve.Reserved).
func (c *prefixConn) NetConn() net.Conn { return c.Conn }

// takePrefix returns what net/http did not read of a prefixConn's bytes:
// frames the client sent right behind a long request head.
func takePrefix(nc net.Conn) []byte {
	pc, ok := nc.(*prefixConn)
	if !ok {
		return nil
	}
	p := pc.pre
	pc.pre = nil
	return p
}
