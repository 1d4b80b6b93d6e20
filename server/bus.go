package server

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/server/phpjson"
)

// envelope is every message on the transport. Reverb's own types
// (message, metrics, metric responses, terminate) keep Reverb's JSON shape
// (§10.2) so PHP nodes can share a Redis channel with us; the Go-only types
// are prefixed "reverb-go:" and PHP nodes ignore them.
type envelope struct {
	Type        string          `json:"type"`
	Application string          `json:"application,omitempty"`
	Payload     json.RawMessage `json:"payload,omitempty"`
	SocketID    string          `json:"socket_id,omitempty"`

	// Go-only fields.
	//
	// Socket is a presence message's socket id. It must not travel as
	// socket_id: a PHP Reverb node looks any top-level socket_id up among
	// the connections of the message's application, and a Go-only
	// message has none (PHP would throw a TypeError).
	Socket      string          `json:"socket,omitempty"`
	Ref         string          `json:"reverb_go_ref,omitempty"`
	Node        string          `json:"node,omitempty"`
	NodeID      string          `json:"node_id,omitempty"`
	App         string          `json:"app,omitempty"`
	Op          string          `json:"op,omitempty"`
	Channel     string          `json:"channel,omitempty"`
	ChannelData string          `json:"channel_data,omitempty"`
	For         string          `json:"for,omitempty"`
	Entries     []snapshotEntry `json:"entries,omitempty"`
	// Counts are a heartbeat's open sockets per app id (max_connections
	// is enforced over the cluster with these, a heartbeat late).
	Counts map[string]int64 `json:"counts,omitempty"`
}

// snapshotEntry is one presence membership in a node's snapshot.
type snapshotEntry struct {
	App         string `json:"app"`
	Channel     string `json:"channel"`
	SocketID    string `json:"socket_id"`
	ChannelData string `json:"channel_data"`
}

// Go-only message types.
const (
	typePresence  = "reverb-go:presence"
	typeHeartbeat = "reverb-go:heartbeat"
	typeHello     = "reverb-go:hello"
	typeSnapshot  = "reverb-go:snapshot"
	typeNodeGone  = "reverb-go:node_gone"
	typeBarrier   = "reverb-go:barrier"
)

// appToken is what goes where Reverb puts serialize($application): the
// PHP-serialized Laravel\Reverb\Application (phpwire.go), so PHP Reverb
// nodes on the same Redis channel can read our messages.
var appToken = phpApplicationToken

// appIDFromToken reads the app id back from a token: our own (the bare id)
// or a PHP-serialized Laravel\Reverb\Application.
func appIDFromToken(tok string) string {
	if !strings.HasPrefix(tok, "O:") {
		return tok
	}
	const marker = "s:5:\"\x00*\x00id\";s:"
	i := strings.Index(tok, marker)
	if i < 0 {
		return ""
	}
	rest := tok[i+len(marker):]
	j := strings.IndexByte(rest, ':')
	if j < 0 {
		return ""
	}
	n, err := strconv.Atoi(rest[:j])
	if err != nil || n < 0 || len(rest) < j+2+n {
		return ""
	}
	return rest[j+2 : j+2+n]
}

// publish sends msg through the transport; errors are logged.
//
// Messages go out in the order publish was called, from one goroutine that
// exists while there is something to send, so a reader (an epoll poller
// serving many sockets) never waits for a network round trip to the hub or
// Redis. Publishes that need the receiver count or must be waited for
// (metrics, API events, terminate) call the transport directly; barrier
// goes through this queue so it follows everything queued before it.
func (s *Server) publish(msg []byte) {
	s.pubMu.Lock()
	s.pubQ = append(s.pubQ, msg)
	if s.pubRunning {
		s.pubMu.Unlock()
		return
	}
	s.pubRunning = true
	s.pubMu.Unlock()
	if !s.spawn(s.publishLoop) {
		s.publishLoop() // after Close: send inline, still in order
	}
}

