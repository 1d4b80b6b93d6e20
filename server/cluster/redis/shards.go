package redis

// Shard links: on Redis Cluster in the interest-routed mode, one
// subscriber connection per master for the shard channels of the
// partitions it serves (topics.go). A link lives while topics are assigned
// to it; the manager assigns each topic to the master of its partition's
// slot and moves it when that changes (a failover: the link's connection
// breaks, or Redis unsubscribes the topic when its slot moves; a planned
// failover that leaves the old master up as a replica is found by the
// follower, which compares the links with the client's slot map).

import (
	"context"
	"errors"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/reverb-go/reverb/laravelcfg/redisconn"
)

const clusterMode = redisconn.Cluster

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
// the link), outside the lock for the slot map lookups; a topic that moves
// is unsubscribed from its old link.
func (t *Transport) assign(tps []*topic) {
	cc, ok := t.client.(*goredis.ClusterClient)
	if !ok {
		return
	}
	masters := map[int]*goredis.Client{}
	for _, tp := range tps {
		if _, done := masters[tp.part]; done {
			continue
		}
		ctx, cancel := context.WithTimeout(t.ctx, t.opts.DialTimeout)
		c, err := cc.MasterForKey(ctx, tp.name)
		cancel()
		if err != nil {
			c = nil
		}
		masters[tp.part] = c
	}
	unsubs := map[*goredis.PubSub][]string{}
	t.mu.Lock()
	for _, tp := range tps {
		c := masters[tp.part]
		if c == nil || t.closed {
			// The slot map is not readable now: the next tick retries.
			t.dirty[tp] = struct{}{}
			continue
		}
		addr := c.Options().Addr
		l := t.links[addr]
		if l == nil {
			l = &shardLink{addr: addr, client: c}
			t.links[addr] = l
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

// followShards marks the topics whose partition's master is no longer
// their link's (a planned failover keeps the old master up as a replica,
// which would go on delivering while SPUBLISH's reply stopped counting
// this node). Manager goroutine.
func (t *Transport) followShards() {
	cc, ok := t.client.(*goredis.ClusterClient)
	if !ok {
		return
	}
	t.mu.Lock()
	sample := map[int]*topic{}
	for _, tp := range t.topics {
		if tp.link != nil && sample[tp.part] == nil {
			sample[tp.part] = tp
		}
	}
	t.mu.Unlock()
	moved := map[int]bool{}
	for part, tp := range sample {
		ctx, cancel := context.WithTimeout(t.ctx, t.opts.DialTimeout)
		c, err := cc.MasterForKey(ctx, tp.name)
		cancel()
		if err == nil && c.Options().Addr != tp.link.addr {
			moved[part] = true
		}
	}
	if len(moved) == 0 {
		return
	}
	t.mu.Lock()
	for _, tp := range t.topics {
		if tp.link != nil && moved[tp.part] {
			tp.link.stale = true
			t.dirty[tp] = struct{}{}
		}
	}
	t.mu.Unlock()
	t.logf("Redis Cluster slots moved to other masters: moving %d partition(s) of channel subscriptions", len(moved))
}

// shardLoop owns one link's connection: subscribe its topics, read until
// the connection fails, back off, again — until no topic is assigned to
// it any more, or Close. An outage is logged when it starts and ends.
func (t *Transport) shardLoop(l *shardLink) {
	defer t.wg.Done()
	var backoff time.Duration
	var downSince time.Time
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
			if up {
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
		redisconn.Refresh(t.ctx, t.client)
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
	const quiet = 5 * time.Second
	pinged := false
	for {
		m, err := ps.ReceiveTimeout(t.ctx, quiet)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && t.ctx.Err() == nil {
				if pinged {
					return up, errors.New("no answer to ping")
				}
				if err := ps.Ping(t.ctx); err != nil {
					return up, err
				}
				pinged = true
				continue
			}
			return up, err
		}
		pinged = false
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
