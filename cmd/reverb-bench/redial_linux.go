//go:build linux

package main

import (
	"errors"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The reconnect side of a client process. When a worker drains its sockets
// on a restart, every client reconnects at once (as pusher-js does after a
// 4200-range close), and in a 200,000-connection restart the clients share
// the two cores with the server they measure. A goroutine and net.Dial per
// reconnect costs about twice the system calls and CPU of the storm's
// dialer (epolldial_linux.go), so the redialer drives every reconnect in
// flight the same way: non-blocking sockets in one epoll set, one goroutine
// per process, the same state machine, then the subscribed socket goes back
// to the epoll readers. (What cost the clients most, connect(2)'s search
// for a free local port, is clientSources' part.)
//
// Ownership: one redialer per client process, one goroutine (run) that owns
// the epoll set, the dials in flight and the retry list; other goroutines
// only append to queue (under mu) and write the eventfd that wakes run. It
// lives as long as the process, as the readers do.

type redialJob struct {
	channel   string
	shard     *latencyShard
	attempt   int
	notBefore time.Time
}

type redialing struct {
	epollDial
	job redialJob
}

type redialer struct {
	st       *clientState
	ep       int
	wake     int             // eventfd: a job was queued
	from     []unix.Sockaddr // source addresses, taken in turn
	nextFrom int
	to       unix.Sockaddr
	request  []byte

	mu    sync.Mutex
	queue []redialJob // guarded by mu
}

// redialAttempts and redialBackoff are what the goroutine path did: a
// refused or failed reconnect is tried again 50 ms later, 200 times.
const (
	redialAttempts = 200
	redialBackoff  = 50 * time.Millisecond
	redialTimeout  = 10 * time.Second
)

// newRedialer starts the process's redialer, or returns nil where the
// address is not IPv4 (the goroutine path reconnects then).
func newRedialer(st *clientState) *redialer {
	to, err := sockaddr(st.addr)
	if err != nil {
		return nil
	}
	from, err := st.sourceAddrs()
	if err != nil {
		return nil
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(ep)
		return nil
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(ep)
		unix.Close(wake)
		return nil
	}
	rd := &redialer{st: st, ep: ep, wake: wake, from: from, to: to, request: upgradeRequest(st)}
	go rd.run()
	return rd
}

// upgradeRequest is the WebSocket upgrade the process's dials send (the
// key is fixed: the server's accept value is not checked).
func upgradeRequest(st *clientState) []byte {
	return []byte("GET " + st.path + "/app/" + st.key + "?protocol=7&client=reverb-bench&version=1.0&flash=false HTTP/1.1\r\n" +
		"Host: " + st.addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
}

// reconnect queues a reconnect for a socket the server closed.
func (rd *redialer) reconnect(channel string, shard *latencyShard) {
	rd.mu.Lock()
	rd.queue = append(rd.queue, redialJob{channel: channel, shard: shard})
	rd.mu.Unlock()
	var one = [8]byte{1}
	_, _ = unix.Write(rd.wake, one[:])
}

func (rd *redialer) run() {
	st := rd.st
	dials := map[int]*redialing{}
	var waiting []redialJob // retries not due yet
	subscribes := map[string][]byte{}
	events := make([]unix.EpollEvent, 512)
	rbuf := make([]byte, 16<<10)
	var wakeBuf [8]byte
	nextCheck := time.Now().Add(time.Second)

	retry := func(job redialJob, err error) {
		if errors.Is(err, unix.ECONNREFUSED) {
			st.refused.Add(1)
		} else {
			st.noteError(err)
		}
		job.attempt++
		if job.attempt < redialAttempts {
			job.notBefore = time.Now().Add(redialBackoff)
			waiting = append(waiting, job)
		}
	}
	start := func(job redialJob) {
		rd.nextFrom++
		d, err := dialNonblocking(rd.ep, rd.from[rd.nextFrom%len(rd.from)], rd.to)
		if err != nil {
			retry(job, err)
			return
		}
		d.start = time.Now()
		dials[d.fd] = &redialing{epollDial: *d, job: job}
	}
	end := func(d *redialing, err error) {
		_ = unix.EpollCtl(rd.ep, unix.EPOLL_CTL_DEL, d.fd, nil)
		delete(dials, d.fd)
		if err != nil {
			_ = unix.Close(d.fd)
			retry(d.job, err)
			return
		}
		st.reconnects.Add(1)
		st.subscribedRaw(&d.epollDial, d.job.channel, true, d.job.shard)
	}

	for {
		timeout := 100
		if len(waiting) > 0 {
			timeout = int(redialBackoff / time.Millisecond / 5)
		}
		n, err := unix.EpollWait(rd.ep, events, timeout)
		if err != nil && err != unix.EINTR {
			return
		}
		for i := 0; i < n; i++ {
			fd := int(events[i].Fd)
			if fd == rd.wake {
				_, _ = unix.Read(rd.wake, wakeBuf[:])
				continue
			}
			d := dials[fd]
			if d == nil {
				continue
			}
			sub, ok := subscribes[d.job.channel]
			if !ok {
				sub = subscribeFrame(d.job.channel)
				subscribes[d.job.channel] = sub
			}
			if done, err := d.step(events[i].Events, rd.request, sub, rbuf); err != nil || done {
				end(d, err)
			}
		}

		// New reconnects start at once; retries when their backoff is over.
		rd.mu.Lock()
		queued := rd.queue
		rd.queue = nil
		rd.mu.Unlock()
		for _, job := range queued {
			start(job)
		}
		now := time.Now()
		var due []redialJob
		kept := waiting[:0] // filtered in place; retries of due jobs append after it
		for _, job := range waiting {
			if now.Before(job.notBefore) {
				kept = append(kept, job)
			} else {
				due = append(due, job)
			}
		}
		waiting = kept
		for _, job := range due {
			start(job)
		}
		if now.After(nextCheck) {
			nextCheck = now.Add(time.Second)
			for _, d := range dials {
				if now.Sub(d.start) > redialTimeout {
					end(d, errors.New("no subscription_succeeded within 10s"))
				}
			}
		}
	}
}
