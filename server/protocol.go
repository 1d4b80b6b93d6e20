package server

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/chantype"
	"github.com/reverb-go/reverb/server/phpjson"
	"github.com/reverb-go/reverb/server/pusherauth"
)

// handleMessage runs Reverb's pipeline for one data message (§3.2).
func (c *conn) handleMessage(p []byte) {
	a := c.app
	if a.wants(MessageIn) {
		a.emit(Event{Kind: MessageIn, SocketID: c.id, Origin: c.origin, Data: p})
	}
	c.touch()
	if rl := c.app.cfg.RateLimiting; rl != nil && rl.Enabled && !c.allow(rl.MaxAttempts, rl.DecaySeconds) {
		if rl.TerminateOnLimit {
			c.closeNow(4301, "Rate limit exceeded", false, frameRate())
		} else {
			c.send(frameRate())
		}
		c.debugPusherError("Rate limit exceeded")
		return
	}
	if c.dispatch(p) && a.wants(MessageReceived) {
		a.emit(Event{Kind: MessageReceived, SocketID: c.id, Origin: c.origin, Data: p})
	}
}

// allow applies the fixed-window rate limit; it reports whether the
// message may be processed.
func (c *conn) allow(maxAttempts, decaySeconds int) bool {
	now := time.Now()
	if c.rlEnd.IsZero() || !now.Before(c.rlEnd) {
		if decaySeconds <= 0 {
			decaySeconds = 1
		}
		c.rlEnd = now.Add(time.Duration(decaySeconds) * time.Second)
		c.rlCount = 0
	}
	if c.rlCount >= maxAttempts {
		return false
	}
	c.rlCount++
	return true
}

func (c *conn) invalid() bool {
	c.send(frameInvalid())
	c.debugUnknownError()
	return false
}

// dispatch decodes and routes one message; it reports success.
func (c *conn) dispatch(p []byte) bool {
	v, err := phpjson.Decode(p)
	if err != nil || v.Kind() != php.Array {
		return c.invalid()
	}
	ev, ok := field(v, "event")
	if !ok || ev.Kind() != php.String || laravelBlank(ev.StringVal()) {
		return c.invalid()
	}
	data, _ := field(v, "data")
	if data.Kind() == php.String {
		if d, err := phpjson.Decode([]byte(data.StringVal())); err == nil {
			data = d
		}
	}
	name := ev.StringVal()
	if !strings.HasPrefix(name, "pusher:") {
		return c.clientEvent(p, name, v, data)
	}
	payload := php.ArrayValue(php.NewArray())
	if truthy(data) {
		if data.Kind() != php.Array {
			return c.invalid()
		}
		payload = data
	}
	switch name[len("pusher:"):] {
	case "ping":
		c.send(framePong())
	case "pong":
		c.touch()
	case "subscribe":
		return c.subscribe(payload)
	case "unsubscribe":
		ch, ok := field(payload, "channel")
		if !ok || (ch.Kind() != php.String && ch.Kind() != php.Int) {
			return c.invalid()
		}
		c.srv.unsubscribe(c, phpString(ch))
	case "connection_established":
		c.send(c.srv.establishedFrame(c))
	case "signin":
		return c.signin(payload)
	default:
		return c.invalid()
	}
	return true
}

// subscribe handles pusher:subscribe (§3.4).
func (c *conn) subscribe(payload php.Value) bool {
	chv, ok := field(payload, "channel")
	if !ok || (chv.Kind() != php.String && chv.Kind() != php.Int) {
		return c.invalid()
	}
	name := phpString(chv)
	auth := ""
	if a, ok := field(payload, "auth"); ok {
		switch a.Kind() {
		case php.Null:
		case php.Array, php.Unknown:
			return c.invalid()
		default:
			auth = phpString(a)
		}
	}
	var rawData string
	hasData := false
	data := php.Value{}
	if cd, ok := field(payload, "channel_data"); ok && cd.Kind() != php.Null {
		if cd.Kind() != php.String {
			return c.invalid()
		}
		if cd.StringVal() == "" {
			// As absent: Laravel's json rule skips an empty string, and
			// Reverb neither signs nor stores it.
			return c.srv.subscribe(c, name, auth, "", false, php.Value{})
		}
		d, err := phpjson.Decode([]byte(cd.StringVal()))
		if err != nil {
			return c.invalid()
		}
		rawData, hasData, data = cd.StringVal(), true, d
	}
	return c.srv.subscribe(c, name, auth, rawData, hasData, data)
}

