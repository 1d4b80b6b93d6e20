package server

import "sync"

// flusher is one writer of the pool: it drains a ready list of sockets
// that have frames queued, with one non-blocking writev each. Under load a
// socket collects several frames while it waits its turn, so they go out
// in one syscall; an idle server wakes a flusher per burst. A socket whose
// kernel buffer is full leaves the pool for its own writer goroutine
// (conn.flushOnce), so no flusher ever waits on a slow client.
//
// On Linux a flusher sends a batch through its own io_uring when the
// kernel allows it (uring_linux.go): one system call per chunk of sockets
// instead of one per socket.
//
// Lock story: mu guards ready; a socket is on at most one ready list at a
// time (conn.writing, under conn.omu, says it has an owner). ring belongs
// to the flusher's goroutine.
type flusher struct {
	mu    sync.Mutex
	ready []*conn
	spare []*conn
	wake  chan struct{}
	ring  *sendRing
}

// flushSet is the server's pool; sockets are spread round robin.
type flushSet struct {
	fs   []*flusher
	mu   sync.Mutex // guards next; nothing else is locked under it
	next int
}

func newFlushSet(n int, s *Server) *flushSet {
	set := &flushSet{}
	for i := 0; i < n; i++ {
		f := &flusher{wake: make(chan struct{}, 1)}
		set.fs = append(set.fs, f)
		s.wg.Add(1)
		go f.run(s)
	}
	return set
}

func (set *flushSet) pick() *flusher {
	set.mu.Lock()
	defer set.mu.Unlock()
	f := set.fs[set.next%len(set.fs)]
	set.next++
	return f
}

// push puts c (which has frames and an owner flag set) on the ready list.
func (f *flusher) push(c *conn) {
	f.mu.Lock()
	f.ready = append(f.ready, c)
	first := len(f.ready) == 1
	f.mu.Unlock()
	if first {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}

func (f *flusher) run(s *Server) {
	defer s.wg.Done()
	f.ring = newSendRing()
	defer func() { f.ring.close() }()
	for {
		f.mu.Lock()
		batch := f.ready
		f.ready = f.spare[:0]
		f.spare = nil
		f.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-f.wake:
				continue
			case <-s.stop:
				return
			}
		}
		if f.ring != nil && !f.ring.broken {
			f.ring.flush(batch)
			clear(batch)
		} else {
			for i, c := range batch {
				c.flushOnce()
				batch[i] = nil
			}
		}
		f.mu.Lock()
		if f.spare == nil && cap(batch) <= 4096 {
			f.spare = batch[:0]
		}
		f.mu.Unlock()
	}
}
