package redis

// The interest-routed mode (scaling.routing = interest): besides the
// control channel every node subscribes to (scaling.channel, as in the
// classic mode), each topic the server wants — one per app channel with
// subscribers on this node, one for the answers addressed to this node —
// is a Redis channel of its own:
//
//	<scaling.channel>:{<partition>}:<topic>
//
// The partition (a hash of the topic, 0–255) is a hash tag: on Redis
// Cluster all topics of a partition share a slot, so one SSUBSCRIBE
// covers many of them and each partition lives on one master. On one
// server and on Sentinel the topics share the subscriber's connection
// with the control channel (SUBSCRIBE/PUBLISH): every message reaches a
// node in the one order of that server, topics and control alike. On
// Cluster they are shard channels (SSUBSCRIBE/SPUBLISH), subscribed over
// one connection per master (shards.go): a message stays on its master
// and its replicas instead of being broadcast over the cluster bus, and
// topics on different masters have no common order.
//
// Each topic's subscription is a small state machine: the commands sent
// on its connection and not yet confirmed (ops), whether Redis confirmed
// the subscription (subscribed), and the Want count. A topic becomes live
// when Redis confirms its SUBSCRIBE: from then on every message published
// to it reaches this node, and the live notice goes through the delivery
// inbox ahead of them. A topic nobody wants any more is kept subscribed
// for Linger (hysteresis), then unsubscribed and forgotten. One goroutine,
// the manager, sends the commands after the connections' first ones; a
// connection that breaks resets its topics, and its next connection
// subscribes them again before anything else.

import (
	"context"
	"hash/fnv"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// partitions is the number of hash-tag partitions of the topics.
const partitions = 256

// topic is one wanted (or lingering) topic. Guarded by Transport.mu.
type topic struct {
	key, name string
	part      int
	wants     int
	// idleSince is when wants dropped to zero (zero while wanted).
	idleSince time.Time
	// wantSince is when wants rose from zero: the live notice is given at
	// the latest LiveWait later.
	wantSince time.Time
	announced bool
	// link is the shard connection the topic is subscribed on (Cluster);
	// nil otherwise, or while unassigned.
	link *shardLink
	// ops are the commands sent on the topic's current connection and not
	// confirmed yet, in order: 'S' subscribe, 'U' unsubscribe.
	ops []byte
	// subscribed: Redis confirmed the subscription on the current
	// connection.
	subscribed bool
}

func hasOp(ops []byte, op byte) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

func lastOp(ops []byte) byte {
	if len(ops) == 0 {
		return 0
	}
	return ops[len(ops)-1]
}

// live reports whether every message published to tp now reaches this
// node.
func (tp *topic) live() bool { return tp.subscribed && !hasOp(tp.ops, 'U') }

// Router is the cluster.Router of the interest-routed mode over Redis:
// the Transport, with topics.
type Router struct{ *Transport }

// NewRouter checks the settings like New; Start connects.
func NewRouter(opts Options) (*Router, error) {
	t, err := New(opts)
	if err != nil {
		return nil, err
	}
	t.routing = true
	t.sharded = t.opts.Redis.Mode == clusterMode
	t.topics = map[string]*topic{}
	t.byName = map[string]*topic{}
	t.links = map[string]*shardLink{}
	t.dirty = map[*topic]struct{}{}
	t.idle = map[*topic]struct{}{}
	t.waiting = map[*topic]struct{}{}
	t.kickMgr = make(chan struct{}, 1)
	if t.sharded {
		t.kickVer = make(chan error, 1)
		t.oldSeen = map[string]bool{}
	}
	return &Router{t}, nil
}

// OnLive installs the live notice callback (before Start).
func (r *Router) OnLive(live func(topic string)) {
	r.mu.Lock()
	r.onLive = live
	r.mu.Unlock()
}

// Ordered is true on one server and Sentinel (one subscriber connection
// per node), false on Cluster.
func (r *Router) Ordered() bool { return !r.sharded }

// PublishTo publishes msg on topic's Redis channel.
func (r *Router) PublishTo(ctx context.Context, topic string, msg []byte) (int, error) {
	return r.publishOn(ctx, r.nameOf(topic), msg)
}

// Inject queues msg for this node's own delivery.
func (r *Router) Inject(msg []byte) {
	r.mu.Lock()
	if !r.closed {
		r.takeLocked(msg)
	}
	r.mu.Unlock()
}

// Want subscribes to topic (see cluster.Router).
func (r *Router) Want(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	tp := r.topics[key]
	if tp == nil {
		name, part := r.nameAndPart(key)
		tp = &topic{key: key, name: name, part: part}
		r.topics[key] = tp
		r.byName[name] = tp
	}
	tp.wants++
	if tp.wants > 1 {
		return tp.announced
	}
	delete(r.idle, tp)
	tp.idleSince = time.Time{}
	if tp.live() {
		tp.announced = true
		return true
	}
	tp.announced = false
	tp.wantSince = time.Now()
	r.waiting[tp] = struct{}{}
	r.markDirtyLocked(tp)
	return false
}

// Unwant withdraws one Want; the subscription lingers (Options.Linger).
func (r *Router) Unwant(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tp := r.topics[key]
	if tp == nil || tp.wants == 0 {
		return
	}
	tp.wants--
	if tp.wants > 0 {
		return
	}
	delete(r.waiting, tp)
	tp.idleSince = time.Now()
	r.idle[tp] = struct{}{}
	if r.opts.Linger <= 0 {
		r.markDirtyLocked(tp)
	}
}

// nameOf is topic's Redis channel.
func (t *Transport) nameOf(key string) string {
	name, _ := t.nameAndPart(key)
	return name
}

func (t *Transport) nameAndPart(key string) (string, int) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	p := int(h.Sum32() % partitions)
	return t.opts.Channel + ":{" + strconv.Itoa(p) + "}:" + key, p
}