// publishLoop sends the queue in order and returns when it is empty.
func (s *Server) publishLoop() {
	for {
		s.pubMu.Lock()
		q := s.pubQ
		s.pubQ = nil
		if len(q) == 0 {
			s.pubRunning = false
			s.pubMu.Unlock()
			return
		}
		s.pubMu.Unlock()
		for _, m := range q {
			if _, err := s.transport.Publish(context.Background(), m); err != nil {
				s.busErrors.Add(1)
				s.logError("cluster publish: " + err.Error())
			}
		}
	}
}

func presenceMsg(node, app, op, channel, socket, channelData string) []byte {
	b, _ := json.Marshal(envelope{Type: typePresence, Node: node, App: app, Op: op, Channel: channel, Socket: socket, ChannelData: channelData})
	return b
}

// publishPresence announces a presence join or leave of a local socket.
func (s *Server) publishPresence(c *conn, op, channel, channelData string) {
	s.publish(presenceMsg(s.nodeID, c.app.cfg.ID, op, channel, c.id, channelData))
}

// messageMsg builds a §10.2 "message" around an already PHP-JSON payload.
func messageMsg(app *appState, payload []byte, socketID string) []byte {
	b := make([]byte, 0, 64+len(payload))
	b = append(b, `{"type":"message","application":`...)
	b = phpjson.AppendString(b, appToken(app))
	b = append(b, `,"payload":`...)
	b = append(b, payload...)
	if socketID != "" {
		b = append(b, `,"socket_id":`...)
		b = phpjson.AppendString(b, socketID)
	}
	return append(b, '}')
}

// deliver is the transport's callback: one message at a time, in order.
func (s *Server) deliver(msg []byte) {
	var env envelope
	if err := json.Unmarshal(msg, &env); err != nil {
		s.logError("cluster: undecodable message: " + err.Error())
		return
	}
	if s.noteNode(env.Node) {
		s.askSnapshot(env.Node) // new, or back after being forgotten (rejoin.go)
	}
	switch env.Type {
	case "message":
		s.onMessage(&env)
	case "metrics":
		s.onMetricsRequest(&env)
	case "terminate":
		s.onTerminate(&env)
	case typePresence:
		env.SocketID = env.Socket
		s.onPresence(&env)
	case typeHeartbeat:
		s.noteCounts(env.Node, env.Counts)
	case typeHello:
		s.onHello(&env)
	case typeSnapshot:
		s.onSnapshot(&env)
	case typeNodeGone:
		if env.NodeID == s.nodeID {
			if s.draining.Load() {
				// Our own end-of-drain notice: our replica forgets our
				// drained members like every other node does.
				s.dropNodePresenceAll(s.nodeID)
			}
			break
		}
		s.forgetNode(env.NodeID)
	case typeBarrier:
		if env.Node == s.nodeID {
			s.runInOrder(env.Ref)
			s.release(env.Ref)
		}
	default:
		s.onMetricResponse(&env)
	}
}

// eventPayload is the payload of a "message".
type eventPayload struct {
	Event    json.RawMessage `json:"event"`
	Channel  *string         `json:"channel"`
	Channels []string        `json:"channels"`
	Data     json.RawMessage `json:"data"`
}

// onMessage delivers a broadcast to this node's subscribers: encoded once
// per channel, the same frame bytes queued on every subscriber.
func (s *Server) onMessage(env *envelope) {
	a := s.appByID(appIDFromToken(env.Application))
	if a == nil {
		return
	}
	var p eventPayload
	if err := json.Unmarshal(env.Payload, &p); err != nil {
		s.logError("cluster: bad message payload: " + err.Error())
		return
	}
	if p.Channels == nil && p.Channel != nil {
		// Client events and batch items: the payload is the frame text.
		s.broadcast(a, *p.Channel, bytes.TrimSpace(env.Payload), env.SocketID)
		return
	}
	for _, name := range p.Channels {
		b := make([]byte, 0, 32+len(p.Event)+len(p.Data)+len(name))
		b = append(b, `{"event":`...)
		b = appendPHPRaw(b, p.Event)
		b = append(b, `,"data":`...)
		b = appendPHPRaw(b, p.Data)
		b = append(b, `,"channel":`...)
		b = phpjson.AppendString(b, name)
		b = append(b, '}')
		s.broadcast(a, name, b, env.SocketID)
	}
}

