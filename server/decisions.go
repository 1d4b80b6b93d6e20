package server

// Cluster-wide decisions (server/ledger decides; this file feeds it the
// bus messages and acts on what this node must report).
//
// What travels. An app whose observers want a cluster decision (webhooks'
// channel_occupied/vacated, member_added/removed, subscription_count;
// listeners' channel_created/removed) has its ledger: each node publishes a
// count message when its own subscribers of a channel change (only on
// 0 ↔ non-zero, unless subscription counts are wanted), marks its presence
// joins and leaves as tracked, publishes a commit when one of its holds
// ends, and a claim when another node is gone (the supervisor's or the
// node's own node_gone notice, or three missed heartbeats). Every node
// applies these in the bus order; each decision is reported by the one
// node the ledger names.
//
// A node joining late. Its ledger starts empty, so until every node that
// received its hello has answered with its own state (a snapshot; at most
// GatherTimeout), the node's ledger messages wait in a gate: the decisions
// it reports are then taken with the whole picture.
//
// A draining node keeps its channels and members in the ledger until its
// drain ends, as presence does; then the node that claims it reports what
// is gone, after the hold, so clients that reconnected elsewhere meanwhile
// cause no vacate and no removal.

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/chantype"
	"github.com/reverb-go/reverb/server/ledger"
)

// DefaultHold is how long channel_vacated and member_removed are held (as
// Pusher).
const DefaultHold = 3 * time.Second

// ledgerKinds are the events decided in the bus order.
const ledgerKinds = ChannelCreated | ChannelRemoved | ChannelOccupied | ChannelVacated |
	MemberAdded | MemberRemoved | SubscriptionCount

// ledgerState is this node's side of the cluster ledger.
//
// Lock story: mu, gmu and hmu guard the fields listed with them. gmu is
// taken under an app's mu (ledger messages leave under the app's lock,
// ledgerCount) and the server's pubMu under gmu (openGate publishes what
// waited). hmu is taken under an app's mu, and pubMu under hmu, only
// where a node's state goes out (publishLedgerState: the holds it lists
// must not commit before it). mu is a leaf: released before anything is
// sent or another lock taken (apply acts on the decisions after
// unlocking mu).
type ledgerState struct {
	s    *Server
	hold time.Duration
	seq  atomic.Uint64 // numbers this node's ledger messages

	// mu guards l and claimed: the delivery goroutine applies messages,
	// the heartbeat goroutine reads heartbeat numbers for its claims.
	mu sync.Mutex
	l  *ledger.Ledger
	// claimed is node → the heartbeat number this node's claim quoted.
	claimed map[string]uint64

	// gmu guards the gate: ready, pending, expect, answered, gateTimer.
	gmu       sync.Mutex
	ready     bool
	pending   [][]byte
	expect    int // answers to wait for; -1 until the hello is out
	answered  map[string]bool
	gateTimer *time.Timer

	// hmu guards timers (the holds this node holds), fired and stopped.
	hmu    sync.Mutex
	timers map[string]*time.Timer
	// fired: holds whose commit this node sent and has not seen back yet
	// (its ledger still has them; a joiner must not be told of them).
	fired   map[string]bool
	stopped bool
}

// appLedger is one app's interest in the ledger and this node's own part
// of it, as its messages stated it. Guarded by appState.mu.
type appLedger struct {
	ls         *ledgerState
	holdVacate bool                     // occupied/vacated wanted: vacates are held
	channels   bool                     // created/removed or occupied/vacated wanted: counts 0 ↔ non-zero are sent
	members    bool                     // member events wanted: presence is tracked
	counts     bool                     // subscription counts wanted: every change is sent
	watch      bool                     // watchlist events: sign-ins are tracked (watchlist.go)
	own        map[string]int           // channel → count last published
	ownMembers map[string]ownMembership // channel\x00socket → membership
}

type ownMembership struct {
	channel, socket, userKey, userID string
}

