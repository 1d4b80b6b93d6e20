package redis

// Shard links: on Redis Cluster in the interest-routed mode, one
// subscriber connection per master for the shard channels of the
// partitions it serves (topics.go). A link lives while topics are assigned
// to it; the manager assigns each topic to the master of its partition's
// slot and moves it when that changes: a master that dies breaks the
// link's connection; a slot that moves (resharding, a failover, also a
// planned one that leaves the old master up as a replica) makes Redis
// unsubscribe its shard channels, and the follower checks the slot map
// every FollowInterval besides.
//
// The slot map is our own (CLUSTER SHARDS, read again at each of these
// events), not the ClusterClient's: a demoted master goes on accepting
// SPUBLISH (answering 0 receivers) instead of redirecting, so go-redis
// would never learn that the slot moved, and publishes and subscriptions
// must move together.

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/reverb-go/reverb/laravelcfg/redisconn"
)

const clusterMode = redisconn.Cluster

// partSlots is each partition's hash slot (its hash tag's CRC16).
var partSlots = func() [partitions]int {
	var a [partitions]int
	for p := range a {
		a[p] = int(crc16([]byte(strconv.Itoa(p))) % 16384)
	}
	return a
}()

// crc16 is Redis Cluster's key hash (CRC-16/XMODEM).
func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for i := 0; i < 8; i++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// slotMap is which master serves each partition, and a client per master
// (made from the deployment: same credentials and TLS).
//
// Lock story: mu guards everything; it is a leaf (never held with
// Transport.mu, never during network I/O except closing clients).
type slotMap struct {
	mu      sync.Mutex
	master  [partitions]string // "" until read
	clients map[string]*goredis.Client
	stale   bool // Redis said a slot moved: read CLUSTER SHARDS again
	// ask is the node to read it from then (the one that said so).
	ask *goredis.Client
}

// refreshSlots reads CLUSTER SHARDS and updates the partitions' masters;
// true when one moved.
func (t *Transport) refreshSlots(ctx context.Context) (bool, error) {
	cc, ok := t.client.(*goredis.ClusterClient)
	if !ok {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, t.opts.DialTimeout)
	defer cancel()
	// The node that just dropped our subscriptions knows best where their
	// slot went (it learned it before it let go); any node otherwise.
	t.slots.mu.Lock()
	ask := t.slots.ask
	t.slots.ask = nil
	t.slots.mu.Unlock()
	var shards []goredis.ClusterShard
	var err error
	if ask != nil {
		shards, err = ask.ClusterShards(ctx).Result()
	}
	if ask == nil || err != nil {
		shards, err = cc.ClusterShards(ctx).Result()
	}
	if err != nil {
		t.kickVersions(err) // Redis 6 has no CLUSTER SHARDS (version.go)
		redisconn.Refresh(t.ctx, t.client)
		return false, err
	}
	tls := t.opts.Redis.TLS != nil
	sm := &t.slots
	sm.mu.Lock()
	moved := false
	for p, slot := range partSlots {
		for _, sh := range shards {
			addr := shardMaster(sh, tls)
			for _, r := range sh.Slots {
				if slot < int(r.Start) || slot > int(r.End) || addr == "" {
					continue
				}
				if addr != sm.master[p] {
					moved = moved || sm.master[p] != ""
					sm.master[p] = addr
				}
			}
		}
	}
	sm.stale = false
	sm.mu.Unlock()
	if moved {
		redisconn.Refresh(t.ctx, t.client) // go-redis' own map, for the control channel
		// Publish through the queue until each moved topic's subscribers
		// are back on its new master (awaitTopicPeers): a message sent
		// there before they resubscribed would miss them.
		t.mu.Lock()
		if !t.closed {
			t.pubBroken = true
			t.peerChecked = map[string]bool{}
			t.cond.Broadcast()
		}
		t.mu.Unlock()
	}
	return moved, nil
}

// shardMaster is the address of a shard's live master ("" when none).
func shardMaster(sh goredis.ClusterShard, tls bool) string {
	for _, n := range sh.Nodes {
		if n.Role != "master" || n.Health == "fail" {
			continue
		}
		host := n.Endpoint
		if host == "" || host == "?" {
			host = n.IP
		}
		port := n.Port
		if tls && n.TLSPort != 0 {
			port = n.TLSPort
		}
		return net.JoinHostPort(host, strconv.FormatInt(port, 10))
	}
	return ""
}

