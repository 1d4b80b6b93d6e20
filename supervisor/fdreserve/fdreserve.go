// Package fdreserve keeps a process answering at its open-files limit
// (RLIMIT_NOFILE). Each serving process holds a few placeholder
// descriptors. When its descriptor table fills up (a connection handed over
// by the supervisor did not fit, or accept(2) failed with EMFILE), the
// placeholders are released: the room they leave serves the HTTP API (the
// Laravel app's broadcasts), while new WebSocket connections are refused
// with 503 until existing ones close. Once there is room again the
// placeholders are taken back and WebSockets are accepted as before.
package fdreserve

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Size is how many descriptors a process with limit open files keeps in
// reserve: an eighth of a small limit, at most 64.
func Size(limit uint64) int {
	return int(min(64, max(8, limit/8)))
}

// Options configure a Reserve.
type Options struct {
	// Size is the number of placeholders (Size(limit) when 0).
	Size int
	// Limit is the process's open-files limit, for messages.
	Limit uint64
	// CurrentLimit, when set, reads the limit again for each message (an
	// operator may lower it with prlimit while the process runs).
	CurrentLimit func() uint64
	// Headroom is how many descriptors beyond the placeholders must be
	// free before the process takes WebSockets again (default 64, one
	// batch of the supervisor's hand-off).
	Headroom int
	// Retry is how often a full process checks for room (default 250 ms).
	Retry time.Duration
	// OnChange is called (from the goroutine that saw it) when the process
	// becomes full or has room again.
	OnChange func(full bool)
	// Open opens one placeholder; nil opens the null device.
	Open func() (*os.File, error)
}

// Reserve is one process's placeholders.
//
// Lock story: mu guards held and serialises Exhausted against the room
// check; full is read lock-free on every WebSocket upgrade. The room
// watcher goroutine runs only while full and ends on Close.
type Reserve struct {
	opts Options
	full atomic.Bool

	mu       sync.Mutex
	held     []*os.File
	watching bool
	closed   bool
	stop     chan struct{}
	wg       sync.WaitGroup
}

// New opens the placeholders. A process already at its limit starts full.
func New(o Options) *Reserve {
	if o.Size <= 0 {
		o.Size = Size(o.Limit)
	}
	if o.Headroom <= 0 {
		o.Headroom = 64
	}
	if o.Retry <= 0 {
		o.Retry = 250 * time.Millisecond
	}
	if o.Open == nil {
		o.Open = func() (*os.File, error) { return os.Open(os.DevNull) }
	}
	r := &Reserve{opts: o, stop: make(chan struct{})}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.takeLocked(0) {
		r.full.Store(true)
		r.watchLocked()
	}
	return r
}

// Full reports whether the process is at its limit: connections taken now
// come from the reserve (their WebSocket upgrades are refused with 503) and
// HTTP responses should close their connection.
func (r *Reserve) Full() bool { return r != nil && r.full.Load() }

// Limit is the open-files limit the Reserve was made for (0 for nil).
func (r *Reserve) Limit() uint64 {
	if r == nil {
		return 0
	}
	if r.opts.CurrentLimit != nil {
		if n := r.opts.CurrentLimit(); n != 0 {
			return n
		}
	}
	return r.opts.Limit
}

// Exhausted says the descriptor table is full: the placeholders are
// released for what must keep working, and the process is full until a
// check finds room again.
func (r *Reserve) Exhausted() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	for _, f := range r.held {
		f.Close()
	}
	r.held = nil
	if !r.full.Swap(true) && r.opts.OnChange != nil {
		r.opts.OnChange(true)
	}
	r.watchLocked()
}

// takeLocked opens the placeholders plus extra more (closed again at once,
// they only prove there is room); false when the table cannot hold them.
func (r *Reserve) takeLocked(extra int) bool {
	files := make([]*os.File, 0, r.opts.Size+extra)
	for len(files) < r.opts.Size+extra {
		f, err := r.opts.Open()
		if err != nil {
			for _, g := range files {
				g.Close()
			}
			return false
		}
		files = append(files, f)
	}
	for _, f := range files[r.opts.Size:] {
		f.Close()
	}
	r.held = files[:r.opts.Size]
	return true
}

func (r *Reserve) watchLocked() {
	if r.watching || r.closed {
		return
	}
	r.watching = true
	r.wg.Add(1)
	go r.watch()
}

// watch checks for room while the process is full.
func (r *Reserve) watch() {
	defer r.wg.Done()
	t := time.NewTicker(r.opts.Retry)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return
		}
		if r.takeLocked(r.opts.Headroom) {
			r.full.Store(false)
			r.watching = false
			r.mu.Unlock()
			if r.opts.OnChange != nil {
				r.opts.OnChange(false)
			}
			return
		}
		r.mu.Unlock()
	}
}

// Close releases the placeholders and stops the room checks.
func (r *Reserve) Close() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.stop)
	for _, f := range r.held {
		f.Close()
	}
	r.held = nil
	r.mu.Unlock()
	r.wg.Wait()
	return nil
}

// IsExhaustion reports whether err says a descriptor table is full (the
// process's EMFILE or the system's ENFILE).
func IsExhaustion(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// Advice is the fix to name in a log line about the limit.
func Advice(limit uint64) string {
	return fmt.Sprintf("each process may open %d files; raise the hard limit (systemd LimitNOFILE=, supervisor minfds=, "+
		"nofile in /etc/security/limits.conf, ulimit -n); reverb doctor shows the numbers", limit)
}

// Listener is a listener of a process that accepts its own connections
// (--workers 0, and the portable build): when accept(2) fails because the
// table is full, the reserve is released so the waiting connection is
// taken (a WebSocket then gets 503, an API request its answer). With the
// reserve already spent, connections wait in the listen queue until a
// descriptor is free.
type Listener struct {
	net.Listener
	Reserve *Reserve
}

// Accept is the wrapped listener's, past the limit; connections accepted
// while the process is full are marked (Conn).
func (l Listener) Accept() (net.Conn, error) {
	delay := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err == nil && l.Reserve.Full() {
			return &Conn{c}, nil
		}
		if err == nil || !IsExhaustion(err) {
			return c, err
		}
		if !l.Reserve.Full() {
			l.Reserve.Exhausted()
			continue
		}
		time.Sleep(delay)
		delay = min(2*delay, time.Second)
	}
}

// Conn marks a connection taken from the reserve: its WebSocket upgrade is
// refused (the descriptor is for the HTTP API).
type Conn struct{ net.Conn }

// NetConn is the connection inside (for code that looks through wrappers).
func (c *Conn) NetConn() net.Conn { return c.Conn }

// Reserved reports whether nc, or a connection it wraps (TLS, a listener's
// own wrapper with a NetConn method), was taken from the reserve.
func Reserved(nc net.Conn) bool {
	for depth := 0; depth < 4 && nc != nil; depth++ {
		if _, ok := nc.(*Conn); ok {
			return true
		}
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return false
		}
		nc = u.NetConn()
	}
	return false
}
