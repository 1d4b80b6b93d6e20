//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/reverb-go/reverb/internal/rawsock"
	"golang.org/x/sys/unix"
)

// The storm's dialer. A connect through net.Dial and wsConn costs the client
// process ~150 µs of CPU on this kind of machine (a goroutine per dial, Go's
// poller registration, socket options, deadlines and their timers, a
// buffered reader), nearly twice what the server spends on the same
// connect, so the storm measured the client. Here one goroutine per client
// process drives every dial in flight as a state machine on non-blocking
// sockets in one epoll set, with the fewest system calls a connect and a
// subscribe need: socket, bind, connect, write the upgrade request, read
// the 101 and connection_established, write the subscribe, read
// subscription_succeeded. Subscribed sockets go to the epoll readers like
// any other.

// epollDial is one dial in flight.
type epollDial struct {
	fd    int
	start time.Time
	sent  bool   // the upgrade request is written
	open  bool   // connection_established arrived, the subscribe is written
	buf   []byte // what arrived and is not handled yet
}

var errHandshake = errors.New("handshake")

// connectEpoll opens cmd.N subscribed sockets, cmd.Concurrency at a time.
func (st *clientState) connectEpoll(cmd clientCmd) clientReply {
	start := time.Now()
	r := clientReply{Op: "connected"}
	fail := func(err error) {
		r.Failed++
		if r.ErrSample == "" {
			r.ErrSample = err.Error()
		}
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		fail(err)
		r.Failed = cmd.N
		return r
	}
	defer unix.Close(ep)
	to, err := sockaddr(st.addr)
	if err != nil {
		fail(err)
		r.Failed = cmd.N
		return r
	}
	from, err := st.sourceAddrs()
	if err != nil {
		fail(err)
		r.Failed = cmd.N
		return r
	}
	request := upgradeRequest(st)
	subscribe := subscribeFrame(cmd.Channel)
	conc := cmd.Concurrency
	if conc <= 0 {
		conc = 64
	}

	dials := map[int]*epollDial{}
	end := func(d *epollDial, err error) {
		_ = unix.EpollCtl(ep, unix.EPOLL_CTL_DEL, d.fd, nil)
		delete(dials, d.fd)
		if err != nil {
			_ = unix.Close(d.fd)
			if errors.Is(err, unix.ECONNREFUSED) {
				r.Refused++
			} else {
				fail(err)
			}
			return
		}
		r.OK++
		st.subscribedRaw(d, cmd.Channel, cmd.Reconnect, nil)
	}
	started := 0
	events := make([]unix.EpollEvent, 256)
	rbuf := make([]byte, 16<<10)
	nextCheck := time.Now().Add(time.Second)
	for started < cmd.N || len(dials) > 0 {
		for started < cmd.N && len(dials) < conc {
			started++
			d, err := dialNonblocking(ep, from[started%len(from)], to)
			if err != nil {
				if errors.Is(err, unix.ECONNREFUSED) {
					r.Refused++
				} else {
					fail(err)
				}
				continue
			}
			d.start = time.Now()
			dials[d.fd] = d
		}
		n, err := unix.EpollWait(ep, events, 100)
		if err != nil && err != unix.EINTR {
			fail(err)
			break
		}
		for i := 0; i < n; i++ {
			d := dials[int(events[i].Fd)]
			if d == nil {
				continue
			}
			if done, err := d.step(events[i].Events, request, subscribe, rbuf); err != nil || done {
				end(d, err)
			}
		}
		if now := time.Now(); now.After(nextCheck) {
			nextCheck = now.Add(time.Second)
			for _, d := range dials {
				if now.Sub(d.start) > 10*time.Second {
					end(d, errors.New("no subscription_succeeded within 10s"))
				}
			}
		}
	}
	r.Open = st.open.Load()
	r.ElapsedMS = float64(time.Since(start).Microseconds()) / 1000
	st.mu.Lock()
	con := st.connect
	st.mu.Unlock()
	r.Connect = &con
	return r
}

// dialNonblocking starts a connect and registers the socket with ep.
func dialNonblocking(ep int, from, to unix.Sockaddr) (*epollDial, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if from != nil {
		// See bindNoPort: the port is picked at connect, not by a scan.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
		if err := unix.Bind(fd, from); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("bind: %w", err)
		}
	}
	if err := unix.Connect(fd, to); err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		return nil, fmt.Errorf("connect: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd)}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &epollDial{fd: fd}, nil
}

// step handles one readiness event of the dial: the connect's outcome,
// then the upgrade request, then what arrived (advance). done or an error
// ends the dial.
func (d *epollDial) step(events uint32, request, subscribe, buf []byte) (done bool, err error) {
	if events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 && !d.sent {
		soerr, _ := unix.GetsockoptInt(d.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		return false, fmt.Errorf("connect: %w", unix.Errno(soerr))
	}
	if !d.sent {
		if _, err := unix.Write(d.fd, request); err != nil {
			return false, fmt.Errorf("write request: %w", err)
		}
		d.sent = true
	}
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
		// Only writable (the connect completing): the answer to the
		// request just written comes as an edge of its own, so a read
		// now would only return EAGAIN.
		return false, nil
	}
	if err := d.readAll(buf); err != nil {
		return false, err
	}
	return d.advance(subscribe)
}