// masterOf is the master serving partition p and a client for it.
func (t *Transport) masterOf(ctx context.Context, p int) (string, *goredis.Client, error) {
	sm := &t.slots
	sm.mu.Lock()
	addr, stale := sm.master[p], sm.stale
	sm.mu.Unlock()
	if addr == "" || stale {
		if _, err := t.refreshSlots(ctx); err != nil {
			return "", nil, err
		}
		old := addr
		sm.mu.Lock()
		addr = sm.master[p]
		sm.mu.Unlock()
		if addr == "" {
			return "", nil, errors.New("redis cluster: no master serves slot " + strconv.Itoa(partSlots[p]))
		}
		if old != "" && addr != old {
			// Moved just now: a message goes through the queue, after the
			// subscribers are back (awaitTopicPeers).
			return addr, t.masterClient(addr), errSlotMoved
		}
	}
	return addr, t.masterClient(addr), nil
}

// masterClient is this transport's client for one master.
func (t *Transport) masterClient(addr string) *goredis.Client {
	sm := &t.slots
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if c := sm.clients[addr]; c != nil {
		return c
	}
	d := *t.opts.Redis
	d.Mode, d.Addrs, d.DB = redisconn.Standalone, []string{addr}, 0
	c := d.NewClient(redisconn.ClientOptions{MaxRetries: -1, DialerRetries: 1,
		DialTimeout: t.opts.DialTimeout, ReadTimeout: t.opts.DialTimeout, WriteTimeout: t.opts.DialTimeout}).(*goredis.Client)
	if sm.clients == nil {
		sm.clients = map[string]*goredis.Client{}
	}
	sm.clients[addr] = c
	return c
}

// markSlotsStale makes the next lookup read CLUSTER SHARDS first.
func (t *Transport) markSlotsStale() { t.markSlotsStaleFrom(nil) }

// markSlotsStaleFrom is markSlotsStale, reading the map from node c.
func (t *Transport) markSlotsStaleFrom(c *goredis.Client) {
	t.slots.mu.Lock()
	t.slots.stale = true
	if c != nil {
		t.slots.ask = c
	}
	t.slots.mu.Unlock()
}

// closeSlots closes the masters' clients (Close).
func (t *Transport) closeSlots() {
	t.slots.mu.Lock()
	defer t.slots.mu.Unlock()
	for _, c := range t.slots.clients {
		_ = c.Close()
	}
	t.slots.clients = nil
}

// errSlotMoved is a SPUBLISH that reached no one because its slot had
// just moved: it is sent again to the new master (nobody got it, so no
// one gets it twice).
var errSlotMoved = errors.New("redis cluster: the channel's slot moved to another master")

// publishShard is SPUBLISH on the master of name's partition.
func (t *Transport) publishShard(ctx context.Context, name string, msg []byte) (int64, error) {
	_, part := partOfName(name)
	addr, c, err := t.masterOf(ctx, part)
	if err != nil {
		return 0, err
	}
	n, err := c.SPublish(ctx, name, msg).Result()
	if err != nil {
		t.kickVersions(err)
		t.markSlotsStale()
		return 0, err
	}
	if n == 0 {
		// Nobody listens — or the master was demoted a moment ago (a
		// planned failover: it accepts SPUBLISH and delivers to no one).
		t.mu.Lock()
		had := t.topicRecv[name] > 0
		t.mu.Unlock()
		if had && (!isMaster(ctx, c) || t.moved(ctx, part, addr)) {
			t.markSlotsStaleFrom(c)
			return 0, errSlotMoved
		}
	}
	return n, nil
}

// isMaster asks a node its ROLE: a demoted master goes on accepting
// SSUBSCRIBE and SPUBLISH for a moment, for its own clients only.
func isMaster(ctx context.Context, c *goredis.Client) bool {
	v, err := c.Do(ctx, "ROLE").Slice()
	if err != nil || len(v) == 0 {
		return true // cannot tell: the slot map decides
	}
	role, _ := v[0].(string)
	return role == "master"
}

// moved reads the slot map again and reports whether partition p is
// served by another master than addr now. (Once per channel whose
// receivers dropped to zero: topicRecv then says zero.)
func (t *Transport) moved(ctx context.Context, p int, addr string) bool {
	if _, err := t.refreshSlots(ctx); err != nil {
		return false
	}
	t.slots.mu.Lock()
	defer t.slots.mu.Unlock()
	return t.slots.master[p] != "" && t.slots.master[p] != addr
}

// partOfName reads the partition back from a topic's Redis channel.
func partOfName(name string) (string, int) {
	tag := hashTag(name)
	p, _ := strconv.Atoi(tag)
	return tag, p
}

// shardLink is one master's subscriber connection. addr and client are
// fixed; ps, writable and stale are guarded by Transport.mu.
type shardLink struct {
	addr   string
	client *goredis.Client
	ps     *goredis.PubSub
	// writable: the connection's first SSUBSCRIBE commands are written;
	// the manager sends the later ones.
	writable bool
	// stale: Redis moved a topic away from this master; the topics here
	// are checked against the slot map again.
	stale bool
}

