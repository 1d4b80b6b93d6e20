package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// The client side runs in child processes ("reverb-bench _client") so that
// the sockets spread over several open-files limits and source addresses. The
// coordinator drives each child with JSON commands on stdin and reads one
// JSON reply per command on stdout.

type clientCmd struct {
	Op          string `json:"op"`
	N           int    `json:"n,omitempty"`
	Channel     string `json:"channel,omitempty"`
	Concurrency int    `json:"concurrency,omitempty"`
	// Reconnect makes a socket closed by the server reconnect and
	// resubscribe at once, as pusher-js does after a 4200-range close.
	Reconnect bool `json:"reconnect,omitempty"`
	// Epoll dials with the epoll dialer (epolldial_linux.go) where the
	// process reads with epoll, the socket is plain and nothing reconnects.
	Epoll bool `json:"epoll,omitempty"`
}

type clientReply struct {
	Op         string  `json:"op"`
	OK         int     `json:"ok"`
	Failed     int     `json:"failed"`
	Refused    int     `json:"refused"`
	Open       int64   `json:"open"`
	Received   uint64  `json:"received"`
	LastRecvNS int64   `json:"last_recv_ns"`
	Reconnects uint64  `json:"reconnects"`
	Closes     uint64  `json:"closes"`
	CPUSeconds float64 `json:"cpu_seconds"`
	ElapsedMS  float64 `json:"elapsed_ms"`
	ErrSample  string  `json:"err_sample,omitempty"`
	Latency    *hist   `json:"latency,omitempty"` // event delivery latency
	Connect    *hist   `json:"connect,omitempty"` // handshake + subscribe
}

// latencyShard holds the receive figures of the connections assigned to it;
// its mutex is taken once per delivered event, by one of ~1/16 of the reader
// goroutines, so readers rarely contend and no cache line is shared by all
// of them (a process-wide atomic counter was, and showed up in profiles).
type latencyShard struct {
	mu       sync.Mutex
	h        hist
	received uint64
	lastRecv int64
	_        [64]byte // keep neighbouring shards off this cache line
}

type clientState struct {
	addr, src, path, key string
	tls                  bool // dial wss

	// srcs are the source addresses dials take in turn (see
	// clientSources); nextSrc picks the next.
	srcs    []string
	nextSrc atomic.Uint32

	open       atomic.Int64
	reconnects atomic.Uint64
	closes     atomic.Uint64
	refused    atomic.Uint64

	// latency is sharded so thousands of reader goroutines do not contend
	// on one lock; a connection's shard is fixed when it is opened.
	latency [16]latencyShard

	// readers is the epoll receive side (nil: a goroutine per socket,
	// the -goroutine-client mode); redials reconnects the sockets they
	// read (nil: a goroutine per reconnect).
	readers *epollReaders
	redials *redialer

	mu        sync.Mutex // guards connect, conns, errSample, nextShard
	connect   hist
	conns     map[*wsConn]struct{} // open sockets, closed on "close"
	errSample string
	nextShard int
}

func runClient(args []string) int {
	if len(args) != 5 && (len(args) != 6 || args[5] != "tls") {
		fmt.Fprintln(os.Stderr, "usage: reverb-bench _client ADDR SRC PATH KEY epoll|goroutine [tls]")
		return 2
	}
	st := &clientState{addr: args[0], src: args[1], path: args[2], key: args[3], tls: len(args) == 6,
		conns: map[*wsConn]struct{}{}}
	st.srcs = clientSources(st.src)
	if st.path == "-" {
		st.path = ""
	}
	// TLS sockets are read by a goroutine each (the epoll reader needs the
	// raw socket).
	if args[4] == "epoll" && !st.tls {
		rs, err := newEpollReaders(st)
		if err != nil {
			fmt.Fprintln(os.Stderr, "epoll:", err)
			return 2
		}
		st.readers = rs
		st.redials = newRedialer(st)
	}
	in := bufio.NewScanner(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var cmd clientCmd
		if err := json.Unmarshal(in.Bytes(), &cmd); err != nil {
			fmt.Fprintln(os.Stderr, "bad command:", err)
			return 2
		}
		switch cmd.Op {
		case "connect":
			if cmd.Epoll && st.readers != nil && !st.tls && !cmd.Reconnect {
				_ = out.Encode(st.connectEpoll(cmd))
				break
			}
			_ = out.Encode(st.connectMany(cmd))
		case "raw":
			_ = out.Encode(st.connectRaw(cmd))
		case "reset":
			for i := range st.latency {
				sh := &st.latency[i]
				sh.mu.Lock()
				sh.h, sh.received, sh.lastRecv = hist{}, 0, 0
				sh.mu.Unlock()
			}
			st.mu.Lock()
			st.connect = hist{}
			st.mu.Unlock()
			st.reconnects.Store(0)
			st.closes.Store(0)
			st.refused.Store(0)
			_ = out.Encode(clientReply{Op: "reset", CPUSeconds: selfCPU()})
		case "report":
			_ = out.Encode(st.report())
		case "close":
			st.closeAll()
			_ = out.Encode(clientReply{Op: "close"})
			return 0
		default:
			fmt.Fprintln(os.Stderr, "unknown op", cmd.Op)
			return 2
		}
	}
	return 0
}