// setupLedger creates the ledger in New when an app wants cluster
// decisions, or when apps may be added at run time.
func (s *Server) setupLedger(apps []*appState) {
	need := s.opts.Refresh != nil
	for _, a := range apps {
		need = need || hasHooks(a.cfg) || needsLedger(a.cfg)
	}
	for _, o := range s.opts.Observers {
		for _, a := range apps {
			need = need || o.Interest(a.cfg)&ledgerKinds != 0
		}
	}
	if !need {
		return
	}
	hold := s.opts.WebhookHold
	if hold <= 0 {
		hold = DefaultHold
	}
	s.ledger = &ledgerState{s: s, hold: hold, l: ledger.New(), claimed: map[string]uint64{},
		expect: -1, answered: map[string]bool{}, timers: map[string]*time.Timer{}, fired: map[string]bool{}}
}

// needsLedger reports whether an app's own settings need cluster
// decisions: watchlist events and subscription counts (watchlist.go).
func needsLedger(cfg *laravelcfg.App) bool { return cfg.WatchlistEvents || cfg.SubscriptionCount }

// ledgerApp gives an app its part of the ledger when its observers want a
// cluster decision (a.obs is set), or its settings do.
func (s *Server) ledgerApp(a *appState) {
	want := a.obs.want
	if want&ledgerKinds == 0 && !needsLedger(a.cfg) || s.ledger == nil {
		return
	}
	a.led = &appLedger{
		ls:         s.ledger,
		holdVacate: want&(ChannelOccupied|ChannelVacated) != 0,
		channels:   want&(ChannelCreated|ChannelRemoved|ChannelOccupied|ChannelVacated) != 0,
		members:    want&(MemberAdded|MemberRemoved) != 0,
		counts:     want&SubscriptionCount != 0 || a.cfg.SubscriptionCount,
		watch:      a.cfg.WatchlistEvents,
		own:        map[string]int{},
		ownMembers: map[string]ownMembership{},
	}
}

// sayHello announces this node. With a ledger, it learns how many nodes
// got the hello, to know when all have answered (the gate).
func (s *Server) sayHello() {
	hello, _ := json.Marshal(envelope{Type: typeHello, Node: s.nodeID})
	ls := s.ledger
	if ls == nil {
		s.publish(hello)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.GatherTimeout)
	n, err := s.transport.Publish(ctx, hello)
	cancel()
	if err != nil {
		s.logError("cluster publish: " + err.Error())
		n = 1
	}
	ls.gmu.Lock()
	ls.expect = n - 1 // every receiver but this node
	open := len(ls.answered) >= ls.expect
	if !open {
		ls.gateTimer = time.AfterFunc(s.opts.GatherTimeout, ls.openGate)
	}
	ls.gmu.Unlock()
	if open {
		ls.openGate()
	}
}

// answeredBy counts a snapshot answering our hello.
func (ls *ledgerState) answeredBy(node string) {
	ls.gmu.Lock()
	ls.answered[node] = true
	open := !ls.ready && ls.expect >= 0 && len(ls.answered) >= ls.expect
	ls.gmu.Unlock()
	if open {
		ls.openGate()
	}
}

// openGate publishes what waited, in order; from now on ledger messages
// go out at once.
func (ls *ledgerState) openGate() {
	ls.gmu.Lock()
	defer ls.gmu.Unlock()
	if ls.ready {
		return
	}
	ls.ready = true
	if ls.gateTimer != nil {
		ls.gateTimer.Stop()
	}
	for _, m := range ls.pending {
		ls.s.publishState(m)
	}
	ls.pending = nil
}

// send publishes a ledger message, or keeps it until the gate opens.
func (ls *ledgerState) send(msg []byte) {
	ls.gmu.Lock()
	defer ls.gmu.Unlock()
	if !ls.ready {
		ls.pending = append(ls.pending, msg)
		return
	}
	ls.s.publishState(msg)
}

// close stops the hold timers (a node that stops without a drain is
// claimed by another, which takes its holds over).
func (ls *ledgerState) close() {
	ls.hmu.Lock()
	ls.stopped = true
	for id, t := range ls.timers {
		t.Stop()
		delete(ls.timers, id)
	}
	ls.hmu.Unlock()
	ls.gmu.Lock()
	if ls.gateTimer != nil {
		ls.gateTimer.Stop()
	}
	ls.gmu.Unlock()
}

