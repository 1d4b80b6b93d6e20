package server

// The interest-routed mode (scaling.routing = interest, a fleet of this
// server only). The transport is then a cluster.Router: the control stream
// every node receives carries what needs one order or every node
// (presence, the ledger, heartbeats, hellos, terminate, cluster-wide
// queries); each app channel has its own topic, which carries that
// channel's broadcasts and client events to the nodes that subscribed to
// it; each node has a topic for the answers addressed to it.
//
// A node wants a channel's topic while it holds the channel: from the
// first subscription that passed its checks (a presence join from when it
// is published, so the topic's subscription overlaps the join's round
// trip) to the last unsubscribe; the transport keeps the subscription a
// while longer. A refused subscription (bad signature, full presence
// channel) takes no interest, though the channel exists, empty, until the
// next cleanup, as in Reverb. A subscriber is acknowledged
// (subscription_succeeded) only once the topic is live — every message
// published to it from then on reaches this node — so nothing published
// after the acknowledgement is missed. Until then the subscriber is held:
// it counts as a subscriber, but broadcasts skip it, and it gets its
// subscription_succeeded (for presence with the members as of that
// moment) and, on a cache channel, the last event, on the delivery
// goroutine once the topic is live and the cache known. docs/architecture.md
// (Interest routing) says which order each feature needs and how it gets it.

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reverb-go/reverb/server/cluster"
)

// Topic names: "c:<len(app)>:<app>:<channel>" for a channel (the length
// makes any app id unambiguous), "n:<node>" for a node's answers.

func channelTopic(appID, channel string) string {
	return "c:" + strconv.Itoa(len(appID)) + ":" + appID + ":" + channel
}

func nodeTopic(node string) string { return "n:" + node }

// parseChannelTopic is channelTopic backwards.
func parseChannelTopic(t string) (appID, channel string, ok bool) {
	rest, ok := strings.CutPrefix(t, "c:")
	if !ok {
		return "", "", false
	}
	num, rest, ok := strings.Cut(rest, ":")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 0 || len(rest) < n+1 || rest[n] != ':' {
		return "", "", false
	}
	return rest[:n], rest[n+1:], true
}

// routingInterest is the heartbeat's routing field in the interest mode.
const routingInterest = "interest"

// Go-only message types of the interest mode.
const (
	// typeCacheFill carries a cache channel's last event, fetched from the
	// nodes with subscribers, back onto this node's delivery goroutine.
	typeCacheFill = "reverb-go:cache_fill"
)

// routing is this node's heartbeat routing field.
func (s *Server) routing() string {
	if s.router != nil {
		return routingInterest
	}
	return ""
}

// setupRouting adopts the transport as a router when it is one (in New,
// before Start).
func (s *Server) setupRouting() {
	r, ok := s.transport.(cluster.Router)
	if !ok {
		return
	}
	s.router = r
	r.OnLive(s.onTopicLive)
	// Answers addressed to this node (cluster-wide queries).
	r.Want(nodeTopic(s.nodeID))
}

// want is a subscription's side of the routing, once it passed its
// checks: the channel (the current one, a.channels[ch.name]) wants its
// topic. Caller holds a.mu.
func (a *appState) want(ch *channel) {
	if a.router == nil || ch.wanted {
		return
	}
	ch.wanted = true
	ch.routed = a.router.Want(channelTopic(a.cfg.ID, ch.name))
}

// unwant is deleteChannel's side, and a refused presence join's when the
// channel is left without subscribers. Caller holds a.mu.
func (a *appState) unwant(ch *channel) {
	if !ch.wanted {
		return
	}
	ch.wanted, ch.routed = false, false
	a.router.Unwant(channelTopic(a.cfg.ID, ch.name))
}

// cacheDecided reports whether a new subscriber's cache frame (the last
// event, or cache_miss) is known here. Caller holds a.mu.
func (ch *channel) cacheDecided() bool {
	return !ch.kind.Cache() || ch.cache != nil || ch.cacheKnown
}