func (st *clientState) report() clientReply {
	var lat hist
	var received uint64
	var lastRecv int64
	for i := range st.latency {
		sh := &st.latency[i]
		sh.mu.Lock()
		lat.merge(&sh.h)
		received += sh.received
		lastRecv = max(lastRecv, sh.lastRecv)
		sh.mu.Unlock()
	}
	st.mu.Lock()
	con := st.connect
	errSample := st.errSample
	st.mu.Unlock()
	return clientReply{
		Op: "report", Open: st.open.Load(), Received: received,
		LastRecvNS: lastRecv, Reconnects: st.reconnects.Load(),
		Closes: st.closes.Load(), Refused: int(st.refused.Load()), CPUSeconds: selfCPU(),
		Latency: &lat, Connect: &con, ErrSample: errSample,
	}
}

// connectMany opens cmd.N sockets with cmd.Concurrency dialers in parallel.
func (st *clientState) connectMany(cmd clientCmd) clientReply {
	start := time.Now()
	conc := cmd.Concurrency
	if conc <= 0 {
		conc = 64
	}
	var ok, failed, refused atomic.Int64
	next := make(chan struct{}, cmd.N)
	for i := 0; i < cmd.N; i++ {
		next <- struct{}{}
	}
	close(next)
	var wg sync.WaitGroup
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				c, err := st.dialSubscribed(cmd.Channel)
				switch {
				case err == errRefused:
					refused.Add(1)
				case err != nil:
					failed.Add(1)
					st.noteError(err)
				default:
					ok.Add(1)
					st.mu.Lock()
					st.conns[c] = struct{}{}
					shard := &st.latency[st.nextShard%len(st.latency)]
					st.nextShard++
					st.mu.Unlock()
					st.startReading(c, cmd.Channel, cmd.Reconnect, shard)
				}
			}
		}()
	}
	wg.Wait()
	r := clientReply{Op: "connected", OK: int(ok.Load()), Failed: int(failed.Load()),
		Refused: int(refused.Load()), Open: st.open.Load(),
		ElapsedMS: float64(time.Since(start).Microseconds()) / 1000}
	st.mu.Lock()
	con := st.connect
	r.ErrSample = st.errSample
	st.mu.Unlock()
	r.Connect = &con
	return r
}

// connectRaw opens cmd.N plain TCP sockets to the address with no
// WebSocket handshake and reads them as it reads subscribed sockets: the
// reader side of the fan-out floor (atfloor.go), whose writer sends
// ready-made event frames.
func (st *clientState) connectRaw(cmd clientCmd) clientReply {
	start := time.Now()
	d := net.Dialer{Timeout: 10 * time.Second}
	if src := st.source(); src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
		d.Control = bindNoPort
	}
	r := clientReply{Op: "connected"}
	for i := 0; i < cmd.N; i++ {
		c, err := d.Dial("tcp", st.addr)
		if err != nil {
			r.Failed++
			if r.ErrSample == "" {
				r.ErrSample = err.Error()
			}
			continue
		}
		ws := &wsConn{c: c, br: bufio.NewReaderSize(c, 4096)}
		st.mu.Lock()
		st.conns[ws] = struct{}{}
		shard := &st.latency[st.nextShard%len(st.latency)]
		st.nextShard++
		st.mu.Unlock()
		st.open.Add(1)
		st.startReading(ws, "", false, shard)
		r.OK++
	}
	r.Open = st.open.Load()
	r.ElapsedMS = float64(time.Since(start).Microseconds()) / 1000
	return r
}