// appendPHPRaw re-encodes a JSON string with PHP's escapes, and copies any
// other JSON value as it is.
func appendPHPRaw(b []byte, raw json.RawMessage) []byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	if raw[0] == '"' {
		var str string
		if json.Unmarshal(raw, &str) == nil {
			return phpjson.AppendString(b, str)
		}
	}
	return append(b, raw...)
}

// broadcast sends text to the local subscribers of one channel, except the
// socket named by except; cache channels remember it.
func (s *Server) broadcast(a *appState, name string, text []byte, except string) {
	a.mu.Lock()
	ch := a.channels[name]
	if ch == nil {
		a.mu.Unlock()
		return
	}
	var ex *conn
	if except != "" {
		ex = a.conns[except]
	}
	if ch.kind.Cache() {
		ch.cache = text
	}
	subs := ch.subscribers()
	a.mu.Unlock()
	if s.debug != nil {
		s.debugInfo("Broadcasting To", name)
		s.debugMessage(text)
	}
	s.fanout(a, name, subs, textFrame(text), ex)
}

// fanout queues one shared frame on every subscriber but except.
func (s *Server) fanout(a *appState, _ string, subs []*sub, frame []byte, except *conn) {
	// Enqueueing is cheap (the flushers make the syscalls, in parallel),
	// so one loop serves even 10,000 subscribers.
	n := enqueueAll(subs, frame, except)
	a.stats.MessagesOut.Add(int64(n))
	a.stats.TextFramesOut.Add(int64(n))
}

func enqueueAll(subs []*sub, frame []byte, except *conn) int {
	n := 0
	for _, sb := range subs {
		if sb.c == except || sb.dead.Load() {
			continue
		}
		if sb.c.enqueue(frame) {
			n++
		}
	}
	return n
}

// ---- terminate ----

func (s *Server) onTerminate(env *envelope) {
	a := s.appByID(appIDFromToken(env.Application))
	if a != nil {
		var p struct {
			UserID json.RawMessage `json:"user_id"`
		}
		_ = json.Unmarshal(env.Payload, &p)
		var uid string
		if json.Unmarshal(p.UserID, &uid) != nil {
			uid = strings.Trim(string(p.UserID), `"`)
		}
		s.terminateLocal(a, uid)
	}
	s.release(env.Ref)
}

// release wakes whoever waits for the delivery of the message ref.
func (s *Server) release(ref string) {
	if ref == "" {
		return
	}
	s.waitersMu.Lock()
	ch := s.waiters[ref]
	delete(s.waiters, ref)
	s.waitersMu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// await registers a waiter for the delivery of a message carrying ref.
func (s *Server) await() (string, chan struct{}) {
	ref := randomKey()
	done := make(chan struct{})
	s.waitersMu.Lock()
	s.waiters[ref] = done
	s.waitersMu.Unlock()
	return ref, done
}

func (s *Server) forget(ref string) {
	s.waitersMu.Lock()
	delete(s.inOrderFns, ref)
	delete(s.waiters, ref)
	s.waitersMu.Unlock()
}

// barrier returns once everything this node published before it has been
// delivered back to this node (the transport's order is total).
func (s *Server) barrier(ctx context.Context) error {
	ref, done := s.await()
	msg, _ := json.Marshal(envelope{Type: typeBarrier, Node: s.nodeID, Ref: ref})
	s.publish(msg)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.forget(ref)
		return ctx.Err()
	}
}

// inOrder runs fn on the delivery goroutine when a marker published now
// comes back: at that point of the cluster's one order, so everything
// ordered before the marker has been delivered here and nothing ordered
// after it has. It returns once fn ran, or with ctx's error (fn may then
// still run later, so it must be idempotent).
func (s *Server) inOrder(ctx context.Context, fn func()) error {
	ref, done := s.await()
	s.waitersMu.Lock()
	s.inOrderFns[ref] = fn
	s.waitersMu.Unlock()
	msg, _ := json.Marshal(envelope{Type: typeBarrier, Node: s.nodeID, Ref: ref})
	s.publish(msg)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.forget(ref)
		return ctx.Err()
	}
}

