package server

import (
	"time"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/chantype"
	"github.com/reverb-go/reverb/server/phpjson"
)

// presenceChannel is the cluster-wide replica of one presence channel's
// memberships, in the transport's order. Every node applies the same join
// and leave messages in the same order, so every node computes the same
// member_added / member_removed decisions and each one tells its own
// subscribers: one event per user for the whole cluster. Guarded by
// appState.mu.
type presenceChannel struct {
	members []*member
}

// member is one socket's presence membership on some node.
type member struct {
	node   string
	socket string
	data   php.Value // decoded channel_data (array)
	id     php.Value
	hasID  bool   // user_id present and not null
	key    string // looseKey(user_id), "" when falsy
}

func newMember(node, socket string, data php.Value) *member {
	m := &member{node: node, socket: socket, data: data}
	if id, ok := field(data, "user_id"); ok && id.Kind() != php.Null {
		m.id, m.hasID = id, true
		if truthy(id) {
			m.key = looseKey(id)
		}
	}
	return m
}

func (p *presenceChannel) find(node, socket string) int {
	for i, m := range p.members {
		if m.node == node && m.socket == socket {
			return i
		}
	}
	return -1
}

func (p *presenceChannel) hasUser(key string) bool {
	if key == "" {
		return false
	}
	for _, m := range p.members {
		if m.key == key {
			return true
		}
	}
	return false
}

// join applies a join; it returns the member_removed and member_added
// texts to broadcast (each nil when not due). member_added is due when the
// user was not present before the join, as Reverb decides it. A socket
// that joins again replaces its membership in place (Reverb keeps its
// place too), and when that was the last membership of another user,
// member_removed of that user comes first (Reverb sends none, and every
// other client keeps a member no one is).
func (p *presenceChannel) join(node, socket, channel string, data php.Value) (removed, added []byte) {
	m := newMember(node, socket, data)
	already := p.hasUser(m.key)
	if i := p.find(node, socket); i >= 0 {
		old := p.members[i]
		p.members[i] = m
		if old.key != m.key {
			removed = p.removedText(old, channel)
		}
	} else {
		p.members = append(p.members, m)
	}
	if already {
		return removed, nil
	}
	return removed, internalText("pusher_internal:member_added", objectJSON(data), channel)
}

// admits reports whether a join may enter a channel limited to max users
// (max_presence_members_per_channel; 0: no limit): a user already present
// (or a socket joining again) always may.
func (p *presenceChannel) admits(node, socket string, data php.Value, max int) bool {
	if max <= 0 || p.find(node, socket) >= 0 {
		return true
	}
	if m := newMember(node, socket, data); m.key != "" && p.hasUser(m.key) {
		return true
	}
	return p.userCount() < max
}

// leave removes a membership; it returns the member_removed text when the
// user left the channel altogether.
func (p *presenceChannel) leave(node, socket, channel string) []byte {
	i := p.find(node, socket)
	if i < 0 {
		return nil
	}
	m := p.members[i]
	p.members = append(p.members[:i:i], p.members[i+1:]...)
	return p.removedText(m, channel)
}

func (p *presenceChannel) removedText(m *member, channel string) []byte {
	if m.key == "" || p.hasUser(m.key) {
		return nil
	}
	d := php.NewArray()
	d.Set(php.StringKey("user_id"), m.id)
	return internalText("pusher_internal:member_removed", phpjson.Append(nil, php.ArrayValue(d)), channel)
}

// dropNode removes every membership of node; it returns the member_removed
// texts due.
func (p *presenceChannel) dropNode(node, channel string) [][]byte {
	var out [][]byte
	kept := p.members[:0:0]
	var gone []*member
	for _, m := range p.members {
		if m.node == node {
			gone = append(gone, m)
		} else {
			kept = append(kept, m)
		}
	}
	p.members = kept
	seen := map[string]bool{}
	for _, m := range gone {
		if seen[m.key] {
			continue
		}
		seen[m.key] = true
		if t := p.removedText(m, channel); t != nil {
			out = append(out, t)
		}
	}
	return out
}