// assign gives each topic the link of its partition's master (creating
// the link), outside the lock for the slot map; a topic that moves is
// unsubscribed from its old link.
func (t *Transport) assign(tps []*topic) {
	type master struct {
		addr string
		c    *goredis.Client
	}
	masters := map[int]master{}
	for _, tp := range tps {
		if _, done := masters[tp.part]; done {
			continue
		}
		addr, c, err := t.masterOf(t.ctx, tp.part)
		if err != nil && !errors.Is(err, errSlotMoved) {
			addr = ""
		}
		masters[tp.part] = master{addr, c}
	}
	unsubs := map[*goredis.PubSub][]string{}
	t.mu.Lock()
	for _, tp := range tps {
		m := masters[tp.part]
		if m.addr == "" || t.closed {
			// The slot map is not readable now: the next tick retries.
			t.dirty[tp] = struct{}{}
			continue
		}
		l := t.links[m.addr]
		if l == nil {
			l = &shardLink{addr: m.addr, client: m.c}
			t.links[m.addr] = l
			t.wg.Add(1)
			go t.shardLoop(l)
		}
		if old := tp.link; old != l {
			if old != nil && old.ps != nil && old.writable && (tp.subscribed || len(tp.ops) > 0) {
				unsubs[old.ps] = append(unsubs[old.ps], tp.name)
			}
			tp.link, tp.ops, tp.subscribed = l, nil, false
		}
		t.dirty[tp] = struct{}{}
	}
	for _, l := range t.links {
		l.stale = false
	}
	t.mu.Unlock()
	for ps, names := range unsubs {
		t.send(ps, "sunsubscribe", names)
	}
	select {
	case t.kickMgr <- struct{}{}:
	default:
	}
}

// followShards reads the slot map again and marks the topics whose
// partition's master is no longer their link's. Manager goroutine.
func (t *Transport) followShards() {
	if _, err := t.refreshSlots(t.ctx); err != nil {
		return
	}
	t.slots.mu.Lock()
	masters := t.slots.master
	t.slots.mu.Unlock()
	moved := map[int]bool{}
	t.mu.Lock()
	for _, tp := range t.topics {
		if tp.link != nil && masters[tp.part] != "" && masters[tp.part] != tp.link.addr {
			moved[tp.part] = true
			tp.link.stale = true
			t.dirty[tp] = struct{}{}
		}
	}
	t.mu.Unlock()
	if len(moved) > 0 {
		t.logf("Redis Cluster slots moved to other masters: moving %d partition(s) of channel subscriptions", len(moved))
	}
}

// shardLoop owns one link's connection: subscribe its topics, read until
// the connection fails, back off, again — until no topic is assigned to
// it any more, or Close. An outage is logged when it starts and ends.
func (t *Transport) shardLoop(l *shardLink) {
	defer t.wg.Done()
	var backoff time.Duration
	var downSince time.Time
	var quickRetry time.Time // the last retry made at once (quickRetryEvery)
	for attempt := 0; ; attempt++ {
		if t.ctx.Err() != nil {
			return
		}
		if attempt > 0 {
			backoff = t.nextBackoff(backoff)
			if !t.retrySleep(backoff, nil) {
				return
			}
		}
		t.mu.Lock()
		stale := l.stale
		t.mu.Unlock()
		if attempt > 0 || stale {
			// Reconnecting: the node must still be a master (a demoted one
			// would accept the subscriptions and never get the messages).
			ctx, cancel := context.WithTimeout(t.ctx, t.opts.DialTimeout)
			master := isMaster(ctx, l.client)
			cancel()
			if !master {
				t.markSlotsStaleFrom(l.client)
				t.mu.Lock()
				l.stale = true
				for _, tp := range t.topics {
					if tp.link == l {
						t.dirty[tp] = struct{}{}
					}
				}
				t.mu.Unlock()
				select {
				case t.kickMgr <- struct{}{}:
				default:
				}
				if !t.retrySleep(t.opts.MinBackoff, nil) {
					return
				}
			}
		}
		ps := l.client.Subscribe(t.ctx)
		t.mu.Lock()
		if t.closed || t.linkIdleLocked(l) {
			delete(t.links, l.addr)
			t.mu.Unlock()
			_ = ps.Close()
			return
		}
		l.ps = ps
		first := t.snapshotLocked(l)
		t.mu.Unlock()
		names := make([]string, len(first))
		for i, tp := range first {
			names[i] = tp.name
		}
		var err error
		for _, batch := range t.batches("ssubscribe", names) {
			if err = ps.SSubscribe(t.ctx, batch...); err != nil {
				break
			}
		}
		if err == nil {
			t.mu.Lock()
			l.writable = true
			// Topics assigned while the first commands were written.
			for _, tp := range t.topics {
				if tp.link == l && len(tp.ops) == 0 && !tp.subscribed {
					t.dirty[tp] = struct{}{}
				}
			}
			t.mu.Unlock()
			select {
			case t.kickMgr <- struct{}{}:
			default:
			}
			if !downSince.IsZero() {
				t.logf("Redis connection established (shard subscriber %s) after %s", l.addr, time.Since(downSince).Round(10*time.Millisecond))
				downSince = time.Time{}
			}
			var up bool
			up, err = t.readShard(l, ps)
			switch {
			case up && time.Since(quickRetry) >= quickRetryEvery:
				// A live link that drops first tries again at once (as
				// the control subscriber does, at most once a second):
				// the other nodes go on publishing when only this
				// connection was closed.
				attempt, backoff, quickRetry = -1, 0, time.Now()
			case up:
				attempt, backoff = 0, 0
			}
		}
		t.mu.Lock()
		l.ps, l.writable = nil, false
		t.resetLocked(l)
		t.clearEchoesLocked(func(name string) bool {
			tp := t.byName[name]
			return tp != nil && tp.link == l
		})
		closed := t.closed
		t.mu.Unlock()
		_ = ps.Close()
		if closed || t.ctx.Err() != nil {
			return
		}
		t.kickVersions(err) // SSUBSCRIBE refused: a master older than Redis 7?
		t.markSlotsStale()
		if downSince.IsZero() {
			downSince = time.Now()
			t.logf("Disconnected from Redis (shard subscriber %s): %v", l.addr, err)
		}
		// Its topics may belong to another master now.
		t.mu.Lock()
		for _, tp := range t.topics {
			if tp.link == l {
				t.dirty[tp] = struct{}{}
			}
		}
		l.stale = true
		t.mu.Unlock()
		select {
		case t.kickMgr <- struct{}{}:
		default:
		}
	}
}