func (s *Server) runInOrder(ref string) {
	s.waitersMu.Lock()
	fn := s.inOrderFns[ref]
	delete(s.inOrderFns, ref)
	s.waitersMu.Unlock()
	if fn != nil {
		fn()
	}
}

// terminateLocal closes every local socket of a with a membership whose
// user id, as a string, is uid (any membership; ones without a user id are
// skipped — compatibility decision).
func (s *Server) terminateLocal(a *appState, uid string) {
	var victims []*conn
	a.mu.Lock()
	for _, c := range a.conns {
		for _, sb := range c.subs {
			if id, ok := field(sb.data, "user_id"); ok && id.Kind() != php.Null && phpString(id) == uid {
				victims = append(victims, c)
				break
			}
		}
	}
	a.mu.Unlock()
	for _, c := range victims {
		c.closeNow(4009, "Connection terminated", false)
	}
}

// ---- node liveness ----

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
		hb, _ := json.Marshal(envelope{Type: typeHeartbeat, Node: s.nodeID, Counts: counts})
		s.publish(hb)
		deadline := time.Now().Add(-3 * period).UnixNano()
		var silent []string
		s.nodesMu.Lock()
		for n, seen := range s.nodes {
			if seen < deadline {
				silent = append(silent, n)
			}
		}
		s.nodesMu.Unlock()
		for _, n := range silent {
			s.forgetNode(n)
		}
	}
}

// ---- snapshots for nodes joining late ----

// onHello answers a new node with this node's own presence memberships as
// the replica holds them at this point of the order.
func (s *Server) onHello(env *envelope) {
	if env.Node == s.nodeID {
		s.snapMu.Lock()
		s.helloSeen = true
		s.snapMu.Unlock()
		return
	}
	if env.For != "" && env.For != s.nodeID {
		return // a hello addressed to another node (rejoin.go)
	}
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
	b, _ := json.Marshal(envelope{Type: typeSnapshot, Node: s.nodeID, For: env.Node, Entries: entries})
	s.publish(b)
}

// onSnapshot applies another node's memberships as of our hello: the
// snapshot is the state at the hello, and the joins and leaves that node
// published after the hello were applied already; so snapshot entries are
// added only when not already known and not left since.
func (s *Server) onSnapshot(env *envelope) {
	if env.For != s.nodeID {
		return
	}
	for _, e := range env.Entries {
		a := s.appByID(e.App)
		if a == nil {
			continue
		}
		key := env.Node + "\x00" + e.App + "\x00" + e.Channel + "\x00" + e.SocketID
		s.snapMu.Lock()
		left := s.leftSinceHello[key]
		s.snapMu.Unlock()
		if left {
			continue
		}
		a.mu.Lock()
		pc := a.presence[e.Channel]
		if pc == nil {
			pc = &presenceChannel{}
			a.presence[e.Channel] = pc
		}
		var added []byte
		var subs []*sub
		if pc.find(env.Node, e.SocketID) < 0 {
			data := php.ArrayValue(php.NewArray())
			if d, err := phpjson.Decode([]byte(e.ChannelData)); err == nil && d.Kind() == php.Array {
				data = d
			}
			// A user new to this node's view (a late joiner's first
			// snapshot, or a node back after a partition) is announced to
			// the local subscribers.
			if added = pc.join(env.Node, e.SocketID, e.Channel, data); added != nil {
				if ch := a.channels[e.Channel]; ch != nil {
					subs = ch.subscribers()
				}
			}
		}
		a.mu.Unlock()
		if len(subs) > 0 {
			s.fanout(a, e.Channel, subs, textFrame(added), nil)
		}
	}
}

// ---- metrics gathering (§10.3) ----

