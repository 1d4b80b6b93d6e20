package server

import "sync/atomic"

// AppStats are one app's counters on this node (cheap atomics, read by
// monitoring).
type AppStats struct {
	Connections         atomic.Int64 // open sockets now
	ConnectionsTotal    atomic.Int64 // sockets established since start
	Subscriptions       atomic.Int64 // memberships now
	Channels            atomic.Int64 // occupied channels now
	MessagesIn          atomic.Int64 // data messages received
	MessagesOut         atomic.Int64 // frames queued to subscribers by broadcasts
	BytesIn             atomic.Int64
	BytesOut            atomic.Int64
	SlowConsumersClosed atomic.Int64 // closed with 4100 on queue overflow
	// Pulse's ReverbMessages recorder counts these (monitoring, engineer M):
	// TextFramesOut is every text frame queued to a client (Reverb's
	// MessageSent: each broadcast recipient once, pings, pongs, errors and
	// connection_established included; control and close frames not);
	// MessagesHandled is every client data message handled without error
	// (Reverb's MessageReceived).
	TextFramesOut   atomic.Int64
	MessagesHandled atomic.Int64
}

// AppSnapshot is a copy of AppStats.
type AppSnapshot struct {
	AppID               string
	Connections         int64
	ConnectionsTotal    int64
	Subscriptions       int64
	Channels            int64
	MessagesIn          int64
	MessagesOut         int64
	BytesIn             int64
	BytesOut            int64
	SlowConsumersClosed int64
	TextFramesOut       int64
	MessagesHandled     int64
}

// Stats is a snapshot of the node's counters.
type Stats struct {
	NodeID string
	Apps   []AppSnapshot
	// HandshakeFailures counts refused sockets by reason: an HTTP status of
	// a failed handshake ("400", "426"...), "unknown app", "over quota",
	// "origin not allowed".
	HandshakeFailures map[string]int64
	// PeerNodes is how many other cluster nodes (workers, Redis-scaled
	// servers) this node heard from within three heartbeats; BusErrors
	// counts failed cluster publishes. Together: the bus / Redis state.
	PeerNodes int
	BusErrors int64
}

// Stats returns the node's counters.
func (s *Server) Stats() Stats {
	st := Stats{NodeID: s.nodeID, HandshakeFailures: map[string]int64{}}
	for _, a := range s.appList() {
		x := a.stats
		st.Apps = append(st.Apps, AppSnapshot{
			AppID:               a.cfg.ID,
			Connections:         x.Connections.Load(),
			ConnectionsTotal:    x.ConnectionsTotal.Load(),
			Subscriptions:       x.Subscriptions.Load(),
			Channels:            x.Channels.Load(),
			MessagesIn:          x.MessagesIn.Load(),
			MessagesOut:         x.MessagesOut.Load(),
			BytesIn:             x.BytesIn.Load(),
			BytesOut:            x.BytesOut.Load(),
			SlowConsumersClosed: x.SlowConsumersClosed.Load(),
			TextFramesOut:       x.TextFramesOut.Load(),
			MessagesHandled:     x.MessagesHandled.Load(),
		})
	}
	s.nodesMu.Lock()
	st.PeerNodes = len(s.nodes)
	s.nodesMu.Unlock()
	st.BusErrors = s.busErrors.Load()
	s.handshakeFailures.Range(func(k, v any) bool {
		st.HandshakeFailures[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return st
}