// holdSub holds c's new subscription of ch until the topic is live and
// the cache known, and reports whether it did; false means the caller
// acknowledges it now. Caller holds a.mu, right after addSub.
func (s *Server) holdSub(a *appState, ch *channel, c *conn) bool {
	if s.router == nil || ch.routed && ch.cacheDecided() {
		return false
	}
	sb := c.subOf(ch)
	if sb == nil {
		return false
	}
	sb.pending.Store(true)
	sb.acks = 1
	sb.countsSeen = ch.counts
	ch.held++
	s.completeHeld(a, ch)
	return true
}

// completeHeld acknowledges the held subscribers of ch when its topic is
// live and its cache known; with the topic live and the cache unknown it
// asks the nodes with subscribers for it first. It runs on the delivery
// goroutine (or on a reader, for a subscription it holds itself), so an
// acknowledgement never races a broadcast of the same channel: a held
// subscriber gets everything delivered after its subscription_succeeded.
// Caller holds a.mu.
func (s *Server) completeHeld(a *appState, ch *channel) {
	if ch.held == 0 || !ch.routed {
		return
	}
	if !ch.cacheDecided() {
		if !ch.cacheAsked {
			ch.cacheAsked = true
			name := ch.name
			s.spawn(func() { s.fetchCache(a, name) })
		}
		return
	}
	data := a.heldAnswerData(ch)
	for _, sb := range ch.subscribers() {
		if !sb.pending.Load() || sb.dead.Load() || sb.fenced {
			continue
		}
		for range answerHeld(sb, data) {
			sb.c.reportCacheMiss(ch.name)
		}
	}
	ch.held = 0
}

// onTopicLive is the router's notice that a wanted topic is live: its
// channel's held subscribers can be acknowledged. Delivery goroutine.
func (s *Server) onTopicLive(topic string) {
	appID, name, ok := parseChannelTopic(topic)
	if !ok {
		return
	}
	a := s.appByID(appID)
	if a == nil {
		return
	}
	a.mu.Lock()
	if ch := a.channels[name]; ch != nil && ch.wanted {
		ch.routed = true
		s.completeHeld(a, ch)
	}
	a.mu.Unlock()
}

// fetchCache asks the nodes with subscribers of a cache channel for its
// last event (the request travels on the channel's topic, so each answer
// is that node's cache at the request's point of the topic's order; what
// is published later reaches this node, already subscribed) and hands the
// answer to the delivery goroutine. Its own goroutine.
func (s *Server) fetchCache(a *appState, name string) {
	cache := s.clusterCache(a, name)
	b, _ := json.Marshal(envelope{Type: typeCacheFill, Node: s.nodeID, App: a.cfg.ID, Channel: name, Cache: string(cache)})
	s.router.Inject(b)
}

// onCacheFill applies a fetched cache (unless an event arrived meanwhile:
// it is newer) and acknowledges the held subscribers. Delivery goroutine.
func (s *Server) onCacheFill(env *envelope) {
	if env.Node != s.nodeID {
		return
	}
	a := s.appByID(env.App)
	if a == nil {
		return
	}
	a.mu.Lock()
	if ch := a.channels[env.Channel]; ch != nil {
		ch.cacheAsked = false
		if ch.cache == nil && !ch.cacheKnown && env.Cache != "" {
			ch.cache = []byte(env.Cache)
		}
		ch.cacheKnown = true
		s.completeHeld(a, ch)
	}
	a.mu.Unlock()
}

// gatherTopic is where a cluster-wide query goes: a query about one
// channel to that channel's topic (only nodes subscribed to it answer:
// every node with subscribers is), anything else to the control stream.
func (s *Server) gatherTopic(a *appState, typ string, options any) string {
	if s.router == nil || typ != "channels" {
		return ""
	}
	if o, ok := options.(metricOptions); ok && len(o.Channels) == 1 {
		return channelTopic(a.cfg.ID, o.Channels[0])
	}
	return ""
}