// pendingMetric is what goes in a metrics request's payload string. Behind
// two functions so the PHP-serialized PendingMetric can replace it.
type pendingMetric struct {
	Key     string          `json:"key"`
	App     string          `json:"app"`
	Type    string          `json:"type"`
	Options json.RawMessage `json:"options"`
	// cfg is the requesting app's config (the serialized form embeds the
	// whole Application); nil after decoding.
	cfg *laravelcfg.App
	// fromPHP: the request came from a PHP Reverb node, which gets
	// Reverb's exact answer shape (reverbShape, phpwire.go).
	fromPHP bool
}

// The PHP-serialized PendingMetric (phpwire.go).
var (
	encodePendingMetric = phpEncodePendingMetric
	decodePendingMetric = phpDecodePendingMetric
)

type gathering struct {
	mu    sync.Mutex
	resp  []json.RawMessage
	want  int
	done  chan struct{}
	ended bool
}

// add records one node's answer; this node's own answer goes first, so
// merged lists follow this node's creation order.
func (g *gathering) add(r json.RawMessage, own bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ended {
		return
	}
	if own {
		g.resp = append([]json.RawMessage{r}, g.resp...)
	} else {
		g.resp = append(g.resp, r)
	}
	if g.want > 0 && len(g.resp) >= g.want {
		g.ended = true
		close(g.done)
	}
}

func (g *gathering) setWant(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.want = n
	if !g.ended && len(g.resp) >= n {
		g.ended = true
		close(g.done)
	}
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomKey() string {
	b := make([]byte, 10)
	for i := range b {
		b[i] = alnum[rand.IntN(len(alnum))]
	}
	return string(b)
}

// gather asks every node for a metric and returns their answers, as soon
// as every node that received the request answered, or after the timeout
// with what arrived (a dead node must not hang the API).
func (s *Server) gather(ctx context.Context, a *appState, typ string, options any) []json.RawMessage {
	key := randomKey()
	opts, _ := json.Marshal(options)
	g := &gathering{done: make(chan struct{})}
	s.gatherMu.Lock()
	s.gatherings[key] = g
	s.gatherMu.Unlock()
	defer func() {
		s.gatherMu.Lock()
		delete(s.gatherings, key)
		s.gatherMu.Unlock()
	}()
	req := make([]byte, 0, 128)
	req = append(req, `{"type":"metrics","payload":`...)
	req = phpjson.AppendString(req, encodePendingMetric(pendingMetric{Key: key, App: a.cfg.ID, Type: typ, Options: opts, cfg: a.cfg}))
	req = append(req, '}')
	n, err := s.transport.Publish(ctx, req)
	if err != nil {
		s.logError("cluster publish: " + err.Error())
		n = 1
	}
	g.setWant(n)
	t := time.NewTimer(s.opts.GatherTimeout)
	defer t.Stop()
	select {
	case <-g.done:
	case <-t.C:
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ended = true
	return append([]json.RawMessage(nil), g.resp...)
}

func (s *Server) onMetricResponse(env *envelope) {
	s.gatherMu.Lock()
	g := s.gatherings[env.Type]
	s.gatherMu.Unlock()
	if g != nil {
		g.add(env.Payload, env.Node == s.nodeID)
	}
}

// metricOptions is the union of the options of every metric type.
type metricOptions struct {
	Channel  string   `json:"channel,omitempty"`
	Channels []string `json:"channels,omitempty"`
	Filter   *string  `json:"filter,omitempty"`
	Info     string   `json:"info,omitempty"`
}

// onMetricsRequest answers a metrics request with this node's numbers.
func (s *Server) onMetricsRequest(env *envelope) {
	var str string
	if json.Unmarshal(env.Payload, &str) != nil {
		return
	}
	pm, ok := decodePendingMetric(str)
	if !ok {
		return
	}
	a := s.appByID(pm.App)
	if a == nil {
		return
	}
	var o metricOptions
	_ = json.Unmarshal(pm.Options, &o)
	var result []byte
	switch pm.Type {
	case "connections":
		result = s.localConnections(a)
	case "channels":
		result = s.localChannels(a, o)
	case "channel":
		result = s.localChannelInfo(a, o.Channel)
	case "channel_users":
		result = s.localChannelUsers(a, o.Channel)
	default:
		return
	}
	result = reverbShape(pm, result)
	b := make([]byte, 0, 32+len(result))
	b = append(b, `{"type":`...)
	b = phpjson.AppendString(b, pm.Key)
	b = append(b, `,"payload":`...)
	b = append(b, result...)
	if !pm.fromPHP {
		// Go requesters put their own node's answer first.
		b = append(b, `,"node":`...)
		b = phpjson.AppendString(b, s.nodeID)
	}
	b = append(b, '}')
	s.publish(b)
}

func (s *Server) localConnections(a *appState) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.conns) == 0 {
		return []byte("[]")
	}
	b := make([]byte, 0, 8+len(a.conns)*28)
	b = append(b, '{')
	first := true
	for id := range a.conns {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = phpjson.AppendString(b, id)
		b = append(b, ":{}"...)
	}
	return append(b, '}')
}