// subscribe is §3.4 steps 2–7 for a validated request.
func (s *Server) subscribe(c *conn, name, auth, rawData string, hasData bool, data php.Value) bool {
	a := c.app
	if uid, ok := userChannel(name); ok {
		return s.subscribeUserChannel(c, uid, name)
	}
	kind := chantype.Of(name)
	a.mu.Lock()
	ch := a.findOrCreate(name)
	a.mu.Unlock()
	if kind.Private() {
		if !pusherauth.ValidChannelAuth(a.cfg.Secret, c.id, name, rawData, hasData, auth) {
			c.send(frameUnauth())
			c.debugPusherError("Connection is unauthorized")
			return false
		}
	}
	if hasData && data.Kind() != php.Array && rawData != "0" {
		// Reverb keeps channel_data decoded as the subscription's data,
		// which must be an array: any other JSON value (a number, a
		// string, null) throws once the signature was checked, and the
		// client is not subscribed.
		return c.invalid()
	}
	if kind.Presence() {
		if id, ok := field(data, "user_id"); ok && id.Kind() == php.Array {
			// Reverb passes user_id to a ?string parameter: an array (a
			// JSON object or list) is a TypeError, answered 4200, and the
			// client is not subscribed.
			return c.invalid()
		}
	}
	if kind.Private() && !kind.Presence() && a.cfg.UserAuthenticationTimeout > 0 {
		// An authorized connection, as Pusher counts it: subscribed to a
		// private channel (a presence join counts once it is admitted,
		// onPresence).
		a.mu.Lock()
		a.users.authorize(c)
		a.mu.Unlock()
	}
	if kind.Presence() {
		a.mu.Lock()
		if a.conns[c.id] != c {
			// Closed meanwhile (a failed write noticed the reset while
			// this message was handled): its cleanup ran, join nothing.
			a.dropEmptyChannels()
			a.mu.Unlock()
			return false
		}
		if !hasData {
			// Signed in and authorized without channel_data: the member
			// is the signed-in user, as on Pusher (users.go).
			if cu := a.users.conns[c]; cu != nil && cu.member != "" {
				rawData = cu.member
				data, _ = phpjson.Decode([]byte(rawData))
			}
		}
		if c.wantPresence == nil {
			c.wantPresence = map[string]bool{}
		}
		c.wantPresence[name] = true
		// Interest routing: the topic is subscribed while the join
		// travels (the channel may have been deleted meanwhile by another
		// socket's cleanup: the current one).
		a.want(a.findOrCreate(name))
		// The membership becomes visible, and subscription_succeeded is
		// sent, when the join comes back through the transport: the one
		// order every node sees decides member_added.
		s.presenceOp(a, c.id, "join", name, rawData, data)
		a.mu.Unlock()
		return true
	}
	if data.Kind() != php.Array {
		data = php.Value{}
	}
	var remote []byte
	if kind.Cache() && s.router == nil {
		a.mu.Lock()
		alone := ch.cache == nil && ch.live == 0
		a.mu.Unlock()
		if alone {
			// The last message may be cached on the nodes that have
			// subscribers.
			remote = s.clusterCache(a, name)
		}
	}
	a.mu.Lock()
	if a.conns[c.id] != c {
		// Closed meanwhile (a failed write noticed the reset while this
		// message was handled): its cleanup ran and would not remove a
		// subscription added now, which would keep the channel occupied.
		a.dropEmptyChannels()
		a.mu.Unlock()
		return false
	}
	if a.channels[name] != ch {
		// Deleted meanwhile by another socket's cleanup: start over.
		ch = a.findOrCreate(name)
	}
	a.want(ch) // interest routing: only now that the subscription succeeded
	// The broadcasts this node has taken in but not delivered yet were
	// published before this subscription: a client that moved here from
	// another node (a restart's 4200) had them there already. Except on a
	// cache channel, where the last of them is the one a subscriber is
	// owed and the cache sent below may not hold it yet.
	var from uint64
	if !kind.Cache() {
		from = s.received()
	}
	prev := c.subOf(ch)
	a.addSubFrom(ch, c, data, from)
	// A socket subscribing again to a channel it was acknowledged on
	// keeps its membership without a break (Reverb replaces the data):
	// answered at once, neither held nor fenced, so nothing its node has
	// yet to deliver skips it.
	again := prev != nil && !prev.pending.Load()
	if !again && s.holdSub(a, ch, c) {
		// Interest routing: acknowledged once the channel's topic is
		// live here (routing.go).
		carryHeld(prev, c.subOf(ch))
		a.mu.Unlock()
		return true
	}
	if ch.cache == nil && remote != nil {
		ch.cache = remote
	}
	if !again && s.fenceSub(a, ch, c) {
		// Other nodes share the bus: acknowledged once the bus's order
		// passes the subscription (fence.go).
		carryHeld(prev, c.subOf(ch))
		a.mu.Unlock()
		return true
	}
	// Queued under the lock, so nothing the channel sends after the
	// subscription (a broadcast, its new subscription count) overtakes
	// them; queueing never blocks. A held subscription this one replaced
	// is answered too.
	sb := c.subOf(ch)
	sb.acks, sb.countsSeen = 1, ch.counts
	carryHeld(prev, sb)
	missed := answerHeld(sb, nil)
	a.mu.Unlock()
	for range missed {
		c.reportCacheMiss(name)
	}
	return true
}

