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
	ps   *pollState
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
	if !set.register(tc, pu, func(ps *pollState) { pu.ps = ps }) {
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
	if pu.ps != nil {
		pu.ps.detach(pu)
	}
	_ = pu.nc.Close()
}

// onReadable reads what arrived of the request head; once it is complete
// the poller opens the WebSocket, or hands the socket to net/http.
func (pu *pendingUpgrade) onReadable() {
	if pu.done.Load() {
		return
	}
	bp := largeBufPool.Get().(*[]byte)
	defer largeBufPool.Put(bp)
	buf := *bp
	n, rerr, err := pu.ps.read(buf)
	for err == nil && rerr == unix.EINTR {
		n, rerr, err = pu.ps.read(buf)
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
	end := bytes.Index(data, []byte("\r\n\r\n"))
	if end < 0 {
		if len(data) >= maxPolledHead || n == len(buf) {
			pu.toHTTP(data)
			return
		}
		if len(pu.head) == 0 {
			pu.head = append(make([]byte, 0, 2*len(data)), data...)
		}
		return // a short read drained the socket: the rest is a new edge
	}
	head, rest := data[:end+4], data[end+4:]
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
	pu.s.open(pu.tc, nil, a, origin, initial, resp, pu.ps)
	if n == len(buf) {
		// The read filled the buffer: more may wait in the socket, with
		// no new edge to announce it.
		pu.ps.recheck()
	}
}

// toHTTP gives the socket and the bytes read so far to net/http.
func (pu *pendingUpgrade) toHTTP(data []byte) {
	if !pu.done.CompareAndSwap(false, true) {
		return
	}
	pu.timer.Stop()
	pu.ps.detach(pu)
	pu.hand.put(&prefixConn{Conn: pu.nc, pre: append([]byte(nil), data...)})
}