func (st *clientState) dialSubscribed(channel string) (*wsConn, error) {
	t0 := time.Now()
	c, err := dialPusher(st.addr, st.source(), st.path, st.key, st.tls, 10*time.Second)
	if err != nil {
		return nil, err
	}
	if err := c.subscribe(channel, 10*time.Second); err != nil {
		c.Close()
		return nil, err
	}
	st.mu.Lock()
	st.connect.add(time.Since(t0))
	st.mu.Unlock()
	st.open.Add(1)
	return c, nil
}

// sourcesPerClient is how many loopback source addresses a client process
// dials from. connect(2) looks for a local port free for the source and
// destination by probing, and with 15,000 sockets per source (as many more
// in TIME_WAIT during a restart) the probing took 40 % of both cores
// (perf: __inet_check_established), which the server then lacked. Real
// clients come from many addresses; eight keep each under ~2,000.
const sourcesPerClient = 8

// clientSources is src, a 127.0.0.x address, and seven more of the
// process's own: 127.x.1.1 to 127.x.7.1 (no other process uses 127.x.0.0/16
// with x ≥ 1). Any other src is used alone.
func clientSources(src string) []string {
	ip := net.ParseIP(src).To4()
	if ip == nil || ip[0] != 127 || ip[1] != 0 || ip[2] != 0 || ip[3] == 0 {
		return []string{src}
	}
	out := []string{src}
	for j := 1; j < sourcesPerClient; j++ {
		out = append(out, fmt.Sprintf("127.%d.%d.1", ip[3], j))
	}
	return out
}

// source is the address the next dial binds to ("" when unset).
func (st *clientState) source() string {
	if len(st.srcs) == 0 {
		return st.src
	}
	return st.srcs[int(st.nextSrc.Add(1))%len(st.srcs)]
}

// noteError keeps the first error a dial met, for the reply.
func (st *clientState) noteError(err error) {
	st.mu.Lock()
	if st.errSample == "" {
		st.errSample = err.Error()
	}
	st.mu.Unlock()
}

// closed counts and forgets a socket that closed.
func (st *clientState) closed(c *wsConn) {
	st.open.Add(-1)
	st.closes.Add(1)
	c.Close()
	st.mu.Lock()
	delete(st.conns, c)
	st.mu.Unlock()
}

// closeAll closes every open socket.
func (st *clientState) closeAll() {
	st.mu.Lock()
	defer st.mu.Unlock()
	for c := range st.conns {
		c.Close()
	}
}

// startReading hands a subscribed socket to the epoll readers, or to a
// goroutine of its own when there are none.
func (st *clientState) startReading(c *wsConn, channel string, reconnect bool, shard *latencyShard) {
	if st.readers != nil {
		if err := st.readers.add(c, channel, reconnect, shard); err == nil {
			return
		}
	}
	go st.readLoop(c, channel, reconnect, shard)
}

// readLoop consumes server frames until the socket closes; with reconnect it
// dials again at once (refused dials are counted and retried).
func (st *clientState) readLoop(c *wsConn, channel string, reconnect bool, shard *latencyShard) {
	for {
		op, payload, err := c.readFrame()
		if err != nil || op == 8 {
			st.closed(c)
			if !reconnect {
				return
			}
			for attempt := 0; attempt < 200; attempt++ {
				nc, err := st.dialSubscribed(channel)
				if err == nil {
					st.reconnects.Add(1)
					c = nc
					st.mu.Lock()
					st.conns[c] = struct{}{}
					st.mu.Unlock()
					break
				}
				if err == errRefused {
					st.refused.Add(1)
				}
				time.Sleep(50 * time.Millisecond)
			}
			continue
		}
		switch op {
		case 1:
			if ts, ok := eventStamp(payload); ok {
				now := time.Now().UnixNano()
				shard.mu.Lock()
				shard.h.add(time.Duration(now - ts))
				shard.received++
				shard.lastRecv = max(shard.lastRecv, now)
				shard.mu.Unlock()
			} else if len(payload) < 64 && string(payload) == `{"event":"pusher:ping"}` {
				_ = c.sendText([]byte(`{"event":"pusher:pong"}`))
			}
		case 9:
			_ = c.send(10, payload)
		}
	}
}
