package server

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/phpjson"
)

// Delivery: the transport's callback, one message at a time in the bus
// order, and what it does with broadcasts and terminate notices.

// deliver is the transport's callback: one message at a time, in order.
func (s *Server) deliver(msg []byte) {
	s.delivering.Add(1)
	s.handle(msg, false)
}

// handle applies one message of the bus (deliver), or one of this node's
// own whose copy was lost (lost; owncopies.go).
func (s *Server) handle(msg []byte, lost bool) {
	var env envelope
	if err := json.Unmarshal(msg, &env); err != nil {
		s.logError("cluster: undecodable message: " + err.Error())
		return
	}
	if !lost && (env.Node == s.nodeID || env.NodeID == s.nodeID) && s.own.pending.Load() > 0 && s.own.back(msg) {
		return // applied already (owncopies.go)
	}
	if s.noteNode(env.Node) {
		s.askSnapshot(env.Node) // new, or back after being forgotten (rejoin.go)
	}
	switch env.Type {
	case "message":
		s.onMessage(&env)
	case "metrics":
		s.onMetricsRequest(&env)
	case "terminate":
		s.onTerminate(&env)
	case typePresence:
		env.SocketID = env.Socket
		s.onPresence(&env)
	case typeUser:
		s.onUserMessage(msg)
	case typeHeartbeat:
		s.noteRouting(&env)
		s.noteCounts(env.Node, env.Counts)
		s.ledgerHeartbeat(&env)
	case typeCount, typeCommit, typeClaim:
		s.onLedgerMessage(&env)
	case typeLedgerState:
		s.onLedgerState(&env)
	case typeHello:
		s.onHello(&env)
	case typeSnapshot:
		s.onSnapshot(&env)
	case typeNodeGone:
		if env.NodeID == s.nodeID {
			if s.draining.Load() {
				// Our own end-of-drain notice: our replica forgets our
				// drained members like every other node does.
				s.dropNodePresenceAll(s.nodeID)
			}
			break
		}
		s.forgetNode(env.NodeID)
		if s.ledger != nil {
			s.ledger.nodeGone(env.NodeID)
		}
	case typeBarrier:
		if env.Node == s.nodeID && s.markerBack(env.Ref) {
			s.runInOrder(env.Ref)
			s.release(env.Ref)
		}
	case typeCacheFill:
		s.onCacheFill(&env)
	default:
		s.onMetricResponse(&env)
	}
}

// onMessage delivers a broadcast to this node's subscribers: encoded once
// per channel, the same frame bytes queued on every subscriber.
func (s *Server) onMessage(env *envelope) {
	a := s.appByID(appIDFromToken(env.Application))
	if a == nil {
		return
	}
	var p eventPayload
	if err := json.Unmarshal(env.Payload, &p); err != nil {
		s.logError("cluster: bad message payload: " + err.Error())
		return
	}
	if p.Channels == nil && p.Channel != nil {
		// Client events and batch items: the payload is the frame text.
		s.broadcast(a, *p.Channel, bytes.TrimSpace(env.Payload), env.SocketID)
		return
	}
	for _, name := range p.Channels {
		b := make([]byte, 0, 32+len(p.Event)+len(p.Data)+len(name))
		b = append(b, `{"event":`...)
		b = appendPHPRaw(b, p.Event)
		b = append(b, `,"data":`...)
		b = appendPHPRaw(b, p.Data)
		b = append(b, `,"channel":`...)
		b = phpjson.AppendString(b, name)
		b = append(b, '}')
		s.broadcast(a, name, b, env.SocketID)
	}
}

// broadcast sends text to the local subscribers of one channel, except the
// socket named by except; cache channels remember it.
func (s *Server) broadcast(a *appState, name string, text []byte, except string) {
	if uid, ok := userChannel(name); ok {
		s.sendToUser(a, uid, name, text, except)
		return
	}
	a.mu.Lock()
	ch := a.channels[name]
	if ch == nil {
		a.mu.Unlock()
		return
	}
	var ex *conn
	if except != "" {
		ex = a.conns[except]
	}
	held := false
	if ch.kind.Cache() {
		ch.cache = text
		ch.cacheKnown = true
		held = ch.held > 0
	}
	subs := ch.subscribers()
	a.mu.Unlock()
	s.fanoutAt(a, name, subs, text, ex, s.delivering.Load())
	if held {
		// Held subscribers waiting for the cache (routing.go) get this
		// event as their cache frame, after their subscription_succeeded.
		a.mu.Lock()
		s.completeHeld(a, ch)
		a.mu.Unlock()
	}
}

