package server

// Subscriptions fenced at the bus's order.
//
// A client that moves to this node (a restart's 4200 sends it to the new
// generation; a reconnect may land on another node) had, on its old
// socket, every broadcast its old node delivered before the close. This
// node may be behind that one: broadcasts still in the kernel between the
// bus and this node were published before the new subscription, and the
// old socket may have had them. Counting what this node has read
// (sub.from) cannot see those, so while other nodes share the bus a new
// subscription is acknowledged only when a marker this node publishes
// after it comes back: everything ordered before the marker has then been
// delivered here without it, and everything after reaches it, so no
// broadcast arrives twice and none published after subscription_succeeded
// is missed. Presence joins already wait for their own message to come
// back (presence.go). In the interest routing a subscription to a channel
// whose topic is not live here yet is held until it is (routing.go); one
// to a live topic is fenced with a marker on the topic as well, since the
// topics and the control stream may not share one order (Redis Cluster's
// shards; there a presence join back is fenced on its topic too). One
// marker is out at a time; the subscriptions made while it travels wait
// for the next one, so a reconnect storm costs a marker per round trip,
// not one per subscription. A node with no peers fences nothing: nothing
// else could have delivered to its clients.
//
// A socket's first sign-in is fenced the same way: the events to its user
// (#server-to-user-{id}, delivered to signed-in sockets whether or not
// they subscribed) skip it until its pusher:signin_success, which the
// marker's return sends, with the watchlist's sign-in published then, so
// its status still follows signin_success. A socket that subscribes or
// signs in again while held gets an answer per request when it is
// acknowledged, as from Reverb.

// fenceItem is what a marker covers: a subscription (sb), or a socket's
// sign-in (signin; its events to the user wait the same way, users.go).
type fenceItem struct {
	sb     *sub
	signin *conn
}

// fenceSub holds c's new subscription of ch until the bus's order passes
// it, and reports whether it did; false means the caller acknowledges it
// now. Caller holds a.mu, right after addSub.
func (s *Server) fenceSub(a *appState, ch *channel, c *conn) bool {
	if !s.hasPeers() {
		return false
	}
	sb := c.subOf(ch)
	if sb == nil {
		return false
	}
	sb.pending.Store(true)
	sb.fenced = true
	sb.acks = 1
	sb.countsSeen = ch.counts
	s.fence(fenceItem{sb: sb})
	return true
}

// fence has it acknowledged when a marker published after it comes back:
// the marker out when none is, else the next one.
func (s *Server) fence(it fenceItem) {
	s.fenceMu.Lock()
	if s.fenceOut {
		s.fenceNext = append(s.fenceNext, it)
		s.fenceMu.Unlock()
		return
	}
	s.fenceOut = true
	s.fenceSent = append(s.fenceSent, it)
	s.fenceMu.Unlock()
	s.afterMarkers(s.fenceTopics([]fenceItem{it}), s.fenceBack)
}

// fenceTopics is where a marker covering items goes besides the control
// stream: their channels' topics in the interest routing, none otherwise
// (events to users go on the control stream).
func (s *Server) fenceTopics(items []fenceItem) []string {
	if s.router == nil {
		return nil
	}
	seen := make(map[string]bool, len(items))
	var topics []string
	for _, it := range items {
		if it.sb == nil {
			continue
		}
		t := channelTopic(it.sb.c.app.cfg.ID, it.sb.ch.name)
		if !seen[t] {
			seen[t] = true
			topics = append(topics, t)
		}
	}
	return topics
}

// fenceBack acknowledges the subscriptions and sign-ins the marker now
// back was published after, and sends the next marker for those made
// since. It runs on the delivery goroutine (or on a timer when the marker
// was lost to a bus outage: acknowledged anyway, as without the fence).
func (s *Server) fenceBack() {
	s.fenceMu.Lock()
	done := s.fenceSent
	s.fenceSent, s.fenceNext = s.fenceNext, nil
	next := s.fenceSent
	s.fenceOut = len(next) > 0
	s.fenceMu.Unlock()
	if len(next) > 0 {
		s.afterMarkers(s.fenceTopics(next), s.fenceBack)
	}
	for _, it := range done {
		if it.sb != nil {
			s.ackFenced(it.sb)
		} else {
			s.ackSignin(it.signin)
		}
	}
}

// ackFenced sends a fenced subscription's subscription_succeeded (and a
// cache channel's last message or cache miss) and lets broadcasts reach
// it. One that was unsubscribed or closed meanwhile gets nothing.
func (s *Server) ackFenced(sb *sub) {
	a := sb.c.app
	ch := sb.ch
	a.mu.Lock()
	if sb.dead.Load() || !sb.fenced {
		a.mu.Unlock()
		return
	}
	sb.fenced = false
	missed := answerHeld(sb, a.heldAnswerData(ch))
	a.mu.Unlock()
	for range missed {
		sb.c.reportCacheMiss(ch.name)
	}
}

// answerHeld sends a held subscription's answers, a subscription_succeeded
// per subscribe (with data: a presence channel's members) each followed on
// a cache channel by its last message or a cache miss, and the channel's
// subscription count when one was sent while it was held; then broadcasts
// reach it. It returns how many cache misses it sent. Caller holds a.mu.
func answerHeld(sb *sub, data []byte) (missed int) {
	ch := sb.ch
	// Queued before the flag is cleared: a broadcast that sees the
	// subscriber acknowledged queues after these frames.
	for range sb.acks {
		sb.c.send(textFrame(internalText("pusher_internal:subscription_succeeded", data, ch.name)))
		if ch.kind.Cache() {
			if ch.cache != nil {
				sb.c.send(textFrame(ch.cache))
			} else {
				sb.c.send(textFrame(pusherText("pusher:cache_miss", nil, ch.name)))
				missed++
			}
		}
	}
	if ch.counts != sb.countsSeen {
		// The counts sent while it was held skipped it.
		sb.c.send(textFrame(subscriptionCountText(ch.name, ch.count)))
	}
	sb.pending.Store(false)
	return missed
}

// carryHeld hands what prev, a held subscription sb replaced (the socket
// subscribed again before it was acknowledged), still owed over to sb,
// held as well: an answer per subscribe, and the subscription count sent
// since prev was held. Caller holds a.mu.
func carryHeld(prev, sb *sub) {
	if prev == nil || sb == nil || !prev.pending.Load() {
		return
	}
	sb.acks += prev.acks
	sb.countsSeen = prev.countsSeen
}