// answer sends a query's answer to the node that asked: to its topic in
// the interest mode (straight back onto the delivery goroutine when it is
// this node), on the control stream otherwise (and always to PHP nodes).
func (s *Server) answer(to string, b []byte) {
	switch {
	case s.router == nil || to == "":
		s.publish(b)
	case to == s.nodeID:
		s.router.Inject(b)
	default:
		s.publishTo(nodeTopic(to), b)
	}
}

// orderTopics are the topics whose order matters when conns are closed
// at a point of the bus order (drain, terminate): the live topics of their
// channels, when the streams do not share one order (Redis Cluster).
func (s *Server) orderTopics(conns []*conn) []string {
	if s.router == nil || s.router.Ordered() {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, c := range conns {
		a := c.app
		a.mu.Lock()
		for _, sb := range c.subs {
			if !sb.ch.routed {
				continue
			}
			if t := channelTopic(a.cfg.ID, sb.ch.name); !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
		a.mu.Unlock()
	}
	return out
}

// routingWarnings says once per node that a peer routes differently, and
// every ten minutes that subscribers of the control channel are not nodes
// of this server (PHP Reverb). Lock story: atomics only.
type routingWarnings struct {
	seen      sync.Map     // node id → true: told about it
	foreignAt atomic.Int64 // unix ns of the last foreign-subscriber line
	// foreignSeen counts heartbeats in a row that found foreign subscribers.
	foreignSeen atomic.Int32
	phpAt       atomic.Int64 // unix ns of the last PHP-request line
}

// noteRouting compares a peer's heartbeat with this node's mode.
func (s *Server) noteRouting(env *envelope) {
	if env.Node == "" || env.Node == s.nodeID {
		return
	}
	mine := s.router != nil
	theirs := env.Routing == routingInterest
	if mine == theirs {
		return
	}
	if _, told := s.routingWarn.seen.LoadOrStore(env.Node, true); told {
		return
	}
	if mine {
		s.logError("scaling: node " + env.Node + " uses the classic routing (every node receives every message) and this node the interest routing: broadcasts published on this node never reach that node's subscribers; set REVERB_SCALING_ROUTING alike on every node")
	} else {
		s.logError("scaling: node " + env.Node + " uses the interest routing and this node the classic one: broadcasts published on that node never reach this node's subscribers; set REVERB_SCALING_ROUTING alike on every node")
	}
}

// warnEvery logs msg at most once per period, keyed by the given clock.
func (s *Server) warnEvery(at *atomic.Int64, period time.Duration, msg string) {
	now := time.Now().UnixNano()
	last := at.Load()
	if last != 0 && now-last < int64(period) || !at.CompareAndSwap(last, now) {
		return
	}
	s.logError(msg)
}

// checkForeignSubscribers compares the subscribers of the control channel
// (the last control publish's receivers) with the nodes heard from: more
// subscribers than nodes are listeners that never send heartbeats — PHP
// Reverb nodes, which receive none of the broadcasts in this mode.
func (s *Server) checkForeignSubscribers(known int) {
	if s.router == nil {
		return
	}
	recv := int(s.controlReceivers.Load())
	extra := recv - (known + 1)
	if extra <= 0 || s.started.After(time.Now().Add(-3*s.opts.HeartbeatInterval)) {
		s.routingWarn.foreignSeen.Store(0)
		return
	}
	// Twice in a row: a node that just subscribed is heard from at once.
	if s.routingWarn.foreignSeen.Add(1) >= 2 {
		s.warnEvery(&s.routingWarn.foreignAt, 10*time.Minute, "scaling: "+strconv.Itoa(extra)+
			" subscriber(s) of the Redis channel are not nodes of this server (PHP Reverb nodes?): in the interest routing broadcasts travel on per-channel Redis channels they never read; PHP nodes need the classic routing (unset REVERB_SCALING_ROUTING)")
	}
}
