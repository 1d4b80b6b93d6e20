// Package ledger decides, exactly once for a whole cluster, the events
// that depend on cluster-wide state: a channel created or removed
// (occupied or vacated), a presence user added or removed, a channel's
// subscription count.
//
// Every node keeps a Ledger and applies the same operations in the same
// order: the order of the cluster bus, which every node sees alike. An
// operation's outcome depends only on the ledger's state and the
// operation, so every node computes the same decisions, and each decision
// names one Sender: the node whose operation caused it (the node that owns
// the socket that subscribed, left or joined), or, when a node is gone, the
// node whose claim removed it. Only the sender reports a decision, so it is
// reported once.
//
// Holds. Pusher holds channel_vacated and member_removed for a few seconds
// and drops them when the channel is occupied again, or the user is back,
// meanwhile. A hold is part of the state: HoldStart tells its holder to
// wait, then to put a Commit on the bus; the hold fires if the Commit comes
// before anything cancels it, in the bus order, on every node alike. When
// the holder is gone, its holds pass to the node that claimed it.
//
// A Ledger is not safe for concurrent use; it does no I/O and reads no
// clock.
package ledger

import (
	"sort"
	"strconv"
)

// Kind is the kind of a decision. Its values travel between nodes (a
// Held in a node's state): append new kinds, never renumber.
type Kind uint8

// Decisions.
const (
	// ChannelCreated and ChannelRemoved: first subscriber anywhere, last
	// one gone (reported at once).
	ChannelCreated Kind = iota + 1
	ChannelRemoved
	// ChannelOccupied: reported at once, unless it cancels a held
	// ChannelVacated (then neither is reported).
	ChannelOccupied
	// ChannelVacated and MemberRemoved: reported when their hold commits.
	ChannelVacated
	MemberAdded
	MemberRemoved
	// SubscriptionCount: the channel's subscribers over the cluster.
	SubscriptionCount
	// HoldStart: Sender holds a decision; it must Commit Hold later.
	HoldStart
)

func (k Kind) String() string {
	switch k {
	case ChannelCreated:
		return "channel_created"
	case ChannelRemoved:
		return "channel_removed"
	case ChannelOccupied:
		return "channel_occupied"
	case ChannelVacated:
		return "channel_vacated"
	case MemberAdded:
		return "member_added"
	case MemberRemoved:
		return "member_removed"
	case SubscriptionCount:
		return "subscription_count"
	case HoldStart:
		return "hold"
	}
	return "?"
}

// Decision is one outcome of an operation.
type Decision struct {
	Kind    Kind
	Sender  string // the node that reports it
	App     string
	Channel string
	UserID  string // member events
	Count   int    // SubscriptionCount
	Hold    string // HoldStart: the hold to commit
	// Held is the kind a HoldStart holds (ChannelVacated, MemberRemoved,
	// SubscriptionCount).
	Held Kind
	// Delay is how long a HoldStart holds, in ms; 0: the usual hold.
	Delay int64
}

// CountThrottle: above CountThrottleAbove subscribers, a channel's
// subscription count is reported at most once per CountThrottleMS
// milliseconds (as Pusher does), by the publishers' clocks. A count held
// back is a hold (of kind SubscriptionCount) that ends with the window: its
// commit reports the count then, if it changed, so the last count reported
// is always the channel's.
const (
	CountThrottleAbove = 100
	CountThrottleMS    = 5000
)

// Ledger is one node's copy of the cluster-wide state.
type Ledger struct {
	apps  map[string]*appLedger
	nodes map[string]uint64 // live nodes → last heartbeat number seen
	holds map[string]*hold  // hold id → pending hold
}

type appLedger struct {
	channels map[string]*chanState
}

type chanState struct {
	counts map[string]int // node → its subscribers
	total  int
	// holdVacate and wantCounts: what the last count operation asked for
	// (a node removed by a claim is handled alike).
	holdVacate, wantCounts bool
	// vacate is the pending ChannelVacated hold, if any.
	vacate *hold
	// Subscription count reports (throttle).
	lastCount   int
	lastCountAt int64
	counted     bool
	// countHold is the pending report of a count held back, if any.
	countHold *hold
	// Presence: user key → user; socket key (node\x00socket) → user key.
	users   map[string]*user
	sockets map[string]string
	// removals are the pending MemberRemoved holds by user key.
	removals map[string]*hold
	// adds are the user keys whose MemberAdded waits for the channel to
	// be occupied (a counted join before its count).
	adds map[string]bool
}