// ledgerCount publishes this node's subscribers of ch after a change, when
// the ledger needs to know. Caller holds a.mu (the messages of one app
// leave in the order of its changes, and own matches what was sent).
func (a *appState) ledgerCount(ch *channel) {
	led := a.led
	n, old := ch.live, led.own[ch.name]
	if n < old && led.ls.s.draining.Load() {
		return // a drained node's subscribers leave when it is claimed
	}
	if n == old || !led.counts && (!led.channels || (n == 0) == (old == 0)) {
		return
	}
	if n == 0 {
		delete(led.own, ch.name)
	} else {
		led.own[ch.name] = n
	}
	led.sendCount(a.cfg.ID, ch.name, n)
}

// sendCount publishes this node's n subscribers of channel. Caller holds
// a.mu.
func (led *appLedger) sendCount(app, channel string, n int) {
	ls := led.ls
	msg, _ := json.Marshal(envelope{Type: typeCount, Node: ls.s.nodeID, App: app, Channel: channel, N: &n,
		T: time.Now().UnixMilli(), Hold: led.holdVacate, SubCount: led.counts && !chantype.Of(channel).Presence(), Seq: ls.seq.Add(1)})
	ls.send(msg)
}

// departAll reports the departures of a stopping node's drained sockets
// itself, where a restart leaves them to the node that claims it: a count
// of 0 for every channel it had subscribers on, then a leave for every
// presence membership and sign-in they kept. Their channel_vacated,
// member_removed and offline are held like any other, so a client that
// reconnected to another server within the hold cancels them.
func (s *Server) departAll() {
	for _, a := range s.appList() {
		a.mu.Lock()
		if led := a.led; led != nil {
			for _, name := range slices.Sorted(maps.Keys(led.own)) {
				delete(led.own, name)
				led.sendCount(a.cfg.ID, name, 0)
			}
			for _, k := range slices.Sorted(maps.Keys(led.ownMembers)) {
				m := led.ownMembers[k]
				if m.channel == onlineChannel {
					s.userOp(a, m.socket, userSignout, m.userID)
				} else {
					s.presenceOp(a, m.socket, "leave", m.channel, "", php.Value{})
				}
			}
		}
		a.mu.Unlock()
	}
}

// holding reports whether this node still holds decisions it has to
// commit.
func (ls *ledgerState) holding() bool {
	ls.hmu.Lock()
	defer ls.hmu.Unlock()
	return len(ls.timers) > 0
}

// presenceOp publishes a presence join or leave of a local socket (data is
// the decoded channel_data of a join). Caller holds a.mu, so a snapshot
// sees exactly what was published.
func (s *Server) presenceOp(a *appState, socket, op, channel, rawData string, data php.Value) {
	led := a.led
	if led == nil || !led.members {
		s.publishState(presenceMsg(s.nodeID, a.cfg.ID, op, channel, socket, rawData, false, false, 0))
		return
	}
	k := channel + "\x00" + socket
	if op == "join" {
		key, id := userOf(data)
		led.ownMembers[k] = ownMembership{channel, socket, key, id}
	} else {
		delete(led.ownMembers, k)
	}
	ls := led.ls
	// A join's subscription is counted when the join is back (if
	// channels or counts are wanted): its member_added waits for that.
	counted := op == "join" && (led.channels || led.counts)
	ls.send(presenceMsg(s.nodeID, a.cfg.ID, op, channel, socket, rawData, true, counted, ls.seq.Add(1)))
}

// userOf is a membership's user for the ledger: its key (loose equality,
// as presence compares ids) and id as a string; "" without a truthy id.
func userOf(data php.Value) (key, id string) {
	if v, ok := field(data, "user_id"); ok && v.Kind() != php.Null && truthy(v) {
		return looseKey(v), phpString(v)
	}
	return "", ""
}

func ledgerRef(env *envelope) string {
	return env.Node + ":" + strconv.FormatUint(env.Seq, 10)
}

// apply runs one ledger operation and acts on its decisions.
func (ls *ledgerState) apply(op func(l *ledger.Ledger) []ledger.Decision) {
	ls.mu.Lock()
	ds := op(ls.l)
	ls.mu.Unlock()
	ls.act(ds)
}

