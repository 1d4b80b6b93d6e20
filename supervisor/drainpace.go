package supervisor

import (
	"runtime"
	"time"
)

// reconnectsPerCPU is the pace, per CPU of the machine, at which a
// restart lets its clients reconnect.
//
// pusher-js reconnects at once on a 4200 close, so the drain window is the
// length of the reconnect storm a restart causes: 200,000 connections
// closed over 10 s come back at 20,000 connects per second, more than a new
// generation accepts while the old one is still closing (about 8,000 per
// second on two cores). The accept queue then overflows, the kernel drops
// SYNs, and every client whose SYN was dropped waits out TCP's
// retransmission backoff (1 s, 3 s, 7 s...): the storm that should take
// 25 s takes minutes. Holding the reconnects to a pace the new generation
// keeps up with moves everyone sooner.
const reconnectsPerCPU = 2000

// reconnectPace is the restart's reconnect pace, per second.
func (c *Config) reconnectPace() int {
	if c.ReconnectPace > 0 {
		return c.ReconnectPace
	}
	return reconnectsPerCPU * runtime.NumCPU()
}

// restartDrainWindow is the window a restart drains conns connections
// over: the configured one (--drain-window), stretched when the
// connections would come back faster than pace per second. Stopping never
// stretches it (stopDrainWindow): process managers wait for that window.
func restartDrainWindow(configured time.Duration, conns, pace int) time.Duration {
	need := paceNeeds(conns, pace)
	if need <= configured {
		return configured
	}
	return need.Round(time.Second)
}

// stopDrainWindow is the window a stop drains conns connections over:
// what they need at the reconnect pace, at most the configured window. Its
// clients reconnect elsewhere (another server behind the load balancer)
// or keep retrying until this one is back, so the pace still spares
// whoever takes them; a handful of connections (Ctrl-C in development, a
// container stopped with Docker's 10 s grace) close at once instead of at
// random moments of the whole window.
func stopDrainWindow(configured time.Duration, conns, pace int) time.Duration {
	return min(configured, paceNeeds(conns, pace))
}

// paceNeeds is how long conns reconnects take at pace per second.
func paceNeeds(conns, pace int) time.Duration {
	pace = max(pace, 1)
	return (time.Duration(conns)*time.Second + time.Duration(pace) - 1) / time.Duration(pace)
}

// drainPace explains a stretched window in the log line of a drain.
func drainPace(configured, window time.Duration, conns, pace int) string {
	if window == configured {
		return ""
	}
	return " (" + itoa(conns) + " connections reconnect at up to " + itoa(pace) +
		" per second; --drain-window " + configured.String() + ")"
}
