package server

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/chantype"
	"github.com/reverb-go/reverb/server/cluster"
)

// appState is one app's state on this node: its open sockets, its channels
// with their local subscribers, and the cluster-wide presence replica.
//
// Lock story: mu guards conns, channels, emptyChans, nextSeq, presence, users, every
// channel's cache and presence fields, every conn's subs/wantPresence maps,
// and every write of a channel's subscriber list. Fan-out reads
// channel.subs through an atomic pointer to an immutable slice (copy on
// write under mu), so delivering a broadcast never takes mu and a subscribe
// never waits for a fan-out. mu is never held while publishing on the
// transport or while writing to a socket (sends only enqueue).
type appState struct {
	cfg   *laravelcfg.App
	stats *AppStats
	// obs are the app's observers (observe.go), fixed once the server is
	// built; read without a lock.
	obs appObservers
	// led is the app's part of the cluster ledger (decisions.go); nil when
	// no observer wants a cluster decision. Its maps are guarded by mu.
	led *appLedger

	open atomic.Int64 // open sockets on this node (max_connections)
	// router is the server's transport in the interest-routed mode, nil
	// otherwise: channels want their topics (routing.go).
	router cluster.Router

	mu         sync.Mutex
	conns      map[string]*conn // socket id → open socket
	channels   map[string]*channel
	emptyChans map[*channel]struct{} // left over from failed subscriptions
	nextSeq    uint64
	presence   map[string]*presenceChannel // cluster-wide replica by channel name
	users      appUsers                    // signed-in sockets, deadlines (users.go)
}

func newAppState(cfg *laravelcfg.App) *appState {
	return &appState{
		cfg:        cfg,
		stats:      &AppStats{},
		conns:      map[string]*conn{},
		channels:   map[string]*channel{},
		emptyChans: map[*channel]struct{}{},
		presence:   map[string]*presenceChannel{},
	}
}

// channel is one channel with local subscribers (or left empty by a failed
// subscription, as Reverb leaves it).
type channel struct {
	name string
	kind chantype.Kind
	seq  uint64 // creation order

	// subs is the subscriber list fan-out iterates without a lock. Writers
	// (under appState.mu) only append into spare capacity beyond every
	// published length, then publish a longer header; a removal marks the
	// sub dead and the list is compacted into a new array once dead ones
	// pile up. So a published slice never changes under a reader, and a
	// subscribe or unsubscribe costs O(1) amortised even with 10,000
	// subscribers. Readers skip dead subs.
	subs atomic.Pointer[[]*sub]
	live int // subscribers (under mu)
	dead int // dead entries still in subs (under mu)

	// cache is the text of the last message of a cache channel (under mu).
	cache []byte

	// The interest-routed mode (routing.go), under mu: wanted says this
	// channel holds a Want of its topic, routed that the topic is live;
	// held counts subscribers not acknowledged yet (at most); cacheKnown
	// says cache is the channel's last event cluster-wide (or that there is
	// none), cacheAsked that the other nodes are being asked for it.
	wanted, routed         bool
	held                   int
	cacheKnown, cacheAsked bool
	// count is the last subscription count sent to this node's
	// subscribers and counts how many were sent, under mu: a subscriber
	// held while one was sent gets the last with its acknowledgement.
	count, counts int
}

// sub is one socket's membership of one channel.
type sub struct {
	c  *conn
	ch *channel
	// data is the decoded channel_data (a PHP array), null when absent.
	data php.Value
	dead atomic.Bool
	// pending: subscribed, not acknowledged yet (routing.go); broadcasts
	// skip it. countsSeen is ch.counts when it was held (under mu).
	pending    atomic.Bool
	countsSeen int
	// fenced: pending until a marker published after the subscription
	// comes back through the bus (fence.go; under mu).
	fenced bool
	// acks is how many subscribes a held subscription answers when it is
	// acknowledged: one, more when the socket subscribed again while it
	// was held (Reverb answers each subscribe; under mu).
	acks int
	// from is how many bus messages this node had taken in when the
	// subscription was made (0: unknown, or made in the bus order): the
	// broadcasts among them were published before it and skip it
	// (Server.received).
	from uint64
}

// subscribers is the current list; skip entries whose dead flag is set.
func (ch *channel) subscribers() []*sub {
	if p := ch.subs.Load(); p != nil {
		return *p
	}
	return nil
}

// liveSubs copies the live subscribers (caller holds a.mu).
func (ch *channel) liveSubs() []*sub {
	out := make([]*sub, 0, ch.live)
	for _, s := range ch.subscribers() {
		if !s.dead.Load() {
			out = append(out, s)
		}
	}
	return out
}