// appendChannelInfo writes this node's full info object for ch: every
// key, so the requester can pick (caller holds a.mu).
func appendChannelInfo(b []byte, a *appState, ch *channel) []byte {
	n := ch.live
	b = append(b, `{"occupied":`...)
	b = strconv.AppendBool(b, n > 0)
	if ch.kind.Presence() {
		uc := 0
		if pc := a.presence[ch.name]; pc != nil {
			uc = pc.userCount()
		}
		b = append(b, `,"user_count":`...)
		b = strconv.AppendInt(b, int64(uc), 10)
	}
	b = append(b, `,"subscription_count":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	if ch.kind.Cache() && ch.cache != nil {
		b = append(b, `,"cache":`...)
		b = append(b, ch.cache...)
	}
	return append(b, '}')
}

func (s *Server) localChannels(a *appState, o metricOptions) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	var list []*channel
	if o.Channels != nil {
		for _, name := range o.Channels {
			if ch := a.channels[name]; ch != nil {
				list = append(list, ch)
			}
		}
	} else {
		for _, ch := range a.sortedChannels() {
			if ch.live == 0 {
				continue
			}
			if o.Filter != nil && !strings.HasPrefix(ch.name, *o.Filter) {
				continue
			}
			list = append(list, ch)
		}
	}
	if len(list) == 0 {
		return []byte("[]")
	}
	b := []byte{'{'}
	for i, ch := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = phpjson.AppendString(b, ch.name)
		b = append(b, ':')
		b = appendChannelInfo(b, a, ch)
	}
	return append(b, '}')
}

func (s *Server) localChannelInfo(a *appState, name string) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	ch := a.channels[name]
	if ch == nil {
		return []byte(`{"occupied":false}`)
	}
	return appendChannelInfo(nil, a, ch)
}

func (s *Server) localChannelUsers(a *appState, name string) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	ch := a.channels[name]
	b := []byte{'['}
	if ch != nil {
		seen := map[string]bool{}
		for _, sb := range ch.liveSubs() {
			id, ok := field(sb.data, "user_id")
			if !ok {
				continue
			}
			k := looseKey(id)
			if seen[k] {
				continue
			}
			seen[k] = true
			if len(b) > 1 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = phpjson.Append(b, id)
			b = append(b, '}')
		}
	}
	return append(b, ']')
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
	hb, _ := json.Marshal(envelope{Type: typeHeartbeat, Node: s.nodeID, Counts: map[string]int64{a.cfg.ID: a.open.Load()}})
	s.publish(hb)
}

// hasPeers reports whether other nodes have been heard of.
func (s *Server) hasPeers() bool {
	s.nodesMu.Lock()
	defer s.nodesMu.Unlock()
	return len(s.nodes) > 0
}

// clusterCache asks the other nodes for the cached message of a cache
// channel this node has no subscribers of (the cache lives on the nodes
// with subscribers). It must not run on the delivery goroutine.
func (s *Server) clusterCache(a *appState, name string) []byte {
	if !s.hasPeers() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.GatherTimeout)
	defer cancel()
	infos, err := backend{s}.Channel(ctx, a.cfg, []string{name})
	if err != nil || len(infos) == 0 || infos[0].Cache == nil {
		return nil
	}
	return infos[0].Cache
}