type user struct {
	id      string
	sockets int
}

type hold struct {
	id      string
	holder  string
	kind    Kind // ChannelVacated, MemberRemoved or SubscriptionCount
	app     string
	channel string
	userKey string
	userID  string
}

// New returns an empty ledger.
func New() *Ledger {
	return &Ledger{apps: map[string]*appLedger{}, nodes: map[string]uint64{}, holds: map[string]*hold{}}
}

func (l *Ledger) channel(app, name string, create bool) *chanState {
	a := l.apps[app]
	if a == nil {
		if !create {
			return nil
		}
		a = &appLedger{channels: map[string]*chanState{}}
		l.apps[app] = a
	}
	c := a.channels[name]
	if c == nil && create {
		c = &chanState{counts: map[string]int{}}
		a.channels[name] = c
	}
	return c
}

// gc drops a channel that holds nothing any more.
func (l *Ledger) gc(app, name string, c *chanState) {
	if c.total == 0 && len(c.counts) == 0 && c.vacate == nil && len(c.users) == 0 && len(c.removals) == 0 {
		if c.countHold != nil {
			delete(l.holds, c.countHold.id) // nothing left to report
		}
		a := l.apps[app]
		delete(a.channels, name)
		if len(a.channels) == 0 {
			delete(l.apps, app)
		}
	}
}

// seen records that node is alive (any operation from it).
func (l *Ledger) seen(node string) {
	if _, ok := l.nodes[node]; !ok {
		l.nodes[node] = 0
	}
}

// Heartbeat records node's heartbeat number n.
func (l *Ledger) Heartbeat(node string, n uint64) {
	l.nodes[node] = n
}

// LastHeartbeat is the last heartbeat number seen from node, and whether
// the node is live in this ledger (what a claim must quote).
func (l *Ledger) LastHeartbeat(node string) (uint64, bool) {
	n, ok := l.nodes[node]
	return n, ok
}

// Forget drops node's heartbeat number when the node has no entries: a
// ledger does not keep every node it heard of. It must be applied in the
// bus order like any operation (a node_gone notice), since claims check
// the heartbeat numbers.
func (l *Ledger) Forget(node string) {
	if !l.HasEntries(node) {
		delete(l.nodes, node)
	}
}

// HasEntries reports whether node counts subscribers, holds memberships or
// holds a hold: whether a claim of it would change anything.
func (l *Ledger) HasEntries(node string) bool {
	for _, h := range l.holds {
		if h.holder == node {
			return true
		}
	}
	for _, a := range l.apps {
		for _, c := range a.channels {
			if _, ok := c.counts[node]; ok {
				return true
			}
			for sk := range c.sockets {
				if nodeOf(sk) == node {
					return true
				}
			}
		}
	}
	return false
}

// Count applies "node has n subscribers of channel". ref names the
// operation uniquely in the cluster (node and message number: hold ids
// derive from it); tms is the publisher's clock in ms (the throttle);
// holdVacate says whether a vacated channel is held (someone wants
// ChannelOccupied/ChannelVacated); counts says whether the subscription
// count is reported (presence channels never are).
func (l *Ledger) Count(node, ref, app, channel string, n int, tms int64, holdVacate, counts bool) []Decision {
	l.seen(node)
	if n < 0 {
		n = 0
	}
	c := l.channel(app, channel, n > 0)
	if c == nil {
		return nil
	}
	c.holdVacate, c.wantCounts = holdVacate, counts
	var out []Decision
	out = l.setCount(out, c, node, node, ref, app, channel, n, holdVacate)
	if counts && (!c.counted || c.total != c.lastCount) {
		if !c.counted || c.total <= CountThrottleAbove || tms-c.lastCountAt >= CountThrottleMS {
			c.lastCount, c.lastCountAt, c.counted = c.total, tms, true
			if h := c.countHold; h != nil {
				delete(l.holds, h.id) // this report is the one it waited for
				c.countHold = nil
			}
			out = append(out, Decision{Kind: SubscriptionCount, Sender: node, App: app, Channel: channel, Count: c.total})
		} else if c.countHold == nil {
			// Held back: reported when the window ends (Commit).
			wait := min(max(c.lastCountAt+CountThrottleMS-tms, 0), CountThrottleMS)
			h := &hold{id: ref + "/count", holder: node, kind: SubscriptionCount, app: app, channel: channel}
			c.countHold = h
			l.holds[h.id] = h
			out = append(out, Decision{Kind: HoldStart, Sender: node, App: app, Channel: channel, Hold: h.id, Held: SubscriptionCount, Delay: max(wait, 1)})
		}
	}
	l.gc(app, channel, c)
	return out
}

