//go:build linux

package main

import (
	"encoding/binary"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The receive side of a client process reads its subscribed sockets with
// epoll instead of a goroutine per socket. A goroutine per socket costs a
// netpoller wake-up, a scheduler hand-off and two read(2)s per delivered
// message (the second returns EAGAIN before parking); here one read(2) per
// ready socket drains whatever the server coalesced, so the client takes
// less of the two cores it shares with the server in the fan-out and burst
// runs. (Measured: see docs/performance.md.)
//
// Ownership: a process has one epollReader per CPU; each runs one goroutine
// that owns the epConns registered with it (their pending bytes are touched
// by that goroutine only). The goroutines live as long as the client
// process, which exits on the coordinator's "close" command or when stdin
// closes. conns is guarded by mu because dialers register from other
// goroutines.

type epConn struct {
	ws        *wsConn
	fd        int
	pending   []byte // an incomplete frame carried to the next read
	shard     *latencyShard
	channel   string
	reconnect bool
}

type epollReader struct {
	st    *clientState
	epfd  int
	mu    sync.Mutex
	conns map[int]*epConn
}

type epollReaders struct {
	sets []*epollReader
	mu   sync.Mutex // guards next
	next int
}

func newEpollReaders(st *clientState) (*epollReaders, error) {
	rs := &epollReaders{}
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return nil, err
		}
		r := &epollReader{st: st, epfd: fd, conns: map[int]*epConn{}}
		rs.sets = append(rs.sets, r)
		go r.run()
	}
	return rs, nil
}

// add hands a subscribed socket to one of the readers, round-robin. Bytes the
// handshake's bufio.Reader already holds are processed first.
func (rs *epollReaders) add(ws *wsConn, channel string, reconnect bool, shard *latencyShard) error {
	var pending []byte
	if n := ws.br.Buffered(); n > 0 {
		pending, _ = ws.br.Peek(n)
	}
	return rs.addRead(ws, pending, channel, reconnect, shard)
}

// addRead is add for a socket whose bytes read past the handshake are
// pending (ws.br is not used).
func (rs *epollReaders) addRead(ws *wsConn, pending []byte, channel string, reconnect bool, shard *latencyShard) error {
	raw, err := ws.c.(syscall.Conn).SyscallConn()
	if err != nil {
		return err
	}
	fd := -1
	if err := raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return err
	}
	rs.mu.Lock()
	r := rs.sets[rs.next%len(rs.sets)]
	rs.next++
	rs.mu.Unlock()
	c := &epConn{ws: ws, fd: fd, shard: shard, channel: channel, reconnect: reconnect}
	c.pending = append(c.pending, pending...)
	r.mu.Lock()
	r.conns[fd] = c
	r.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		r.mu.Lock()
		delete(r.conns, fd)
		r.mu.Unlock()
		return err
	}
	return nil
}

func (r *epollReader) run() {
	events := make([]unix.EpollEvent, 512)
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.EpollWait(r.epfd, events, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		for i := 0; i < n; i++ {
			fd := int(events[i].Fd)
			r.mu.Lock()
			c := r.conns[fd]
			r.mu.Unlock()
			if c != nil {
				r.readable(c, buf)
			}
		}
	}
}

// readable does one read(2) and handles every complete frame in it.
func (r *epollReader) readable(c *epConn, buf []byte) {
	n, err := syscall.Read(c.fd, buf)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return
	}
	if err != nil || n == 0 {
		r.drop(c)
		return
	}
	data := buf[:n]
	if len(c.pending) > 0 {
		c.pending = append(c.pending, data...)
		data = c.pending
	}
	for {
		op, payload, rest, ok := nextFrame(data)
		if !ok {
			break
		}
		data = rest
		switch op {
		case 1:
			if ts, ok := eventStamp(payload); ok {
				now := time.Now().UnixNano()
				sh := c.shard
				sh.mu.Lock()
				sh.h.add(time.Duration(now - ts))
				sh.received++
				sh.lastRecv = max(sh.lastRecv, now)
				sh.mu.Unlock()
			} else if string(payload) == `{"event":"pusher:ping"}` {
				_ = c.ws.sendText([]byte(`{"event":"pusher:pong"}`))
			}
		case 8:
			r.drop(c)
			return
		case 9:
			_ = c.ws.send(10, payload)
		}
	}
	// Keep the incomplete tail (copy handles the overlap when data is
	// already inside pending).
	c.pending = append(c.pending[:0], data...)
}

// drop forgets a closed socket and, for reconnecting clients, dials again:
// through the redialer, or on a goroutine of its own (which ends once
// connected or after 200 tries) where the process has none.
func (r *epollReader) drop(c *epConn) {
	_ = unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	r.mu.Lock()
	delete(r.conns, c.fd)
	r.mu.Unlock()
	st := r.st
	st.closed(c.ws)
	switch {
	case !c.reconnect:
	case st.redials != nil:
		st.redials.reconnect(c.channel, c.shard)
	default:
		go st.redial(c.channel, c.shard)
	}
}

// nextFrame splits one complete unmasked server frame off data.
func nextFrame(data []byte) (op byte, payload, rest []byte, ok bool) {
	if len(data) < 2 {
		return 0, nil, data, false
	}
	op = data[0] & 0x0f
	n := uint64(data[1] & 0x7f)
	h := 2
	switch n {
	case 126:
		if len(data) < 4 {
			return 0, nil, data, false
		}
		n, h = uint64(binary.BigEndian.Uint16(data[2:4])), 4
	case 127:
		if len(data) < 10 {
			return 0, nil, data, false
		}
		n, h = binary.BigEndian.Uint64(data[2:10]), 10
	}
	if n > uint64(len(data)-h) {
		return 0, nil, data, false
	}
	end := h + int(n)
	return op, data[h:end], data[end:], true
}

// redial reconnects after the server closed a socket (as pusher-js does
// after a 4200-range close), retrying refused or failed dials 200 times.
func (st *clientState) redial(channel string, shard *latencyShard) {
	for attempt := 0; attempt < 200; attempt++ {
		nc, err := st.dialSubscribed(channel)
		if err == nil {
			st.reconnects.Add(1)
			st.mu.Lock()
			st.conns[nc] = struct{}{}
			st.mu.Unlock()
			st.startReading(nc, channel, true, shard)
			return
		}
		if err == errRefused {
			st.refused.Add(1)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
