// How the server is put together (one node = one worker process):
//
//   - net/http parses requests; {path}/app/{key} goes through Ratchet's
//     handshake checks (websocket.CheckHandshake) and is hijacked, anything
//     else is the HTTP API (api.NewHandler over backend, this package's
//     api.Backend).
//   - Reading: bytes arrived → websocket.Decoder.Feed → conn.onFrame →
//     conn.handleMessage. On Linux an epoll driver (poller_linux.go) does
//     the reading for plain TCP sockets, so an idle socket holds neither a
//     goroutine nor a buffer. The portable path (macOS, Windows, or Linux
//     built with -tags portable) reads every socket with a goroutine
//     (poller_portable.go).
//   - TLS (conn_tls.go): the handshake runs in crypto/tls (tlsrec); a TLS
//     1.3 socket then continues on its raw TCP socket with tlsrec's record
//     layer, read and written by the same drivers as a plain one (Feed
//     before the decoder, Seal before the write), and holds no AEAD while
//     quiet. TLS 1.2 keeps a tls.Conn and a reader goroutine.
//   - Writing: a broadcast is encoded once into frame bytes shared by all
//     subscribers; each socket has a bounded queue (conn.enqueue). A pool
//     of flushers (flusher.go) drains ready sockets with one non-blocking
//     writev each, coalescing whatever queued meanwhile; a socket whose
//     kernel buffer is full gets its own writer goroutine until drained; a
//     socket whose queue overflows is closed with 4100. The pool and its
//     writev are Linux's (write_linux.go); on the portable path each socket
//     with queued frames gets a writer goroutine that writes through
//     net.Conn and ends when the queue is empty (write_portable.go).
//   - State (app.go): per app, channels with copy-free subscriber lists read
//     without locks by the fan-out; one mutex per app for every change.
//   - Cluster (envelope.go, publish.go, delivery.go, nodes.go, gather.go,
//     presence.go): every broadcast, client event, terminate and metrics
//     query goes through the cluster.Transport and is acted on when it
//     comes back, in the transport's one order. Presence is a replica of
//     every node's memberships updated in that order, so
//     member_added/member_removed are decided identically everywhere and
//     sent once per user for the whole cluster.
//   - Lifecycle events (observe.go): one Observer interface; the counters
//     (stats.go), --debug (debug.go), webhooks and Reverb's events for PHP
//     listeners (hooks.go, server/webhooks) are its consumers. Events that
//     depend on every node (channel occupied/vacated, members, counts) are
//     decided by the cluster ledger (decisions.go, server/ledger) in bus
//     order and reported by one node.
//   - Pusher's user features, beyond Reverb (users.go, watchlist.go,
//     limits.go): pusher:signin and events to #server-to-user-{id}, local
//     to each socket's node; watchlists and subscription counts, decided by
//     the ledger and acted on by every node for its own sockets; Pusher's
//     opt-in limits.
//   - Activity (activity.go): the ping/prune sweep over every open socket.
package server