// setCount changes node's count and decides occupied/vacated; sender
// reports them.
func (l *Ledger) setCount(out []Decision, c *chanState, node, sender, ref, app, channel string, n int, holdVacate bool) []Decision {
	old := c.counts[node]
	if n == old {
		return out
	}
	if n == 0 {
		delete(c.counts, node)
	} else {
		c.counts[node] = n
	}
	before := c.total
	c.total += n - old
	switch {
	case before == 0 && c.total > 0:
		out = append(out, Decision{Kind: ChannelCreated, Sender: sender, App: app, Channel: channel})
		if c.vacate != nil {
			// Back within the hold: neither vacated nor occupied.
			delete(l.holds, c.vacate.id)
			c.vacate = nil
		} else {
			out = append(out, Decision{Kind: ChannelOccupied, Sender: sender, App: app, Channel: channel})
		}
		// The members that joined before this count, reported after the
		// occupied by the same node, so one endpoint batch keeps the order.
		for _, key := range sortedKeys(c.adds) {
			out = append(out, Decision{Kind: MemberAdded, Sender: sender, App: app, Channel: channel, UserID: c.users[key].id})
		}
		c.adds = nil
	case before > 0 && c.total == 0:
		out = append(out, Decision{Kind: ChannelRemoved, Sender: sender, App: app, Channel: channel})
		if holdVacate {
			h := &hold{id: ref, holder: sender, kind: ChannelVacated, app: app, channel: channel}
			c.vacate = h
			l.holds[h.id] = h
			out = append(out, Decision{Kind: HoldStart, Sender: sender, App: app, Channel: channel, Hold: h.id, Held: ChannelVacated})
		}
	}
	return out
}

// Join applies a presence join of socket on node as user userKey (its
// user id as a string is userID). An empty userKey (no user id) is not a
// member for these events. counted says that the socket's subscription
// will be counted (Count) once the join is done: a new member of a channel
// not occupied yet is then reported after the channel_occupied that count
// brings, as Pusher orders them, and not at all if it leaves first.
func (l *Ledger) Join(node, ref, app, channel, socket, userKey, userID string, counted bool) []Decision {
	l.seen(node)
	sk := node + "\x00" + socket
	c := l.channel(app, channel, userKey != "")
	if c == nil {
		return nil
	}
	var out []Decision
	if prev, ok := c.sockets[sk]; ok {
		if prev == userKey {
			return nil // the same membership again
		}
		out = l.leave(out, c, sk, node, ref+"/re", app, channel)
	}
	if userKey == "" {
		l.gc(app, channel, c)
		return out
	}
	if c.users == nil {
		c.users = map[string]*user{}
		c.sockets = map[string]string{}
	}
	c.sockets[sk] = userKey
	u := c.users[userKey]
	if u == nil {
		u = &user{id: userID}
		c.users[userKey] = u
		switch h := c.removals[userKey]; {
		case h != nil:
			// Back within the hold: neither removed nor added.
			delete(c.removals, userKey)
			delete(l.holds, h.id)
		case counted && c.total == 0 && c.vacate == nil:
			if c.adds == nil {
				c.adds = map[string]bool{}
			}
			c.adds[userKey] = true
		default:
			out = append(out, Decision{Kind: MemberAdded, Sender: node, App: app, Channel: channel, UserID: userID})
		}
	}
	u.sockets++
	return out
}

