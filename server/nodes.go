package server

import (
	"encoding/json"
	"time"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/phpjson"
)

// The other nodes: liveness and heartbeats, their connection counts (the
// cluster-wide max_connections), and the presence snapshots a node
// joining late asks for.

// noteNode records that node is alive; true when it was not known (a new
// node, or one forgotten after missed heartbeats).
func (s *Server) noteNode(node string) bool {
	if node == "" || node == s.nodeID {
		return false
	}
	now := time.Now().UnixNano()
	s.nodesMu.Lock()
	_, known := s.nodes[node]
	s.nodes[node] = now
	s.nodesMu.Unlock()
	return !known
}

// forgetNode removes a node's presence memberships (hub said it is gone, or
// it stopped sending heartbeats).
func (s *Server) forgetNode(node string) {
	if node == "" || node == s.nodeID {
		return
	}
	s.nodesMu.Lock()
	delete(s.nodes, node)
	delete(s.remoteCounts, node)
	s.nodesMu.Unlock()
	s.dropNodePresence(node)
}

// heartbeatLoop publishes heartbeats and forgets silent nodes. Owned by
// the Server; stops when s.stop closes.
func (s *Server) heartbeatLoop() {
	defer s.wg.Done()
	period := s.opts.HeartbeatInterval
	t := time.NewTicker(period)
	defer t.Stop()
	for first := true; ; first = false {
		if !first {
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
		counts := map[string]int64{}
		for _, a := range s.appList() {
			counts[a.cfg.ID] = a.open.Load()
		}
		hb, _ := json.Marshal(envelope{Type: typeHeartbeat, Node: s.nodeID, Counts: counts, HB: s.hbSeq.Add(1), Routing: s.routing()})
		s.publishState(hb)
		deadline := time.Now().Add(-3 * period).UnixNano()
		var silent []string
		s.nodesMu.Lock()
		known := len(s.nodes)
		for n, seen := range s.nodes {
			if seen < deadline {
				silent = append(silent, n)
			}
		}
		s.nodesMu.Unlock()
		s.checkForeignSubscribers(known - len(silent))
		for _, n := range silent {
			s.forgetNode(n)
		}
		// Nodes silent for three heartbeats are claimed gone in the
		// ledger; unless every other node went silent at once, which says
		// rather that this node lost the bus (it would report everything
		// as vacated).
		if ls := s.ledger; ls != nil && (len(silent) < known || known == 1) {
			for _, n := range silent {
				ls.claim(n)
			}
		}
	}
}

// onHello answers a new node with this node's own presence memberships as
// the replica holds them at this point of the order (with a ledger: once
// this node's messages before it are applied).
func (s *Server) onHello(env *envelope) {
	if env.Node == s.nodeID {
		s.snapMu.Lock()
		s.helloSeen = true
		s.snapMu.Unlock()
		s.rejoin.helloBack(env.Ref)
		return
	}
	if env.For != "" && env.For != s.nodeID {
		return // a hello addressed to another node (rejoin.go)
	}
	if s.ledger != nil && !s.saidGone() {
		// The ledger's state lists the holds this node holds; the ones its
		// own messages still on the way will start (a claim of a node gone
		// just before the new one came, a last subscriber's leave) are
		// past the new node's hello in the order, where its empty ledger
		// could make nothing of them. So the answer waits until what this
		// node published before it is back and applied here.
		node, ref := env.Node, env.Ref
		s.afterOrdered(func() { s.answerHello(node, ref) })
		return
	}
	s.answerHello(env.Node, env.Ref)
}

// answerHello sends node, which said hello, this node's ledger state and
// its presence snapshot.
func (s *Server) answerHello(node, ref string) {
	if s.saidGone() {
		// Between its end-of-drain notice and its exit this node still
		// receives: it answers (the new node's gate waits for every node
		// its hello reached) with nothing, as it has nothing in the
		// cluster any more (publishState).
		b, _ := json.Marshal(envelope{Type: typeSnapshot, Node: s.nodeID, For: node, Ref: ref})
		s.publish(b)
		return
	}
	// The ledger's state first: the snapshot tells the new node that this
	// node has answered (decisions.go).
	s.publishLedgerState(node)
	var entries []snapshotEntry
	for _, a := range s.appList() {
		a.mu.Lock()
		for name, pc := range a.presence {
			for _, m := range pc.members {
				if m.node == s.nodeID {
					entries = append(entries, snapshotEntry{App: a.cfg.ID, Channel: name, SocketID: m.socket, ChannelData: string(phpjson.Append(nil, m.data))})
				}
			}
		}
		a.mu.Unlock()
	}
	b, _ := json.Marshal(envelope{Type: typeSnapshot, Node: s.nodeID, For: node, Ref: ref, Entries: entries})
	s.publishState(b)
}

// onSnapshot applies another node's memberships as of its answer to our
// hello: the snapshot is the state at that point, and the joins and leaves
// that node published after the hello were applied already; so entries are
// added only when not already known and not left since. An answer to the
// hello of a resubscription (rejoin.go) also removes that node's members
// it does not list, unless they joined since.
func (s *Server) onSnapshot(env *envelope) {
	if env.For != s.nodeID {
		return
	}
	if s.ledger != nil {
		defer s.ledger.answeredBy(env.Node)
	}
	leftSince := func(key string) bool {
		s.snapMu.Lock()
		defer s.snapMu.Unlock()
		return s.leftSinceHello[key]
	}
	// An answer to the hello of a resubscription replaces: it also
	// removes what it does not list and updates a membership whose data
	// changed (a socket that joined again as another user).
	replace, joinedSince, left := s.rejoin.answers(env.Ref)
	if replace {
		s.dropUnlisted(env, joinedSince)
		leftSince = left
	}
	for _, e := range env.Entries {
		a := s.appByID(e.App)
		if a == nil {
			continue
		}
		key := env.Node + "\x00" + e.App + "\x00" + e.Channel + "\x00" + e.SocketID
		if leftSince(key) {
			continue
		}
		a.mu.Lock()
		pc := a.presence[e.Channel]
		if pc == nil {
			pc = &presenceChannel{}
			a.presence[e.Channel] = pc
		}
		var removed, added []byte
		var subs []*sub
		i := pc.find(env.Node, e.SocketID)
		if i < 0 || replace && !joinedSince(key) && string(phpjson.Append(nil, pc.members[i].data)) != e.ChannelData {
			data := php.ArrayValue(php.NewArray())
			if d, err := phpjson.Decode([]byte(e.ChannelData)); err == nil && d.Kind() == php.Array {
				data = d
			}
			// A user new to this node's view (a late joiner's first
			// snapshot, or a node back after a partition) is announced to
			// the local subscribers.
			if removed, added = pc.join(env.Node, e.SocketID, e.Channel, data); removed != nil || added != nil {
				if ch := a.channels[e.Channel]; ch != nil {
					subs = ch.subscribers()
				}
			}
		}
		a.mu.Unlock()
		for _, t := range [][]byte{removed, added} {
			if t != nil && len(subs) > 0 {
				s.fanout(a, e.Channel, subs, t, nil)
			}
		}
	}
}

// dropUnlisted removes the memberships of the node answering with env
// that its snapshot does not list and that did not join since the hello
// (joined), telling local subscribers member_removed as a leave does.
func (s *Server) dropUnlisted(env *envelope, joined func(key string) bool) {
	listed := make(map[string]bool, len(env.Entries))
	for _, e := range env.Entries {
		listed[e.App+"\x00"+e.Channel+"\x00"+e.SocketID] = true
	}
	for _, a := range s.appList() {
		type out struct {
			channel string
			subs    []*sub
			text    []byte
		}
		var outs []out
		a.mu.Lock()
		for name, pc := range a.presence {
			var gone []string
			for _, m := range pc.members {
				k := a.cfg.ID + "\x00" + name + "\x00" + m.socket
				if m.node == env.Node && !listed[k] && !joined(env.Node+"\x00"+k) {
					gone = append(gone, m.socket)
				}
			}
			if len(gone) == 0 {
				continue
			}
			var subs []*sub
			if ch := a.channels[name]; ch != nil {
				subs = ch.subscribers()
			}
			for _, sock := range gone {
				if t := pc.leave(env.Node, sock, name); t != nil {
					outs = append(outs, out{name, subs, t})
				}
			}
			if len(pc.members) == 0 {
				delete(a.presence, name)
			}
		}
		a.mu.Unlock()
		for _, o := range outs {
			s.fanout(a, o.channel, o.subs, o.text, nil)
		}
	}
}

// noteCounts records another node's open sockets per app.
func (s *Server) noteCounts(node string, counts map[string]int64) {
	if node == "" || node == s.nodeID || counts == nil {
		return
	}
	s.nodesMu.Lock()
	m := s.remoteCounts[node]
	if m == nil {
		m = map[string]int64{}
		s.remoteCounts[node] = m
	}
	for app, n := range counts {
		m[app] = n
	}
	s.nodesMu.Unlock()
}

// remoteOpen is the number of open sockets of app on the other nodes, as
// of their last heartbeats.
func (s *Server) remoteOpen(appID string) int64 {
	s.nodesMu.Lock()
	defer s.nodesMu.Unlock()
	var n int64
	for _, c := range s.remoteCounts {
		n += c[appID]
	}
	return n
}

// publishCount tells the other nodes at once how many sockets an app with
// a connection quota has here, so the quota holds across workers without
// waiting for a heartbeat.
func (s *Server) publishCount(a *appState) {
	if a.cfg.MaxConnections == nil || !s.hasPeers() {
		return
	}
	hb, _ := json.Marshal(envelope{Type: typeHeartbeat, Node: s.nodeID, Counts: map[string]int64{a.cfg.ID: a.open.Load()}, HB: s.hbSeq.Add(1), Routing: s.routing()})
	s.publishState(hb)
}

// hasPeers reports whether other nodes have been heard of.
func (s *Server) hasPeers() bool {
	s.nodesMu.Lock()
	defer s.nodesMu.Unlock()
	return len(s.nodes) > 0
}

// phpPeers reports whether the Redis channel has subscribers that are not
// nodes of this server (PHP Reverb nodes during a migration): the last
// control publish reached more subscribers than the nodes heard from.
// Never in the interest routing, which PHP nodes cannot share.
func (s *Server) phpPeers() bool {
	if s.router != nil {
		return false
	}
	s.nodesMu.Lock()
	known := len(s.nodes)
	s.nodesMu.Unlock()
	return int(s.controlReceivers.Load()) > known+1
}