// readAll reads until EAGAIN (the registration is edge-triggered).
func (d *epollDial) readAll(buf []byte) error {
	for {
		n, err := unix.Read(d.fd, buf)
		switch {
		case err == unix.EAGAIN:
			return nil
		case err == unix.EINTR:
			continue
		case err != nil:
			return fmt.Errorf("read: %w", err)
		case n == 0:
			return fmt.Errorf("%w: closed by the server", errHandshake)
		}
		d.buf = append(d.buf, buf[:n]...)
		if n < len(buf) {
			return nil
		}
	}
}

// advance handles what arrived: the 101 and connection_established (then
// the subscribe goes out), then subscription_succeeded (done).
func (d *epollDial) advance(subscribe []byte) (done bool, err error) {
	if !d.open {
		i := bytes.Index(d.buf, []byte("\r\n\r\n"))
		if i < 0 {
			return false, nil
		}
		if !bytes.HasPrefix(d.buf, []byte("HTTP/1.1 101")) {
			line, _, _ := bytes.Cut(d.buf, []byte("\r\n"))
			return false, fmt.Errorf("%w: %q", errHandshake, line)
		}
		op, payload, rest, ok := nextFrame(d.buf[i+4:])
		if !ok {
			return false, nil
		}
		if op != 1 || !bytes.Contains(payload, []byte("connection_established")) {
			return false, fmt.Errorf("%w: %q instead of connection_established", errHandshake, payload)
		}
		d.buf = append(d.buf[:0], rest...)
		d.open = true
		if _, err := unix.Write(d.fd, subscribe); err != nil {
			return false, fmt.Errorf("write subscribe: %w", err)
		}
	}
	for {
		op, payload, rest, ok := nextFrame(d.buf)
		if !ok {
			return false, nil
		}
		d.buf = rest
		switch {
		case op == 8:
			return false, fmt.Errorf("closed while subscribing: %v", closeCode(payload))
		case op == 1 && bytes.Contains(payload, []byte("subscription_succeeded")):
			return true, nil
		}
	}
}

// subscribedRaw records a dial that ended subscribed and hands its socket
// to the epoll readers; shard nil takes the next shard.
func (st *clientState) subscribedRaw(d *epollDial, channel string, reconnect bool, shard *latencyShard) {
	sock := rawsock.New(d.fd)
	// The readers know the descriptor by number: a pong written through
	// the net.Conn must not move it (rawsock.Conn.Pin).
	sock.Pin()
	ws := &wsConn{c: sock}
	st.mu.Lock()
	st.connect.add(time.Since(d.start))
	st.conns[ws] = struct{}{}
	if shard == nil {
		shard = &st.latency[st.nextShard%len(st.latency)]
		st.nextShard++
	}
	st.mu.Unlock()
	st.open.Add(1)
	if err := st.readers.addRead(ws, d.buf, channel, reconnect, shard); err != nil {
		// No reader can take it (epoll_ctl failed): count it closed.
		st.closed(ws)
	}
}

// sourceAddrs are st.srcs as IPv4 socket addresses for the epoll dialers
// (nil entries: any).
func (st *clientState) sourceAddrs() ([]unix.Sockaddr, error) {
	srcs := st.srcs
	if len(srcs) == 0 {
		srcs = []string{st.src}
	}
	var out []unix.Sockaddr
	for _, s := range srcs {
		if s == "" {
			out = append(out, nil)
			continue
		}
		sa, err := sockaddr(net.JoinHostPort(s, "0"))
		if err != nil {
			return nil, err
		}
		out = append(out, sa)
	}
	return out, nil
}

// subscribeFrame is the masked pusher:subscribe frame for a public channel.
func subscribeFrame(channel string) []byte {
	return maskedText([]byte(`{"event":"pusher:subscribe","data":{"channel":"` + channel + `"}}`))
}

// maskedText is a client text frame with a fixed mask (any mask will do).
func maskedText(p []byte) []byte {
	mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	out := []byte{0x81}
	switch {
	case len(p) < 126:
		out = append(out, 0x80|byte(len(p)))
	default:
		out = append(out, 0x80|126, byte(len(p)>>8), byte(len(p)))
	}
	out = append(out, mask[:]...)
	for i, b := range p {
		out = append(out, b^mask[i&3])
	}
	return out
}

// sockaddr resolves an IPv4 host:port.
func sockaddr(hostport string) (unix.Sockaddr, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, err
	}
	ip := net.ParseIP(host).To4()
	if ip == nil {
		return nil, fmt.Errorf("%s: the epoll dialer takes IPv4 addresses", hostport)
	}
	sa := &unix.SockaddrInet4{Port: p}
	copy(sa.Addr[:], ip)
	return sa, nil
}