// Leave applies a presence leave of socket on node.
func (l *Ledger) Leave(node, ref, app, channel, socket string) []Decision {
	l.seen(node)
	c := l.channel(app, channel, false)
	if c == nil {
		return nil
	}
	out := l.leave(nil, c, node+"\x00"+socket, node, ref, app, channel)
	l.gc(app, channel, c)
	return out
}

func (l *Ledger) leave(out []Decision, c *chanState, sk, sender, ref, app, channel string) []Decision {
	key, ok := c.sockets[sk]
	if !ok {
		return out
	}
	delete(c.sockets, sk)
	u := c.users[key]
	u.sockets--
	if u.sockets > 0 {
		return out
	}
	delete(c.users, key)
	if c.adds[key] {
		delete(c.adds, key) // never reported as added: nothing to remove
		return out
	}
	h := &hold{id: ref, holder: sender, kind: MemberRemoved, app: app, channel: channel, userKey: key, userID: u.id}
	if c.removals == nil {
		c.removals = map[string]*hold{}
	}
	c.removals[key] = h
	l.holds[h.id] = h
	return append(out, Decision{Kind: HoldStart, Sender: sender, App: app, Channel: channel, UserID: u.id, Hold: h.id, Held: MemberRemoved})
}

// Commit applies the end of a hold, sent by its holder: the held decision
// is reported unless something cancelled it first. A ChannelVacated brings
// the channel's held MemberRemoved decisions with it, before it.
func (l *Ledger) Commit(node, id string) []Decision {
	l.seen(node)
	h := l.holds[id]
	if h == nil || h.holder != node {
		return nil
	}
	delete(l.holds, id)
	c := l.channel(h.app, h.channel, false)
	if h.kind == SubscriptionCount {
		if c == nil || c.countHold != h {
			return nil
		}
		c.countHold = nil
		if c.total == c.lastCount || !c.wantCounts {
			return nil
		}
		// The window of the last report is over: a new one starts now.
		c.lastCount = c.total
		c.lastCountAt += CountThrottleMS
		return []Decision{{Kind: SubscriptionCount, Sender: node, App: h.app, Channel: h.channel, Count: c.total}}
	}
	var out []Decision
	if c != nil {
		if h.kind == ChannelVacated && c.vacate == h {
			c.vacate = nil
			// The members whose removal is still held left a channel
			// that stayed empty for a whole hold: they are gone, and
			// are reported first, as Pusher reports member_removed
			// before channel_vacated. The committing node reports them
			// all, so its one endpoint batch keeps that order (and a
			// holder that is gone but not yet claimed loses none);
			// their holders' own commits come later and find nothing.
			for _, key := range sortedKeys(c.removals) {
				r := c.removals[key]
				delete(c.removals, key)
				delete(l.holds, r.id)
				out = append(out, Decision{Kind: MemberRemoved, Sender: node, App: r.app, Channel: r.channel, UserID: r.userID})
			}
		}
		if h.kind == MemberRemoved && c.removals[h.userKey] == h {
			delete(c.removals, h.userKey)
		}
		l.gc(h.app, h.channel, c)
	}
	return append(out, Decision{Kind: h.kind, Sender: node, App: h.app, Channel: h.channel, UserID: h.userID})
}

