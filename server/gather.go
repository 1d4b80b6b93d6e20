package server

import (
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

// Cluster-wide queries (spec §10.3): the metrics requests the HTTP API
// sends every node, and this node's local answers.

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

// metricAnswer is one node's answer to a metrics request; php marks the
// answers of PHP Reverb nodes (they carry no node id), whose presence
// members the replica does not hold.
type metricAnswer struct {
	raw json.RawMessage
	php bool
}

// gathering is one cluster query waiting for its answers.
//
// Lock story: mu guards resp, want and ended (answers come from the
// delivery goroutine, the asker reads them); done is closed once, under
// mu, when ended is set.
type gathering struct {
	mu    sync.Mutex
	resp  []metricAnswer
	want  int
	done  chan struct{}
	ended bool
}

// add records one node's answer; this node's own answer goes first, so
// merged lists follow this node's creation order.
func (g *gathering) add(r metricAnswer, own bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ended {
		return
	}
	if own {
		g.resp = append([]metricAnswer{r}, g.resp...)
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
func (s *Server) gather(ctx context.Context, a *appState, typ string, options any) []metricAnswer {
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
	if s.router != nil {
		// Interest routing: answers come to this node's topic.
		req = append(req, `,"node":`...)
		req = phpjson.AppendString(req, s.nodeID)
	}
	req = append(req, '}')
	n, err := s.send(ctx, s.gatherTopic(a, typ, options), req)
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
	return append([]metricAnswer(nil), g.resp...)
}

func (s *Server) onMetricResponse(env *envelope) {
	s.gatherMu.Lock()
	g := s.gatherings[env.Type]
	s.gatherMu.Unlock()
	if g != nil {
		g.add(metricAnswer{raw: env.Payload, php: env.Node == ""}, env.Node == s.nodeID)
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
	if pm.fromPHP && s.router != nil {
		s.warnEvery(&s.routingWarn.phpAt, 10*time.Minute, "scaling: a PHP Reverb node shares the Redis channel: it is answered, but in the interest routing it receives none of the broadcasts; PHP nodes need the classic routing (unset REVERB_SCALING_ROUTING)")
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
		result = s.localChannels(a, o, pm.fromPHP)
	case "channel":
		result = s.localChannelInfo(a, o.Channel, pm.fromPHP)
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
	if pm.fromPHP {
		s.publish(b)
		return
	}
	s.answer(env.Node, b)
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
// key, so the requester can pick (caller holds a.mu). A presence
// channel's user_count is the cluster-wide one for a Go requester (it
// reads the replica anyway) and this node's own users for a PHP node,
// which adds up the nodes' counts as Reverb's MetricsHandler does.
func appendChannelInfo(b []byte, a *appState, ch *channel, ownUsers bool) []byte {
	n := ch.live
	b = append(b, `{"occupied":`...)
	b = strconv.AppendBool(b, n > 0)
	if ch.kind.Presence() {
		uc := 0
		if ownUsers {
			uc = len(localUserIDs(ch))
		} else if pc := a.presence[ch.name]; pc != nil {
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

func (s *Server) localChannels(a *appState, o metricOptions, ownUsers bool) []byte {
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
		b = appendChannelInfo(b, a, ch, ownUsers)
	}
	return append(b, '}')
}

func (s *Server) localChannelInfo(a *appState, name string, ownUsers bool) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	ch := a.channels[name]
	if ch == nil {
		return []byte(`{"occupied":false}`)
	}
	return appendChannelInfo(nil, a, ch, ownUsers)
}

func (s *Server) localChannelUsers(a *appState, name string) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := []byte{'['}
	if ch := a.channels[name]; ch != nil {
		for _, id := range localUserIDs(ch) {
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

// localUserIDs is the distinct user_ids of ch's subscribers on this node,
// compared as Reverb's unique('user_id') does (caller holds a.mu).
func localUserIDs(ch *channel) []php.Value {
	var ids []php.Value
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
		ids = append(ids, id)
	}
	return ids
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
