//go:build linux && !portable

package supervisor

import (
	"testing"
	"time"
)

// The drain holds while a quarter of the backlog waits, resumes below a
// sixteenth, and holds one window in all at most.
func TestDrainPacerHoldsWhileTheQueueIsLong(t *testing.T) {
	pc := &drainPacer{window: time.Minute}
	for _, c := range []struct {
		waiting, capacity int
		toggle            bool
		paused            bool // after the toggle, if any
	}{
		{0, 4096, false, false},
		{1023, 4096, false, false},
		{1024, 4096, true, true}, // a quarter: hold
		{300, 4096, false, true}, // still above a sixteenth
		{256, 4096, true, false}, // a sixteenth: resume
		{4096, 4096, true, true},
	} {
		if got := pc.shouldToggle(c.waiting, c.capacity); got != c.toggle {
			t.Fatalf("%d of %d waiting (paused %v): toggle %v", c.waiting, c.capacity, pc.paused, got)
		}
		if c.toggle {
			pc.paused = !pc.paused
			if pc.paused {
				pc.since = time.Now()
			} else {
				pc.held += time.Since(pc.since)
			}
		}
		if pc.paused != c.paused {
			t.Fatalf("%d of %d waiting: paused %v", c.waiting, c.capacity, pc.paused)
		}
	}
	// Held for a whole window: resume even though the queue is long, and
	// hold no more.
	pc.since = time.Now().Add(-time.Minute)
	if !pc.shouldToggle(4096, 4096) {
		t.Fatal("a drain held for its whole window stays held")
	}
	pc.held, pc.paused = time.Minute, false
	if pc.shouldToggle(4096, 4096) {
		t.Fatal("a drain held for its whole window is held again")
	}
}
