package server

// Re-synchronising presence with a node this node had forgotten: after a
// Redis outage (or any partition) longer than three heartbeats, every
// node dropped the others' presence members (member_removed went out).
// When a forgotten — or never seen — node is heard from again, this node
// asks it, with a hello addressed to it alone, for its memberships; the
// snapshot that comes back re-adds them and tells local subscribers
// member_added for users that are back. Both sides do this, so the whole
// cluster converges without restarting anything.

import (
	"encoding/json"
	"sync"
	"time"
)

// rejoinWindow is how long after asking for a snapshot the leaves of other
// nodes are remembered (the snapshot is taken at our hello, so a member
// that left just after must not come back with it).
const rejoinWindow = 30 * time.Second

// rejoinState records when this node last asked for snapshots.
//
// Lock story: mu guards askedAt; nothing is locked under it. It is taken
// under Server.snapMu (noteLeave), never the other way.
type rejoinState struct {
	mu      sync.Mutex
	askedAt time.Time
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
