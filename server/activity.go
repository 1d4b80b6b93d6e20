package server

import (
	"time"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/phpjson"

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
		a.emit(Event{Kind: Sweep, Name: "prune"})
		kept := conns[:0]
		for _, c := range conns {
			if inactive(c) && c.pinged.Load() {
				var data []byte
				if a.wants(ConnectionPruned) {
					data = a.prunedData(c) // before the close unsubscribes it
				}
				c.closeNow(4201, "Pong reply not received in time", false, frameStale())
				a.emit(Event{Kind: ConnectionPruned, SocketID: c.id, Origin: c.origin, Data: data})
				continue
			}
			kept = append(kept, c)
		}
		a.emit(Event{Kind: Sweep, Name: "ping"})
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
			a.emit(Event{Kind: ConnectionPinged, SocketID: c.id, Origin: c.origin})
		}
	}
}

// prunedData is the data() of the channel connection Reverb's
// ConnectionPruned carries: the channel_data of c's first channel in
// creation order (a presence member's user_id and user_info), as JSON; nil
// when that channel took none (Reverb's []) or c is in no channel.
func (a *appState) prunedData(c *conn) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	var first *sub
	for _, sb := range c.subs {
		if !sb.dead.Load() && (first == nil || sb.ch.seq < first.ch.seq) {
			first = sb
		}
	}
	if first == nil || first.data.Kind() != php.Array || first.data.ArrayVal().Len() == 0 {
		return nil
	}
	return phpjson.Append(nil, first.data)
}