// Claim applies claimer's notice that node is gone, quoting the last
// heartbeat number it saw from node. It is void (nil) when node is not live
// in the ledger or was heard from since: the first valid claim removes the
// node, and its consequences are the claimer's to report (holds included).
func (l *Ledger) Claim(claimer, ref, node string, lastHeartbeat uint64) []Decision {
	l.seen(claimer)
	hb, ok := l.nodes[node]
	if !ok || hb != lastHeartbeat || node == claimer {
		return nil
	}
	delete(l.nodes, node)
	var out []Decision
	i := 0
	for _, app := range sortedKeys(l.apps) {
		a := l.apps[app]
		for _, name := range sortedKeys(a.channels) {
			c := a.channels[name]
			if _, ok := c.counts[node]; ok {
				i++
				out = l.setCount(out, c, node, claimer, ref+"/"+strconv.Itoa(i), app, name, 0, c.holdVacate)
				if c.wantCounts && c.counted && c.total != c.lastCount {
					c.lastCount = c.total
					out = append(out, Decision{Kind: SubscriptionCount, Sender: claimer, App: app, Channel: name, Count: c.total})
				}
			}
			for _, sk := range sortedKeys(c.sockets) {
				if nodeOf(sk) == node {
					i++
					out = l.leave(out, c, sk, claimer, ref+"/"+strconv.Itoa(i), app, name)
				}
			}
			l.gc(app, name, c)
		}
	}
	for _, id := range sortedKeys(l.holds) {
		if h := l.holds[id]; h.holder == node {
			h.holder = claimer
			out = append(out, Decision{Kind: HoldStart, Sender: claimer, App: h.app, Channel: h.channel, UserID: h.userID, Hold: h.id, Held: h.kind})
		}
	}
	return out
}

// Entry is one membership of a node's state (State).
type Entry struct {
	Socket, UserKey, UserID string
}

// State replaces what the ledger holds for node in app by its own account
// (a node answering a late joiner, one back after being forgotten, or this
// node subscribed again after its subscription dropped): counts by
// channel, presence memberships by channel, the holds it holds (Adopt).
// Differences are applied as node's own operations, except that a
// departure it no longer lists starts no hold here (unhold): a user gone
// whose removal node no longer holds is decided removed at once (node
// reported it already; every node's watchers hear of it).
func (l *Ledger) State(node, ref, app string, counts map[string]int, members map[string][]Entry, holdVacate bool, holds []Held) []Decision {
	l.seen(node)
	var out []Decision
	i := 0
	names := map[string]bool{}
	if a := l.apps[app]; a != nil {
		for name, c := range a.channels {
			if _, ok := c.counts[node]; ok {
				names[name] = true
			}
			for sk := range c.sockets {
				if nodeOf(sk) == node {
					names[name] = true
				}
			}
		}
	}
	for name := range counts {
		names[name] = true
	}
	for name := range members {
		names[name] = true
	}
	for _, name := range sortedKeys(names) {
		i++
		r := ref + "/" + strconv.Itoa(i)
		if c := l.channel(app, name, counts[name] > 0); c != nil {
			c.holdVacate = holdVacate
			out = l.setCount(out, c, node, node, r, app, name, counts[name], holdVacate)
			out = l.unhold(out, c, r)
			if c.wantCounts && c.counted && c.total != c.lastCount {
				// The count this node's subscribers were last told is not
				// the channel's any more (node reported the changes this
				// ledger missed): they are told, as after a claim.
				c.lastCount = c.total
				out = append(out, Decision{Kind: SubscriptionCount, Sender: node, App: app, Channel: name, Count: c.total})
			}
			l.gc(app, name, c)
		}
		want := map[string]Entry{}
		for _, e := range members[name] {
			want[e.Socket] = e
		}
		if c := l.channel(app, name, false); c != nil {
			for _, sk := range sortedKeys(c.sockets) {
				if nodeOf(sk) != node {
					continue
				}
				if e, ok := want[sk[len(node)+1:]]; !ok || e.UserKey != c.sockets[sk] {
					i++
					id := ref + "/" + strconv.Itoa(i)
					out = l.leave(out, c, sk, node, id, app, name)
					if h := l.holds[id]; h != nil && h.kind == MemberRemoved && !holding(holds, name, h.userKey) {
						out = append(out, Decision{Kind: MemberRemoved, Sender: node, App: app, Channel: name, UserID: h.userID})
					}
					out = l.unhold(out, c, id)
				}
			}
			l.gc(app, name, c)
		}
		for _, sock := range sortedKeys(want) {
			e := want[sock]
			i++
			out = append(out, l.Join(node, ref+"/"+strconv.Itoa(i), app, name, sock, e.UserKey, e.UserID, false)...)
		}
	}
	l.Adopt(node, app, holds)
	return out
}