// wantedLocked reports whether this node wants the topic of a Redis
// channel (its message is delivered here at once while Redis is away).
func (t *Transport) wantedLocked(name string) bool {
	tp := t.byName[name]
	return tp != nil && tp.wants > 0
}

// liveNameLocked reports whether a topic's subscription is live (a copy
// of what this node publishes on it comes back).
func (t *Transport) liveNameLocked(name string) bool {
	tp := t.byName[name]
	return tp != nil && tp.live()
}

func (t *Transport) markDirtyLocked(tp *topic) {
	t.dirty[tp] = struct{}{}
	select {
	case t.kickMgr <- struct{}{}:
	default:
	}
}

// announceLocked queues tp's live notice behind what the inbox holds.
func (t *Transport) announceLocked(tp *topic) {
	tp.announced = true
	delete(t.waiting, tp)
	if t.onLive == nil {
		return
	}
	t.inbox = append(t.inbox, inItem{live: tp.key})
	t.cond.Broadcast()
}

// desired reports whether tp should be subscribed: wanted, or lingering.
func (t *Transport) desired(tp *topic, now time.Time) bool {
	return tp.wants > 0 || !tp.idleSince.IsZero() && now.Sub(tp.idleSince) < t.opts.Linger
}

// forgetLocked drops a topic nobody wants and nothing is subscribed to.
func (t *Transport) forgetLocked(tp *topic) {
	delete(t.topics, tp.key)
	delete(t.byName, tp.name)
	delete(t.idle, tp)
	delete(t.waiting, tp)
	delete(t.dirty, tp)
}

// snapshotLocked starts a new connection's subscriptions: every desired
// topic that belongs on it (non-sharded: all; sharded: those assigned to
// link l) gets a fresh 'S'; topics nobody wants are forgotten.
func (t *Transport) snapshotLocked(l *shardLink) []*topic {
	now := time.Now()
	var out []*topic
	for _, tp := range t.topics {
		if t.sharded && tp.link != l {
			continue
		}
		if !t.desired(tp, now) {
			if len(tp.ops) == 0 && !tp.subscribed {
				t.forgetLocked(tp)
			}
			continue
		}
		tp.ops = append(tp.ops[:0], 'S')
		tp.subscribed = false
		out = append(out, tp)
	}
	return out
}

// resetLocked forgets the subscriptions of a connection that broke
// (non-sharded: every topic; sharded: link l's), so they are made again.
func (t *Transport) resetLocked(l *shardLink) {
	for _, tp := range t.topics {
		if t.sharded && tp.link != l {
			continue
		}
		tp.ops = nil
		tp.subscribed = false
		t.dirty[tp] = struct{}{}
	}
}

// onTopicSubscription applies a (s)subscribe or (s)unsubscribe
// confirmation read on the connection of l (nil: the subscriber's).
func (t *Transport) onTopicSubscription(kind, name string, l *shardLink) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tp := t.byName[name]
	if tp == nil || t.sharded && tp.link != l {
		return // forgotten, or a confirmation from a link it moved away from
	}
	switch kind {
	case "subscribe", "ssubscribe":
		if len(tp.ops) > 0 && tp.ops[0] == 'S' {
			tp.ops = tp.ops[1:]
		}
		if !hasOp(tp.ops, 'U') {
			tp.subscribed = true
			if tp.wants > 0 && !tp.announced {
				t.announceLocked(tp)
			}
		}
	case "unsubscribe", "sunsubscribe":
		if len(tp.ops) > 0 && tp.ops[0] == 'U' {
			tp.ops = tp.ops[1:]
			if !hasOp(tp.ops, 'S') {
				tp.subscribed = false
			}
		} else {
			// Redis dropped it: its slot moved to another master (a
			// resharding or a failover). Subscribe again where it is now.
			tp.ops = nil
			tp.subscribed = false
			if l != nil {
				l.stale = true
				t.markSlotsStaleFrom(l.client)
			}
		}
		t.markDirtyLocked(tp)
	}
}

// manageLoop is the manager: it sends the subscription changes, ends
// lingers, gives live notices Redis does not confirm in time, and on
// Cluster assigns topics to their masters' links. Owned by the Transport;
// ends with Close.
func (t *Transport) manageLoop() {
	defer t.wg.Done()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	follow := time.Now()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-t.kickMgr:
		case <-tick.C:
		}
		if t.sharded && time.Since(follow) >= t.opts.FollowInterval {
			follow = time.Now()
			t.followShards()
		}
		t.manage()
	}
}