// users returns the distinct user ids in membership order. Members without
// a user id are one null id, as userCount counts them and as Reverb lists a
// null user_id (for a missing one Reverb answers 500).
func (p *presenceChannel) users() []php.Value {
	var ids []php.Value
	seen := map[string]bool{}
	for _, m := range p.members {
		k := "null"
		if m.hasID {
			k = looseKey(m.id)
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		ids = append(ids, m.id)
	}
	return ids
}

// userCount is the number of distinct users (members without a user id
// count as one, as PHP's unique() groups them under null).
func (p *presenceChannel) userCount() int {
	seen := map[string]bool{}
	for _, m := range p.members {
		k := "null"
		if m.hasID {
			k = looseKey(m.id)
		}
		seen[k] = true
	}
	return len(seen)
}

// heldAnswerData is the data of a held subscription's
// subscription_succeeded on ch, sent when it is acknowledged: a presence
// channel's members as they are then (the joins and leaves meanwhile
// skipped it), nothing on other channels. Caller holds a.mu.
func (a *appState) heldAnswerData(ch *channel) []byte {
	if !ch.kind.Presence() {
		return nil
	}
	pc := a.presence[ch.name]
	if pc == nil {
		pc = &presenceChannel{}
	}
	return pc.succeededData()
}

// succeededData is the subscription_succeeded data of §3.5, with a missing
// user_info mapped to null (compatibility decision).
func (p *presenceChannel) succeededData() []byte {
	ids := php.NewArray()
	hash := php.NewArray()
	seen := map[string]bool{}
	count := 0
	complete := true
	for _, m := range p.members {
		if !m.hasID {
			complete = false
			break
		}
		k := looseKey(m.id)
		if seen[k] {
			continue
		}
		seen[k] = true
		count++
		ids.Append(m.id)
		info, _ := field(m.data, "user_info")
		hash.Set(arrayKeyOf(m.id), info)
	}
	if !complete {
		ids, hash, count = php.NewArray(), php.NewArray(), 0
	}
	pr := php.NewArray()
	pr.Set(php.StringKey("count"), php.IntValue(int64(count)))
	pr.Set(php.StringKey("ids"), php.ArrayValue(ids))
	pr.Set(php.StringKey("hash"), php.ArrayValue(hash))
	top := php.NewArray()
	top.Set(php.StringKey("presence"), php.ArrayValue(pr))
	return phpjson.Append(nil, php.ArrayValue(top))
}

// objectJSON is json_encode((object) $data)'s effect on the member_added
// data: an empty array is "{}".
func objectJSON(v php.Value) []byte {
	if v.Kind() != php.Array || v.ArrayVal().Len() == 0 {
		return []byte("{}")
	}
	return phpjson.Append(nil, v)
}

// onPresence applies a presence message from the transport.
func (s *Server) onPresence(env *envelope) {
	a := s.appByID(env.App)
	if a == nil || !chantype.Of(env.Channel).Presence() {
		return
	}
	var added, removed, succeeded, cached []byte
	var joiner, refused *conn
	var data php.Value
	mine := env.Node == s.nodeID
	full := false
	held := false // the joiner waits for its channel's topic (routing.go)

	a.mu.Lock()
	pc := a.presence[env.Channel]
	if pc == nil {
		pc = &presenceChannel{}
		a.presence[env.Channel] = pc
	}
	switch env.Op {
	case "join":
		data = php.ArrayValue(php.NewArray())
		if env.ChannelData != "" {
			if d, err := phpjson.Decode([]byte(env.ChannelData)); err == nil && d.Kind() == php.Array {
				data = d
			}
		}
		if !pc.admits(env.Node, env.SocketID, data, a.cfg.Limits.PresenceMembers) {
			// Every node refuses it alike, in the bus order.
			full = true
			if c := a.conns[env.SocketID]; mine && c != nil && c.wantPresence[env.Channel] {
				delete(c.wantPresence, env.Channel)
				refused = c
				if ch := a.channels[env.Channel]; ch != nil && ch.live == 0 {
					// Interest routing: its subscribe took the topic
					// (another joiner on its way takes it again).
					a.unwant(ch)
				}
			}
			break
		}
		removed, added = pc.join(env.Node, env.SocketID, env.Channel, data)
		if !mine {
			s.rejoin.note(env)
		}
		if mine {
			c := a.conns[env.SocketID]
			if c != nil && c.wantPresence[env.Channel] {
				ch := a.findOrCreate(env.Channel)
				a.want(ch) // wanted since the subscribe, unless deleted meanwhile
				prev := c.subOf(ch)
				a.addSub(ch, c, data)
				a.users.authorize(c) // subscribed: an authorized connection
				joiner = c
				// Held until its topic is live; on Redis Cluster, whose
				// topics share no order with the control stream the join
				// came back on, fenced on its topic too (fence.go).
				held = s.holdSub(a, ch, c) ||
					s.router != nil && !s.router.Ordered() && s.fenceSub(a, ch, c)
				if held {
					carryHeld(prev, c.subOf(ch)) // answered when acknowledged
				} else {
					succeeded = pc.succeededData()
					if ch.kind.Cache() {
						cached = ch.cache
					}
				}
			} else {
				// The socket unsubscribed or went away before its join
				// came back: undo the join for the whole cluster.
				s.presenceOp(a, env.SocketID, "leave", env.Channel, "", php.Value{})
			}
		}
	case "leave":
		removed = pc.leave(env.Node, env.SocketID, env.Channel)
		if !mine {
			s.noteLeave(env)
			s.rejoin.note(env)
		}
	}
	if len(pc.members) == 0 {
		delete(a.presence, env.Channel)
	}
	var subs []*sub
	if ch := a.channels[env.Channel]; ch != nil {
		subs = ch.subscribers()
	}
	a.mu.Unlock()
	if full {
		if refused != nil {
			refused.send(textFrame(presenceFullText(env.Channel)))
			refused.debugPusherError(presenceFullMessage)
		}
		return
	}
	s.ledgerPresence(a, env, data)

	if joiner != nil && !held {
		joiner.send(textFrame(internalText("pusher_internal:subscription_succeeded", succeeded, env.Channel)))
		if chantype.Of(env.Channel).Cache() {
			switch {
			case cached != nil:
				joiner.send(textFrame(cached))
			case s.router != nil:
				// Interest routing: a cache known to be empty.
				joiner.sendCacheMiss(env.Channel)
			case s.hasPeers():
				// Ask the nodes with subscribers, off the delivery
				// goroutine (the answers come through it).
				s.spawn(func() {
					remote := s.clusterCache(a, env.Channel)
					if remote == nil {
						joiner.sendCacheMiss(env.Channel)
						return
					}
					a.mu.Lock()
					if ch := a.channels[env.Channel]; ch != nil && ch.cache == nil {
						ch.cache = remote
					}
					a.mu.Unlock()
					joiner.send(textFrame(remote))
				})
			default:
				joiner.sendCacheMiss(env.Channel)
			}
		}
	}
	for _, t := range [][]byte{removed, added} {
		if t == nil {
			continue
		}
		s.fanout(a, env.Channel, subs, t, joinerOrNil(joiner, env, mine, a))
	}
}

// joinerOrNil is the socket member_added must skip: the joiner itself.
func joinerOrNil(joiner *conn, env *envelope, mine bool, a *appState) *conn {
	if joiner != nil {
		return joiner
	}
	if mine && env.Op == "join" {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.conns[env.SocketID]
	}
	return nil
}

// dropNodePresence removes every membership of a node that left the
// cluster, telling local subscribers who is gone.
func (s *Server) dropNodePresence(node string) {
	if node == s.nodeID {
		return
	}
	s.dropNodePresenceAll(node)
}

// dropNodePresenceAll is dropNodePresence without the guard for this node.
func (s *Server) dropNodePresenceAll(node string) {
	for _, a := range s.appList() {
		type out struct {
			channel string
			subs    []*sub
			texts   [][]byte
		}
		var outs []out
		a.mu.Lock()
		for name, pc := range a.presence {
			texts := pc.dropNode(node, name)
			if len(pc.members) == 0 {
				delete(a.presence, name)
			}
			if len(texts) == 0 {
				continue
			}
			var subs []*sub
			if ch := a.channels[name]; ch != nil {
				subs = ch.subscribers()
			}
			outs = append(outs, out{name, subs, texts})
		}
		a.mu.Unlock()
		for _, o := range outs {
			for _, t := range o.texts {
				s.fanout(a, o.channel, o.subs, t, nil)
			}
		}
	}
}

// noteLeave remembers, for the first moments after our hello (or after we
// asked a node for its snapshot, rejoin.go), the leaves of other nodes,
// so their snapshots (taken at our hello) do not bring
// those members back.
func (s *Server) noteLeave(env *envelope) {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if (!s.helloSeen || time.Since(s.started) > 30*time.Second) && !s.rejoin.recent() {
		if len(s.leftSinceHello) > 0 {
			s.leftSinceHello = map[string]bool{}
		}
		return
	}
	s.leftSinceHello[env.Node+"\x00"+env.App+"\x00"+env.Channel+"\x00"+env.SocketID] = true
}
