package server

// Re-synchronising presence with a node this node had forgotten: after a
// Redis outage (or any partition) longer than three heartbeats, every
// node dropped the others' presence members (member_removed went out).
// When a forgotten — or never seen — node is heard from again, this node
// asks it, with a hello addressed to it alone, for its memberships; the
// snapshot that comes back re-adds them and tells local subscribers
// member_added for users that are back. Both sides do this, so the whole
// cluster converges without restarting anything.
//
// Re-synchronising with every node after this node's subscription dropped
// while Redis stayed up (CLIENT KILL, a proxy's idle timeout, the pub/sub
// output buffer limit, a move to a new master): nobody was forgotten, but
// what the others published until the transport subscribed again missed
// this node. Once subscribed again, the node sends one hello to all (its
// Ref names the round); each node answers with its ledger state (which
// replaces what this node's ledger holds of it) and a snapshot, which
// replaces that node's memberships in this node's replica: members that
// left meanwhile are removed and joiners added, each told to local
// subscribers as any leave or join is. The joins and leaves received after
// the hello came back are newer than the snapshot and stay.

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/reverb-go/reverb/server/cluster"
)

// rejoinWindow is how long after asking for a snapshot the leaves of other
// nodes are remembered (the snapshot is taken at our hello, so a member
// that left just after must not come back with it).
const rejoinWindow = 30 * time.Second

// rejoinState records when this node last asked for snapshots.
//
// Lock story: mu guards askedAt and the round's fields; nothing is locked
// under it. It is taken under Server.snapMu (noteLeave) and under an app's
// mu (onPresence, dropUnlisted), never the other way.
type rejoinState struct {
	mu      sync.Mutex
	askedAt time.Time

	// The round of snapshots asked for after a resubscription: ref is its
	// hello's Ref; since is when that hello came back (zero before),
	// from which on the other nodes' joins and leaves are noted (by
	// node\x00app\x00channel\x00socket) for rejoinWindow.
	rounds       uint64
	ref          string
	since        time.Time
	joined, left map[string]bool
}

// recent reports whether a snapshot was asked for within rejoinWindow.
func (r *rejoinState) recent() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.askedAt.IsZero() && time.Since(r.askedAt) < rejoinWindow
}

// askSnapshot asks node, alone, for its presence memberships. Called from
// the delivery goroutine; the publish never waits for delivery.
func (s *Server) askSnapshot(node string) {
	s.rejoin.mu.Lock()
	s.rejoin.askedAt = time.Now()
	s.rejoin.mu.Unlock()
	b, _ := json.Marshal(envelope{Type: typeHello, Node: s.nodeID, For: node})
	s.publishState(b)
}

// onResubscribed is the transport's notice that the subscription is live
// again after a drop (cluster.Resubscriber), on the delivery goroutine:
// this node's own state messages whose copy was lost are applied here
// (owncopies.go), and when the others went on publishing meanwhile every
// node is asked for its state.
func (s *Server) onResubscribed(r cluster.Resubscription) {
	for _, m := range s.own.lost(r.Drop) {
		s.handle(m, true)
	}
	if !r.Missed {
		return
	}
	s.rejoin.mu.Lock()
	s.rejoin.rounds++
	ref := "resync:" + s.nodeID + ":" + strconv.FormatUint(s.rejoin.rounds, 10)
	s.rejoin.ref, s.rejoin.since = ref, time.Time{}
	s.rejoin.joined, s.rejoin.left = nil, nil
	s.rejoin.mu.Unlock()
	b, _ := json.Marshal(envelope{Type: typeHello, Node: s.nodeID, Ref: ref})
	s.publishState(b)
}

// helloBack notes that this node's hello ref came back: the answers to it
// reflect everything before this point of the order.
func (r *rejoinState) helloBack(ref string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ref != "" && ref == r.ref {
		r.since = time.Now()
		r.joined, r.left = map[string]bool{}, map[string]bool{}
	}
}

// note records another node's presence join or leave while a round's
// answers may still come.
func (r *rejoinState) note(env *envelope) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.since.IsZero() {
		return
	}
	if time.Since(r.since) > rejoinWindow {
		r.ref, r.since, r.joined, r.left = "", time.Time{}, nil, nil
		return
	}
	key := env.Node + "\x00" + env.App + "\x00" + env.Channel + "\x00" + env.SocketID
	if env.Op == "join" {
		r.joined[key] = true
	} else {
		r.left[key] = true
	}
}

// answers reports whether ref is the current round, and which of the
// answering node's memberships joined or left since its hello came back.
func (r *rejoinState) answers(ref string) (ok bool, joined, left func(key string) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ref == "" || ref != r.ref || r.since.IsZero() {
		return false, nil, nil
	}
	j, l := r.joined, r.left
	in := func(m map[string]bool) func(string) bool {
		return func(k string) bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return m[k]
		}
	}
	return true, in(j), in(l)
}