// manage runs one pass of the manager.
func (t *Transport) manage() {
	now := time.Now()
	var resolve []*topic
	t.mu.Lock()
	for tp := range t.idle {
		if now.Sub(tp.idleSince) >= t.opts.Linger {
			delete(t.idle, tp)
			t.dirty[tp] = struct{}{}
		}
	}
	for tp := range t.waiting {
		if tp.wants == 0 {
			delete(t.waiting, tp)
		} else if now.Sub(tp.wantSince) >= t.opts.LiveWait {
			t.announceLocked(tp)
			t.degraded++
		}
	}
	if t.degraded > 0 && t.subUp && !t.anyWaitingLocked() {
		t.logf("Redis confirmed %d channel subscription(s) late: their subscribers were acknowledged after %s without it, and received the other nodes' events once Redis confirmed", t.degraded, t.opts.LiveWait)
		t.degraded = 0
	}
	cmds := map[*goredis.PubSub]map[string][]string{}
	add := func(ps *goredis.PubSub, kind, name string) {
		if cmds[ps] == nil {
			cmds[ps] = map[string][]string{}
		}
		cmds[ps][kind] = append(cmds[ps][kind], name)
	}
	for tp := range t.dirty {
		delete(t.dirty, tp)
		ps, writable := t.connOfLocked(tp)
		sub, unsub := "subscribe", "unsubscribe"
		if t.sharded {
			sub, unsub = "ssubscribe", "sunsubscribe"
		}
		if !t.desired(tp, now) {
			switch {
			case (tp.subscribed || lastOp(tp.ops) == 'S') && lastOp(tp.ops) != 'U':
				if writable {
					tp.ops = append(tp.ops, 'U')
					add(ps, unsub, tp.name)
				}
			case len(tp.ops) == 0 && !tp.subscribed:
				t.forgetLocked(tp)
			}
			continue
		}
		if t.sharded && (tp.link == nil || tp.link.stale) {
			resolve = append(resolve, tp)
			continue
		}
		if (!tp.subscribed || lastOp(tp.ops) == 'U') && lastOp(tp.ops) != 'S' && writable {
			tp.ops = append(tp.ops, 'S')
			add(ps, sub, tp.name)
		}
	}
	t.mu.Unlock()
	for ps, kinds := range cmds {
		for kind, names := range kinds {
			t.send(ps, kind, names)
		}
	}
	if len(resolve) > 0 {
		t.assign(resolve)
	}
}

// anyWaitingLocked: a live notice is still due (the outage goes on).
func (t *Transport) anyWaitingLocked() bool { return len(t.waiting) > 0 }

// connOfLocked is the connection tp's commands go to and whether the
// manager may write on it now.
func (t *Transport) connOfLocked(tp *topic) (*goredis.PubSub, bool) {
	if !t.sharded {
		return t.ps, t.ps != nil && t.ctlWritable
	}
	if tp.link == nil {
		return nil, false
	}
	return tp.link.ps, tp.link.ps != nil && tp.link.writable
}

// send writes subscription commands, in batches; shard channels one
// partition (one slot) per command, as SSUBSCRIBE requires. A failed
// write means the connection broke: its reader resets the topics.
func (t *Transport) send(ps *goredis.PubSub, kind string, names []string) {
	if ps == nil || len(names) == 0 {
		return
	}
	for _, batch := range t.batches(kind, names) {
		var err error
		switch kind {
		case "subscribe":
			err = ps.Subscribe(t.ctx, batch...)
		case "unsubscribe":
			err = ps.Unsubscribe(t.ctx, batch...)
		case "ssubscribe":
			err = ps.SSubscribe(t.ctx, batch...)
		case "sunsubscribe":
			err = ps.SUnsubscribe(t.ctx, batch...)
		}
		if err != nil {
			return
		}
	}
}

// batches splits names into commands of at most 500 channels, one
// partition per command for shard channels.
func (t *Transport) batches(kind string, names []string) [][]string {
	const most = 500
	var out [][]string
	if kind == "ssubscribe" || kind == "sunsubscribe" {
		byPart := map[string][]string{}
		var order []string
		for _, n := range names {
			tag := hashTag(n)
			if byPart[tag] == nil {
				order = append(order, tag)
			}
			byPart[tag] = append(byPart[tag], n)
		}
		for _, tag := range order {
			for l := byPart[tag]; len(l) > 0; {
				k := min(len(l), most)
				out = append(out, l[:k])
				l = l[k:]
			}
		}
		return out
	}
	for len(names) > 0 {
		k := min(len(names), most)
		out = append(out, names[:k])
		names = names[k:]
	}
	return out
}

// hashTag is the part of a Redis key between its first { and the next }.
func hashTag(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] == '{' {
			for j := i + 1; j < len(name); j++ {
				if name[j] == '}' {
					if j > i+1 {
						return name[i+1 : j]
					}
					return name
				}
			}
			return name
		}
	}
	return name
}