// act does what every node does with the decisions (watchers and
// subscribers hear of them, watchlist.go), then reports those that are this
// node's.
func (ls *ledgerState) act(ds []ledger.Decision) {
	s := ls.s
	for _, d := range ds {
		if d.Kind != ledger.HoldStart {
			s.actEverywhere(d)
		}
		if d.Sender != s.nodeID {
			continue
		}
		if d.Kind == ledger.HoldStart {
			wait := ls.hold
			if d.Delay > 0 {
				wait = time.Duration(d.Delay) * time.Millisecond // a held-back subscription count
			}
			ls.startHold(d.Hold, wait)
			continue
		}
		a := s.appByID(d.App)
		if a == nil || d.Channel == onlineChannel {
			continue // users online: for watchers only, no webhook
		}
		a.emit(Event{Kind: eventKindOf(d.Kind), Channel: d.Channel, UserID: d.UserID, Count: d.Count})
	}
}

func eventKindOf(k ledger.Kind) EventKind {
	switch k {
	case ledger.ChannelCreated:
		return ChannelCreated
	case ledger.ChannelRemoved:
		return ChannelRemoved
	case ledger.ChannelOccupied:
		return ChannelOccupied
	case ledger.ChannelVacated:
		return ChannelVacated
	case ledger.MemberAdded:
		return MemberAdded
	case ledger.MemberRemoved:
		return MemberRemoved
	case ledger.SubscriptionCount:
		return SubscriptionCount
	}
	return 0
}

// startHold commits hold id after wait.
func (ls *ledgerState) startHold(id string, wait time.Duration) {
	ls.hmu.Lock()
	defer ls.hmu.Unlock()
	if ls.stopped || ls.timers[id] != nil {
		return
	}
	ls.timers[id] = time.AfterFunc(wait, func() {
		ls.hmu.Lock()
		delete(ls.timers, id)
		stopped := ls.stopped
		if !stopped {
			ls.fired[id] = true
		}
		ls.hmu.Unlock()
		if stopped {
			return
		}
		msg, _ := json.Marshal(envelope{Type: typeCommit, Node: ls.s.nodeID, Ref: id, Seq: ls.seq.Add(1)})
		ls.send(msg)
	})
}

// claim tells the cluster that node is gone, once per heartbeat number.
func (ls *ledgerState) claim(node string) {
	if node == ls.s.nodeID {
		return
	}
	ls.mu.Lock()
	hb, known := ls.l.LastHeartbeat(node)
	prev, done := ls.claimed[node]
	switch {
	case !known:
	case !ls.l.HasEntries(node):
		known = false // nothing to decide: no claim needed
	case done && prev == hb:
		known = false // claimed already
	default:
		ls.claimed[node] = hb
	}
	ls.mu.Unlock()
	if !known {
		return
	}
	msg, _ := json.Marshal(envelope{Type: typeClaim, Node: ls.s.nodeID, NodeID: node, HB: hb, Seq: ls.seq.Add(1)})
	ls.send(msg)
}

// nodeGone handles a node_gone notice (in the bus order): a node with
// entries is claimed; one without is forgotten by every ledger alike.
func (ls *ledgerState) nodeGone(node string) {
	ls.mu.Lock()
	ls.l.Forget(node)
	ls.mu.Unlock()
	ls.claim(node)
}

// onLedgerMessage applies a count, commit or claim from the bus.
func (s *Server) onLedgerMessage(env *envelope) {
	ls := s.ledger
	if ls == nil {
		return
	}
	ref := ledgerRef(env)
	switch env.Type {
	case typeCount:
		a := s.appByID(env.App)
		if a == nil || a.led == nil || env.N == nil {
			return
		}
		ls.apply(func(l *ledger.Ledger) []ledger.Decision {
			return l.Count(env.Node, ref, env.App, env.Channel, *env.N, env.T, env.Hold, env.SubCount)
		})
	case typeCommit:
		ls.apply(func(l *ledger.Ledger) []ledger.Decision { return l.Commit(env.Node, env.Ref) })
		if env.Node == s.nodeID {
			ls.hmu.Lock()
			delete(ls.fired, env.Ref)
			ls.hmu.Unlock()
		}
	case typeClaim:
		ls.apply(func(l *ledger.Ledger) []ledger.Decision { return l.Claim(env.Node, ref, env.NodeID, env.HB) })
	}
}

