//go:build linux && !portable

package supervisor

import (
	"fmt"
	"time"
)

// paceTick is how often a restart's drain looks at the accept queue.
const paceTick = 20 * time.Millisecond

// drainPacer holds a draining generation's closes while the listening
// socket's accept queue is long. The window's pace (restartDrainWindow)
// suits a machine that has the CPU for it; when the new generation (or the
// supervisor accepting for it) falls behind anyway, because the clients
// share the machine or it is busy with something else, every further close
// would send a client into a queue about to overflow. So the drain holds
// while the queue is over a quarter of the backlog and resumes below a
// sixteenth; nothing is lost meanwhile, the old generation keeps serving
// the sockets it still has. The holds add up to one window at most, so a
// drain ends within twice its window.
//
// Lock story: owned by the event loop; its timer only posts evPaceTick.
type drainPacer struct {
	window time.Duration
	paused bool
	since  time.Time     // when the current hold began
	held   time.Duration // the holds before the current one
	holds  int
	timer  *time.Timer
}

// evPaceTick: time to look at the accept queue again for g's drain.
type evPaceTick struct{ g *generation }

// startPacing begins pacing g's drain over window.
func (s *supervisor) startPacing(g *generation, window time.Duration) {
	g.pacer = &drainPacer{window: window}
	s.schedulePace(g)
}

func (s *supervisor) schedulePace(g *generation) {
	g.pacer.timer = time.AfterFunc(paceTick, func() { s.events <- evPaceTick{g} })
}

// pace holds or resumes g's drain by the accept queue's length.
func (s *supervisor) pace(g *generation) {
	pc := g.pacer
	if pc == nil || g.live() == 0 || s.stopping {
		return
	}
	waiting, capacity, ok := s.disp.acc.Queue()
	if !ok {
		return // the socket does not say: the window's pace alone
	}
	if pc.shouldToggle(waiting, capacity) {
		s.holdDrain(g, !pc.paused)
	}
	s.schedulePace(g)
}

// shouldToggle says whether to hold a running drain or resume a held one
// when waiting of capacity connections are in the accept queue.
func (pc *drainPacer) shouldToggle(waiting, capacity int) bool {
	held := pc.heldFor()
	if !pc.paused {
		return waiting >= capacity/4 && held < pc.window
	}
	return waiting <= capacity/16 || held >= pc.window
}

func (pc *drainPacer) heldFor() time.Duration {
	if pc.paused {
		return pc.held + time.Since(pc.since)
	}
	return pc.held
}

func (s *supervisor) holdDrain(g *generation, hold bool) {
	pc := g.pacer
	if hold {
		pc.since = time.Now()
		pc.holds++
	} else {
		pc.held += time.Since(pc.since)
	}
	pc.paused = hold
	for _, p := range g.procs {
		if p != nil && !p.exited && p.peer != nil {
			p.peer.PauseDrain(hold)
		}
	}
}

// stopPacing ends the pacing of g (it is gone, or the supervisor stops),
// resuming a drain it holds.
func (s *supervisor) stopPacing(g *generation) {
	pc := g.pacer
	if pc == nil {
		return
	}
	if pc.timer != nil {
		pc.timer.Stop()
	}
	if pc.paused {
		s.holdDrain(g, false)
	}
	g.pacer = nil
}

// paceSummary says, for the log line of a generation gone, how long its
// drain was held.
func paceSummary(g *generation) string {
	pc := g.pacer
	if pc == nil || pc.holds == 0 {
		return ""
	}
	return fmt.Sprintf(" (closes held %.1f s in all, %d times, while the accept queue was long)", pc.heldFor().Seconds(), pc.holds)
}
