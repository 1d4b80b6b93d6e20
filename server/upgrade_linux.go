//go:build linux && !portable

package server

import (
	"bytes"
	"net"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// headTimeout is how long a socket may take to send its request head:
// net/http's ReadHeaderTimeout in Serve.
const headTimeout = 30 * time.Second

// maxPolledHead bounds the bytes a poller keeps while a request head is
// incomplete; a longer head goes to net/http, which applies its own limit.
const maxPolledHead = 16 << 10

// pendingUpgrade is an accepted plain socket whose request head has not
// all arrived: the poller reads it (upgrade.go).
//
// Ownership: the poller owns head while the socket is registered (one
// event at a time, one-shot). done is taken by whoever ends the wait, the
// poller with a complete head, the timer, or Close; only the winner
// touches the socket afterwards.
type pendingUpgrade struct {
	s    *Server
	hand *handoffListener
	nc   net.Conn // as accepted, listener wrappers included
	tc   plainSocket
	// ps is set by register before the first event; atomic because the
	// head timer's goroutine reads it too.
	ps atomic.Pointer[pollState]
	// head holds the bytes of a head that took more than one read.
	head  []byte
	timer *time.Timer
	done  atomic.Bool
}

// watchUpgrade registers an accepted plain socket with a poller, which
// reads its request; false means net/http serves it.
func (set *pollSet) watchUpgrade(s *Server, hand *handoffListener, nc net.Conn, tc plainSocket) bool {
	if set == nil {
		return false
	}
	pu := &pendingUpgrade{s: s, hand: hand, nc: nc, tc: tc}
	pu.timer = time.AfterFunc(headTimeout, pu.expire)
	if !set.register(tc, pu, func(ps *pollState) { pu.ps.Store(ps) }) {
		pu.timer.Stop()
		return false
	}
	return true
}

// dropUpgrades closes the sockets still waiting for their request (Close).
func (set *pollSet) dropUpgrades() {
	if set == nil {
		return
	}
	var pending []*pendingUpgrade
	for _, p := range set.ps {
		p.mu.Lock()
		for _, h := range p.conns {
			if pu, ok := h.(*pendingUpgrade); ok {
				pending = append(pending, pu)
			}
		}
		p.mu.Unlock()
	}
	for _, pu := range pending {
		pu.expire()
	}
}

// expire closes a socket that sent no complete request in time.
func (pu *pendingUpgrade) expire() {
	if !pu.done.CompareAndSwap(false, true) {
		return
	}
	if ps := pu.ps.Load(); ps != nil {
		ps.detach(pu)
	}
	_ = pu.nc.Close()
}

// onReadable reads what arrived of the request head; once it is complete
// the poller opens the WebSocket, or hands the socket to net/http.
func (pu *pendingUpgrade) onReadable(events uint32) {
	if pu.done.Load() {
		return
	}
	bp := largeBufPool.Get().(*[]byte)
	defer largeBufPool.Put(bp)
	buf := *bp
	ps := pu.ps.Load()
	n, rerr, err := ps.read(buf)
	for err == nil && rerr == unix.EINTR {
		n, rerr, err = ps.read(buf)
	}
	switch {
	case err == nil && rerr == unix.EAGAIN:
		return // the rest of the head is a new edge
	case err != nil || rerr != nil || n == 0:
		pu.expire() // closed or failed before a request: nothing to answer
		return
	}
	data := buf[:n]
	if len(pu.head) > 0 {
		pu.head = append(pu.head, data...)
		data = pu.head
	}
	end := headEnd(data)
	if end < 0 {
		if len(data) >= maxPolledHead || n == len(buf) {
			pu.toHTTP(data)
			return
		}
		if hungUp(events) {
			// The client hung up before its head was complete: no new
			// edge would come, and the socket would wait for its timer.
			pu.expire()
			return
		}
		if len(pu.head) == 0 {
			pu.head = append(make([]byte, 0, 2*len(data)), data...)
		}
		return // a short read drained the socket: the rest is a new edge
	}
	head, rest := data[:end], data[end:]
	origin, a, resp := pu.s.pollerUpgrade(pu.nc, head)
	if a == nil {
		pu.toHTTP(data)
		return
	}
	if !pu.done.CompareAndSwap(false, true) {
		return // expired or closed meanwhile
	}
	pu.timer.Stop()
	var initial []byte
	if len(rest) > 0 {
		initial = append([]byte(nil), rest...) // frames sent right behind the head
	}
	pu.s.open(pu.tc, nil, a, origin, initial, resp, ps)
	if n == len(buf) || hungUp(events) {
		// The read filled the buffer, or the client hung up: more (or its
		// end) may wait in the socket, with no new edge to announce it.
		ps.recheck()
	}
}

// toHTTP gives the socket and the bytes read so far to net/http.
func (pu *pendingUpgrade) toHTTP(data []byte) {
	if !pu.done.CompareAndSwap(false, true) {
		return
	}
	pu.timer.Stop()
	pu.ps.Load().detach(pu)
	pu.hand.put(&prefixConn{Conn: pu.nc, pre: append([]byte(nil), data...)})
}

// headEnd returns the length of the request head data starts with, through
// the empty line that ends it, or -1 while that line has not arrived. It
// ends where net/http's reader ends it: a line ends in "\n", with or
// without a "\r" before it, so the empty line is "\r\n" or "\n". Bytes
// past it are the client's first frames, whichever path takes the socket.
func headEnd(data []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1 // the next line starts here
		switch {
		case i < len(data) && data[i] == '\n':
			return i + 1
		case i+1 < len(data) && data[i] == '\r' && data[i+1] == '\n':
			return i + 2
		}
	}
}