// ledgerPresence applies a tracked presence join or leave (data is the
// join's decoded channel_data).
func (s *Server) ledgerPresence(a *appState, env *envelope, data php.Value) {
	ls := s.ledger
	if ls == nil || a.led == nil || !a.led.members || !env.Hold {
		return
	}
	ref := ledgerRef(env)
	switch env.Op {
	case "join":
		key, id := userOf(data)
		ls.apply(func(l *ledger.Ledger) []ledger.Decision {
			return l.Join(env.Node, ref, env.App, env.Channel, env.SocketID, key, id, env.Counted)
		})
	case "leave":
		ls.apply(func(l *ledger.Ledger) []ledger.Decision {
			return l.Leave(env.Node, ref, env.App, env.Channel, env.SocketID)
		})
	}
}

// ledgerHeartbeat records a heartbeat's number.
func (s *Server) ledgerHeartbeat(env *envelope) {
	if ls := s.ledger; ls != nil && env.HB > 0 {
		ls.mu.Lock()
		ls.l.Heartbeat(env.Node, env.HB)
		ls.mu.Unlock()
	}
}

// ledgerSnap is one app's part of a node's state: its own counts and
// tracked memberships (socket, user key, user id) by channel.
type ledgerSnap struct {
	App     string                 `json:"app"`
	Counts  map[string]int         `json:"counts,omitempty"`
	Members map[string][][3]string `json:"members,omitempty"`
	Hold    bool                   `json:"hold,omitempty"`
	// Holds are the departures this node holds (channel_vacated,
	// member_removed) whose commit it has not sent yet.
	Holds []ledger.Held `json:"holds,omitempty"`
}

// publishLedgerState sends this node's state, app by app, to node (which
// said hello). Each app's state is published under its lock, so it sits in
// this node's order exactly after the messages it reflects. A node whose
// gate is still closed has published no ledger message yet: its state for
// the others is empty, and what waits follows in order.
func (s *Server) publishLedgerState(node string) {
	ls := s.ledger
	if ls == nil {
		return
	}
	ls.gmu.Lock()
	ready := ls.ready
	ls.gmu.Unlock()
	if !ready {
		return
	}
	for _, a := range s.appList() {
		if a.led == nil {
			continue
		}
		a.mu.Lock()
		snap := ledgerSnap{App: a.cfg.ID, Hold: a.led.holdVacate}
		if len(a.led.own) > 0 {
			snap.Counts = make(map[string]int, len(a.led.own))
			for ch, n := range a.led.own {
				snap.Counts[ch] = n
			}
		}
		for _, m := range a.led.ownMembers {
			if snap.Members == nil {
				snap.Members = map[string][][3]string{}
			}
			snap.Members[m.channel] = append(snap.Members[m.channel], [3]string{m.socket, m.userKey, m.userID})
		}
		ls.mu.Lock()
		holds := ls.l.Holds(s.nodeID, a.cfg.ID)
		ls.mu.Unlock()
		// Under hmu until published: a hold not fired yet commits after
		// this state in this node's order.
		ls.hmu.Lock()
		for _, h := range holds {
			if !ls.fired[h.ID] {
				snap.Holds = append(snap.Holds, h)
			}
		}
		state, _ := json.Marshal(snap)
		msg, _ := json.Marshal(envelope{Type: typeLedgerState, Node: s.nodeID, For: node, Ledger: state, Seq: ls.seq.Add(1)})
		s.publishState(msg)
		ls.hmu.Unlock()
		a.mu.Unlock()
	}
}

// onLedgerState applies another node's state for one app, sent to this
// node: its entries replace what this ledger holds for that node.
func (s *Server) onLedgerState(env *envelope) {
	ls := s.ledger
	if ls == nil || env.For != s.nodeID {
		return
	}
	var snap ledgerSnap
	if err := json.Unmarshal(env.Ledger, &snap); err != nil {
		s.logError("cluster: undecodable ledger state from " + env.Node + ": " + err.Error())
		return
	}
	a := s.appByID(snap.App)
	if a == nil || a.led == nil {
		return
	}
	members := map[string][]ledger.Entry{}
	for ch, list := range snap.Members {
		if chantype.Of(ch).Presence() || ch == onlineChannel {
			for _, m := range list {
				members[ch] = append(members[ch], ledger.Entry{Socket: m[0], UserKey: m[1], UserID: m[2]})
			}
		}
	}
	ref := ledgerRef(env)
	ls.apply(func(l *ledger.Ledger) []ledger.Decision {
		return l.State(env.Node, ref, snap.App, snap.Counts, members, snap.Hold, snap.Holds)
	})
}