// unhold withdraws hold id, just started by State: a departure that node's
// own account no longer lists happened without this ledger seeing it (its
// messages missed this node). That node decided it in its own ledger, and
// its hold, if still pending, comes with its own id (Adopt); one started
// here would never be committed (its holder does not know it) and would
// stand for a member or a vacated channel that is gone.
func (l *Ledger) unhold(out []Decision, c *chanState, id string) []Decision {
	h := l.holds[id]
	if h == nil {
		return out
	}
	delete(l.holds, id)
	if c.vacate == h {
		c.vacate = nil
	}
	if c.removals[h.userKey] == h {
		delete(c.removals, h.userKey)
	}
	kept := out[:0]
	for _, d := range out {
		if d.Kind != HoldStart || d.Hold != id {
			kept = append(kept, d)
		}
	}
	return kept
}

// holding reports whether holds has the removal of user key in channel.
func holding(holds []Held, channel, key string) bool {
	for _, h := range holds {
		if h.Kind == MemberRemoved && h.Channel == channel && h.UserKey == key {
			return true
		}
	}
	return false
}

// Held is a pending ChannelVacated or MemberRemoved hold, as its holder
// tells a node that joined after it began (Holds, Adopt).
type Held struct {
	ID      string `json:"id"`
	Kind    Kind   `json:"kind"`
	Channel string `json:"channel"`
	UserKey string `json:"user_key,omitempty"`
	UserID  string `json:"user_id,omitempty"`
}

// Holds returns the ChannelVacated and MemberRemoved holds node holds in
// app, in id order.
func (l *Ledger) Holds(node, app string) []Held {
	var out []Held
	for _, id := range sortedKeys(l.holds) {
		h := l.holds[id]
		if h.holder == node && h.app == app && (h.kind == ChannelVacated || h.kind == MemberRemoved) {
			out = append(out, Held{ID: h.id, Kind: h.kind, Channel: h.channel, UserKey: h.userKey, UserID: h.userID})
		}
	}
	return out
}

// Adopt takes in holds node holds in app that this ledger, started after
// they began, does not know (State does, for a node's state):
// a member back within the hold is then neither removed nor added, and a
// channel subscribed again neither vacated nor occupied, whichever node
// the return comes to. A hold whose departure this ledger already saw
// undone (the member or a subscriber is back) is left out, as is one it
// knows. It decides nothing.
func (l *Ledger) Adopt(node, app string, holds []Held) {
	for _, e := range holds {
		if l.holds[e.ID] != nil || e.Channel == "" {
			continue
		}
		h := &hold{id: e.ID, holder: node, kind: e.Kind, app: app, channel: e.Channel, userKey: e.UserKey, userID: e.UserID}
		switch e.Kind {
		case ChannelVacated:
			if c := l.channel(app, e.Channel, false); c != nil && (c.total > 0 || c.vacate != nil) {
				continue
			}
			c := l.channel(app, e.Channel, true)
			c.vacate, c.holdVacate = h, true
		case MemberRemoved:
			if e.UserKey == "" {
				continue
			}
			if c := l.channel(app, e.Channel, false); c != nil && (c.users[e.UserKey] != nil || c.removals[e.UserKey] != nil) {
				continue
			}
			c := l.channel(app, e.Channel, true)
			if c.removals == nil {
				c.removals = map[string]*hold{}
			}
			c.removals[e.UserKey] = h
		default:
			continue
		}
		l.holds[h.id] = h
	}
}

func nodeOf(sk string) string {
	for i := 0; i < len(sk); i++ {
		if sk[i] == 0 {
			return sk[:i]
		}
	}
	return sk
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Present reports whether user userKey counts as present in channel: it
// has a membership, or its last one left and the MemberRemoved is still
// held (watchers have not been told it is gone). Every node answers alike
// at the same point of the bus order.
func (l *Ledger) Present(app, channel, userKey string) bool {
	c := l.channel(app, channel, false)
	if c == nil {
		return false
	}
	return c.users[userKey] != nil || c.removals[userKey] != nil
}

// Size is the number of channels tracked (tests, monitoring).
func (l *Ledger) Size() int {
	n := 0
	for _, a := range l.apps {
		n += len(a.channels)
	}
	return n
}
