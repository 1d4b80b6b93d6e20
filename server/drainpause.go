package server

import (
	"sync"
	"time"
)

// drainPause lets whoever started a drain hold its closes for a while: the
// supervisor does when the new generation's accept queue grows long, since
// every socket closed then reconnects into a queue that would overflow,
// and a client whose SYN is dropped waits out TCP's retransmission backoff.
// Time spent paused does not count against the drain's schedule: the
// closes due during a pause are made after it, spread as before.
//
// Lock story: mu guards paused, since, held and changed; Drain reads them
// through shift and wait, PauseDrain writes them from any goroutine.
type drainPause struct {
	mu      sync.Mutex
	paused  bool
	since   time.Time     // when the current pause began
	held    time.Duration // the pauses before the current one, in total
	changed chan struct{} // closed and replaced whenever paused changes
}

// PauseDrain holds (true) or resumes (false) the closes of a drain under
// way or yet to start. A pause lasts until resumed; the drain's caller
// bounds the whole drain with its context.
func (s *Server) PauseDrain(paused bool) {
	p := &s.drainPause
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused == paused {
		return
	}
	if paused {
		p.since = time.Now()
	} else {
		p.held += time.Since(p.since)
	}
	p.paused = paused
	if p.changed != nil {
		close(p.changed)
	}
	p.changed = make(chan struct{})
}

// state returns whether the drain is paused, how far its schedule has
// moved because of pauses so far, and a channel closed at the next change.
func (p *drainPause) state() (paused bool, shift time.Duration, changed <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.changed == nil {
		p.changed = make(chan struct{})
	}
	shift = p.held
	if p.paused {
		shift += time.Since(p.since)
	}
	return p.paused, shift, p.changed
}