// findOrCreate returns the channel, creating it in creation order. Caller
// holds a.mu.
func (a *appState) findOrCreate(name string) *channel {
	if ch, ok := a.channels[name]; ok {
		return ch
	}
	a.nextSeq++
	ch := &channel{name: name, kind: chantype.Of(name), seq: a.nextSeq}
	a.channels[name] = ch
	a.emptyChans[ch] = struct{}{}
	return ch
}

// addSub adds or replaces c's membership of ch. Caller holds a.mu.
func (a *appState) addSub(ch *channel, c *conn, data php.Value) {
	a.addSubFrom(ch, c, data, 0)
}

// addSubFrom is addSub for a subscription that skips the broadcasts among
// the first from bus messages (sub.from); a re-subscription keeps the
// skipping of the membership it replaces.
func (a *appState) addSubFrom(ch *channel, c *conn, data php.Value, from uint64) {
	replaced := false
	if old := c.subOf(ch); old != nil {
		// Re-subscription replaces the data. The channel's order of
		// sockets is not observable, so the new entry goes to the end.
		old.dead.Store(true)
		ch.dead++
		ch.live--
		replaced = true
		from = old.from
	}
	s := &sub{c: c, ch: ch, data: data, from: from}
	cur := ch.subscribers()
	var next []*sub
	if len(cur) < cap(cur) {
		next = append(cur, s) // beyond every published length: invisible until stored
	} else {
		next = make([]*sub, 0, max(4, 2*ch.live+1))
		for _, x := range cur {
			if !x.dead.Load() {
				next = append(next, x)
			}
		}
		ch.dead = 0
		next = append(next, s)
	}
	ch.subs.Store(&next)
	c.setSub(ch, s)
	delete(a.emptyChans, ch)
	ch.live++
	if !replaced {
		a.countChanged(Subscribed, ch, c)
	}
}

// removeSub removes c from ch; it reports whether c was subscribed. An
// emptied channel is deleted with its cache. Caller holds a.mu.
func (a *appState) removeSub(ch *channel, c *conn) bool {
	s := c.subOf(ch)
	if s == nil {
		return false
	}
	c.dropSub(ch)
	s.dead.Store(true)
	ch.live--
	ch.dead++
	a.countChanged(Unsubscribed, ch, c)
	if ch.live == 0 {
		empty := []*sub{}
		ch.subs.Store(&empty)
		ch.dead = 0
		a.deleteChannel(ch)
		return true
	}
	if ch.dead > ch.live && ch.dead > 16 {
		next := ch.liveSubs()
		ch.subs.Store(&next)
		ch.dead = 0
	}
	return true
}

// countChanged reports a change of ch's local subscribers (Subscribed or
// Unsubscribed, after the change). Caller holds a.mu.
func (a *appState) countChanged(k EventKind, ch *channel, c *conn) {
	if a.wants(k) {
		a.emit(Event{Kind: k, SocketID: c.id, Origin: c.origin, Channel: ch.name, Count: ch.live})
	}
	if a.led != nil {
		a.ledgerCount(ch)
	}
}

func (a *appState) deleteChannel(ch *channel) {
	if a.channels[ch.name] == ch {
		delete(a.channels, ch.name)
	}
	delete(a.emptyChans, ch)
	ch.cache = nil
	a.unwant(ch)
}

// dropEmptyChannels deletes channels left empty by failed subscriptions, as
// every disconnect does in Reverb (an unsubscribe removes only its own
// channel). Caller holds a.mu.
func (a *appState) dropEmptyChannels() {
	for ch := range a.emptyChans {
		if ch.live == 0 {
			a.deleteChannel(ch)
		} else {
			delete(a.emptyChans, ch)
		}
	}
}

// sortedChannels returns the channels in creation order. Caller holds a.mu.
func (a *appState) sortedChannels() []*channel {
	out := make([]*channel, 0, len(a.channels))
	for _, ch := range a.channels {
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// connSubs returns c's channels in creation order. Caller holds a.mu.
func connSubs(c *conn) []*channel {
	out := make([]*channel, 0, len(c.subs))
	for _, sb := range c.subs {
		out = append(out, sb.ch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// A socket's memberships are a short slice (sockets join a few channels;
// a map would cost a few hundred bytes per idle socket). Caller holds a.mu.

func (c *conn) subOf(ch *channel) *sub {
	for _, s := range c.subs {
		if s.ch == ch {
			return s
		}
	}
	return nil
}

func (c *conn) setSub(ch *channel, s *sub) {
	for i, x := range c.subs {
		if x.ch == ch {
			c.subs[i] = s
			return
		}
	}
	c.subs = append(c.subs, s)
}

func (c *conn) dropSub(ch *channel) {
	for i, x := range c.subs {
		if x.ch == ch {
			last := len(c.subs) - 1
			c.subs[i] = c.subs[last]
			c.subs[last] = nil
			c.subs = c.subs[:last]
			if len(c.subs) == 0 {
				c.subs = nil
			}
			return
		}
	}
}