// linkIdleLocked: no topic is assigned to l.
func (t *Transport) linkIdleLocked(l *shardLink) bool {
	for _, tp := range t.topics {
		if tp.link == l {
			return false
		}
	}
	return true
}

// readShard reads one link's connection until it fails; up says a
// subscription was confirmed on it.
func (t *Transport) readShard(l *shardLink, ps *goredis.PubSub) (up bool, err error) {
	rc := receiver{ps: ps}
	for {
		m, err := t.receive(&rc)
		if err != nil {
			return up, err
		}
		switch m := m.(type) {
		case *goredis.Subscription:
			if m.Kind == "ssubscribe" {
				up = true
			}
			t.onTopicSubscription(m.Kind, m.Channel, l)
		case *goredis.Message:
			t.received(m.Channel, m.Payload)
		}
	}
}

// noteReceiversLocked records a PUBLISH reply: the control channel's
// (awaitPeers), or a shard channel's (awaitTopicPeers; the map is
// bounded, a forgotten channel is simply not waited for).
func (t *Transport) noteReceiversLocked(name string, n int) {
	if name == "" {
		t.receivers = n
		return
	}
	if t.topicRecv == nil || len(t.topicRecv) >= 10000 {
		t.topicRecv = map[string]int{}
	}
	t.topicRecv[name] = n
}

// awaitTopicPeers is awaitPeers for a shard channel whose master failed:
// before this node sends what it queued for the channel, the nodes that
// received it before subscribe again on the new master (their links
// reconnect on their own schedule), for at most the longest backoff plus
// a second. Once per channel per outage. An error means no master
// answered: the message must wait (as when its PUBLISH fails). Flusher
// goroutine.
func (t *Transport) awaitTopicPeers(name string) error {
	t.mu.Lock()
	want := t.topicRecv[name]
	skip := t.peerChecked == nil || t.peerChecked[name] || want <= 1
	t.mu.Unlock()
	if skip {
		return nil
	}
	_, part := partOfName(name)
	deadline := time.Now().Add(t.opts.MaxBackoff + time.Second)
	answered := false
	defer func() {
		// Done only once a master answered: while the old one is dead
		// (the PUBLISH is going to fail anyway) the wait starts again.
		if answered {
			t.mu.Lock()
			if t.peerChecked != nil {
				t.peerChecked[name] = true
			}
			t.mu.Unlock()
		}
	}()
	for {
		_, c, err := t.masterOf(t.ctx, part)
		if err != nil && !errors.Is(err, errSlotMoved) {
			return err
		}
		counts, err := c.PubSubShardNumSub(t.ctx, name).Result()
		if err != nil {
			t.markSlotsStale()
			return err
		}
		answered = true
		if int(counts[name]) >= want || !time.Now().Before(deadline) {
			return nil
		}
		if !t.sleep(20 * time.Millisecond) {
			return t.ctx.Err()
		}
	}
}