// fanout queues one shared frame of text on every subscriber but except,
// and reports it as one Broadcast event (one MessageDelivered per
// recipient only when an observer asks for those).
func (s *Server) fanout(a *appState, channel string, subs []*sub, text []byte, except *conn) {
	s.fanoutAt(a, channel, subs, text, except, 0)
}

// fanoutAt is fanout for the broadcast that is bus message seq of this
// node (0: not one), which skips the subscriptions made after this node
// had taken it in.
func (s *Server) fanoutAt(a *appState, channel string, subs []*sub, text []byte, except *conn, seq uint64) {
	frame := textFrame(text)
	// Enqueueing is cheap (the flushers make the syscalls, in parallel),
	// so one loop serves even 10,000 subscribers.
	var n int
	if a.wants(MessageDelivered) {
		n = enqueueReporting(a, channel, subs, frame, text, except, seq)
	} else {
		n = enqueueAll(subs, frame, except, seq)
	}
	a.emit(Event{Kind: Broadcast, Channel: channel, Data: text, Count: n})
}

// enqueueReporting is enqueueAll with a MessageDelivered per recipient.
// Both skip the subscriptions made after bus message seq was taken in.
func enqueueReporting(a *appState, channel string, subs []*sub, frame, text []byte, except *conn, seq uint64) int {
	n := 0
	for _, sb := range subs {
		if sb.c == except || sb.dead.Load() || sb.pending.Load() || seq <= sb.from && seq != 0 {
			continue
		}
		if sb.c.enqueue(frame) {
			n++
			a.emit(Event{Kind: MessageDelivered, SocketID: sb.c.id, Origin: sb.c.origin, Channel: channel, Data: text})
		}
	}
	return n
}

func enqueueAll(subs []*sub, frame []byte, except *conn, seq uint64) int {
	n := 0
	for _, sb := range subs {
		if sb.c == except || sb.dead.Load() || sb.pending.Load() || seq <= sb.from && seq != 0 {
			continue
		}
		if sb.c.enqueue(frame) {
			n++
		}
	}
	return n
}

func (s *Server) onTerminate(env *envelope) {
	a := s.appByID(appIDFromToken(env.Application))
	if a == nil {
		s.release(env.Ref)
		return
	}
	var p struct {
		UserID json.RawMessage `json:"user_id"`
	}
	_ = json.Unmarshal(env.Payload, &p)
	var uid string
	if json.Unmarshal(p.UserID, &uid) != nil {
		uid = strings.Trim(string(p.UserID), `"`)
	}
	victims := s.terminateVictims(a, uid)
	closeAll := func() {
		for _, c := range victims {
			c.closeAfterLeaving(4009, "Connection terminated")
		}
		s.release(env.Ref)
	}
	if topics := s.orderTopics(victims); len(topics) > 0 {
		// Redis Cluster: the events published before the terminate on
		// the victims' channels (other masters) are delivered first.
		s.afterMarkers(topics, closeAll)
		return
	}
	closeAll()
}

// terminateVictims are the local sockets of a signed in as uid or with a
// membership whose user id, as a string, is uid (any membership; ones
// without a user id are skipped — compatibility decision). They are in
// Reverb's order, the order it closes them in (so the others see
// member_removed in its order): the app's channels in creation order,
// each channel's subscribers in the order they joined, each socket where
// it first appears.
func (s *Server) terminateVictims(a *appState, uid string) []*conn {
	var victims []*conn
	a.mu.Lock()
	victims = a.users.signedInAs(victims, uid)
	seen := make(map[*conn]bool)
	for _, ch := range a.sortedChannels() {
		subs := ch.subs.Load()
		if subs == nil {
			continue
		}
		for _, sb := range *subs {
			c := sb.c
			if sb.dead.Load() || seen[c] || a.conns[c.id] != c {
				continue
			}
			seen[c] = true
			if cu := a.users.conns[c]; cu != nil && cu.id == uid {
				continue // signed in as uid: a victim already
			}
			for _, sb := range c.subs {
				if id, ok := field(sb.data, "user_id"); ok && id.Kind() != php.Null && phpString(id) == uid {
					victims = append(victims, c)
					break
				}
			}
		}
	}
	a.mu.Unlock()
	return victims
}
