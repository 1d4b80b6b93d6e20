package server

import (
	"time"

	"github.com/reverb-go/reverb/server/websocket"
)

// sweepLoop runs the ping/prune sweep of §5 every PingSweepInterval, over
// every open socket (compatibility decision: not only subscribed ones).
// Owned by the Server; stops when s.stop closes.
func (s *Server) sweepLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.PingSweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.sweep(time.Now())
	}
}

// sweep prunes stale sockets, then pings inactive ones.
func (s *Server) sweep(now time.Time) {
	for _, a := range s.appList() {
		a.mu.Lock()
		conns := make([]*conn, 0, len(a.conns))
		for _, c := range a.conns {
			conns = append(conns, c)
		}
		a.mu.Unlock()
		interval := time.Duration(a.cfg.PingInterval) * time.Second
		inactive := func(c *conn) bool {
			return !now.Before(time.Unix(0, c.lastSeen.Load()).Add(interval))
		}
		if s.debug != nil {
			s.debugInfo("Pruning Stale Connections", "")
		}
		kept := conns[:0]
		for _, c := range conns {
			if inactive(c) && c.pinged.Load() {
				if s.debug != nil {
					s.debugInfo("Connection Pruned", c.id)
				}
				c.closeNow(4201, "Pong reply not received in time", false, frameStale())
				continue
			}
			kept = append(kept, c)
		}
		if s.debug != nil {
			s.debugInfo("Pinging Inactive Connections", "")
		}
		for _, c := range kept {
			if !inactive(c) {
				continue
			}
			if c.controlFrames.Load() {
				c.send(websocket.AppendPing(nil, nil))
			} else {
				c.send(framePing())
			}
			c.pinged.Store(true)
			if s.debug != nil {
				s.debugInfo("Connection Pinged", c.id)
			}
		}
	}
}