// sendCacheMiss tells a new subscriber of a cache channel that nothing is
// cached (pusher:cache_miss), and reports it.
func (c *conn) sendCacheMiss(channel string) {
	c.send(textFrame(pusherText("pusher:cache_miss", nil, channel)))
	c.reportCacheMiss(channel)
}

// reportCacheMiss tells the app's observers of a cache_miss sent to c.
func (c *conn) reportCacheMiss(channel string) {
	if c.app.wants(CacheMiss) {
		c.app.emit(Event{Kind: CacheMiss, SocketID: c.id, Origin: c.origin, Channel: channel})
	}
}

// unsubscribe handles pusher:unsubscribe: no reply.
func (s *Server) unsubscribe(c *conn, name string) {
	a := c.app
	a.mu.Lock()
	ch, ok := a.channels[name]
	wasPresence := c.wantPresence[name]
	delete(c.wantPresence, name)
	if ok && !a.removeSub(ch, c) && ch.live == 0 {
		// Reverb removes the named channel once it is empty, also when
		// this socket was not subscribed (a channel a refused subscription
		// left behind); other empty channels stay until a disconnect.
		a.deleteChannel(ch)
	}
	if wasPresence {
		s.presenceOp(a, c.id, "leave", name, "", php.Value{})
	}
	a.mu.Unlock()
}

// disconnect is the cleanup of §3.9: every membership removed, in channel
// creation order, empty channels dropped, presence leaves published.
func (s *Server) disconnect(c *conn) {
	a := c.app
	a.mu.Lock()
	established := a.conns[c.id] == c
	if established {
		delete(a.conns, c.id)
		a.open.Add(-1)
	}
	for _, ch := range connSubs(c) {
		a.removeSub(ch, c)
	}
	// Drained sockets leave all at once when the drain ends (Drain).
	if !s.draining.Load() {
		for _, name := range presenceInOrder(a, c.wantPresence) {
			s.presenceOp(a, c.id, "leave", name, "", php.Value{})
		}
	}
	c.wantPresence = nil
	a.dropEmptyChannels()
	if a.users.conns != nil {
		s.userGone(a, c)
	}
	a.mu.Unlock()

	if a != s.noApp {
		a.emit(Event{Kind: ConnectionClosed, SocketID: c.id, Origin: c.origin, Established: established})
		s.publishCount(a)
	}
}

// presenceInOrder lists a socket's presence channels in the channels'
// creation order, the order Reverb removes a closed socket's memberships
// (and so sends member_removed) in. A channel no longer known comes last.
// Caller holds a.mu.
func presenceInOrder(a *appState, want map[string]bool) []string {
	if len(want) == 0 {
		return nil // most sockets: nothing to sort, nothing allocated
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	seq := func(name string) uint64 {
		if ch, ok := a.channels[name]; ok {
			return ch.seq
		}
		return math.MaxUint64
	}
	slices.SortFunc(names, func(x, y string) int {
		if c := cmp.Compare(seq(x), seq(y)); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	return names
}
