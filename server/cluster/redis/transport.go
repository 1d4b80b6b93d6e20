// Package redis is the cluster.Transport of horizontal scaling: every node
// (every worker process of every machine) publishes on and subscribes to
// one Redis pub/sub channel, scaling.channel, used verbatim as Reverb does
// (no REDIS_PREFIX). The bytes are the server's; PHP Reverb nodes on the
// same channel read ours and we read theirs.
//
// Deployments (laravelcfg/redisconn): one server as Reverb reads
// scaling.server, or any connection of config/database.php named by
// REVERB_SCALING_CONNECTION — Sentinel (go-redis' FailoverClient asks the
// sentinels for the master on every connection) or Redis Cluster (classic
// PUBLISH/SUBSCRIBE, which the cluster broadcasts to every node; every node
// of ours publishes and subscribes on the master of the channel's hash slot,
// so PUBLISH's reply still counts the subscribed nodes). On Sentinel and
// Cluster a follower checks once a second (on Sentinel also at once when a
// sentinel announces +switch-master) that the subscription sits on the
// master the publishes go to, and moves it after a planned failover (the
// old master stays up as a replica and would keep the subscription).
//
// Faults. Reverb retries once a second and exits after `timeout` attempts.
// A node of ours never exits because Redis is away: while it is, local
// clients keep being served (our own publishes are delivered to this node
// at once), publishes wait in a bounded queue (the oldest dropped, with a
// log line, when full) and are sent when Redis is back; the subscriber
// re-subscribes; reconnection attempts back off exponentially up to a cap;
// the log says what happened with Reverb's titles, once per outage (not a
// line per attempt). After a reconnection, publishes keep going through
// the queue until every node that listened before is subscribed again (or
// the longest backoff plus a second passed), so nothing published after a
// failover misses a node that reconnects a moment later.
package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/reverb-go/reverb/laravelcfg/redisconn"
	"github.com/reverb-go/reverb/server/cluster"
)

// Transport is a cluster.Transport over Redis pub/sub.
//
// Goroutines (all owned by the Transport, started by Start, stopped and
// awaited by Close): the subscriber (connects, subscribes, reads; one
// PubSub at a time), the flusher (sends queued messages once the
// subscriber is live again), the deliverer (calls deliver, one message
// at a time, from the inbox both others and Publish feed) and, on Sentinel
// and Cluster, the follower (moves the subscription to a new master).
//
// Lock story: mu guards every field below it; it is never held during
// network I/O or while deliver runs.
type Transport struct {
	opts   Options
	where  string // the deployment for log lines (no secrets)
	source string // the setting it came from, for the first refusal
	client goredis.UniversalClient
	// master finds where the channel's publishes go now (nil for one
	// server); the follower compares it with subAddr.
	master *masterFinder
	// kickSub and kickPub cut a reconnection backoff short (buffered 1).
	kickSub, kickPub chan struct{}
	ctx              context.Context
	cancel           context.CancelFunc
	wg               sync.WaitGroup

	mu      sync.Mutex
	cond    *sync.Cond // signalled on inbox, queue and state changes
	deliver func([]byte)
	started bool
	closed  bool
	// subUp is true while the subscription is confirmed live.
	subUp bool
	// subAddr is the master the subscription was made on ("" when
	// unknown or for one server); moving is set while the follower moves
	// the subscription to another master.
	subAddr string
	moving  bool
	// pubBroken is set when a PUBLISH failed; cleared by a good one.
	pubBroken bool
	// queue holds messages not yet sent to Redis, in order.
	queue []queued
	// echoes counts messages already delivered locally that were then
	// sent to Redis: their copies coming back are skipped once each.
	// Cleared when the subscriber drops (no copy will come then).
	echoes map[string]int
	inbox  []inItem
	// taken counts the messages appended to inbox (takeLocked), each
	// delivered in that order (cluster.Counter).
	taken uint64
	seq   uint64 // last queued message's number
	// dropped counts messages lost to the queue bound since it was last
	// empty.
	dropped int
	// receivers is the last PUBLISH reply: how many nodes listened.
	receivers int
	// flushReady is false from a disconnection until the other nodes
	// are back (or a grace period passed): the queue waits for them, and
	// Publish queues too, so nothing skips a node that is reconnecting.
	flushReady bool
	// pubLogged: the publisher's disconnection was logged (its recovery
	// will be too).
	pubLogged bool
	ps        *goredis.PubSub // the subscriber's current PubSub, for Close
	live      chan struct{}   // closed at the first live subscription
	// onResub is called on the delivery goroutine each time the control
	// channel's subscription is live again after a drop
	// (cluster.Resubscriber); drops counts the drops, and missed says that
	// the other nodes stayed subscribed since the last one (or this node
	// moved to a new master).
	onResub func(cluster.Resubscription)
	drops   uint64
	missed  bool
	// ctlWritable: the subscriber's initial SUBSCRIBE commands are written
	// (the manager may send topic commands on ps from then on).
	ctlWritable bool

	// The interest-routed mode (topics.go); nil maps in the classic mode.
	routing bool
	// sharded: Redis Cluster, where topics are shard channels
	// (SSUBSCRIBE/SPUBLISH) subscribed on their masters' links; otherwise
	// they share the subscriber's connection with the control channel.
	sharded bool
	onLive  func(topic string)
	topics  map[string]*topic     // by the server's topic key
	byName  map[string]*topic     // by Redis channel name
	links   map[string]*shardLink // sharded: by master address
	// dirty topics need the manager's attention (a command, an
	// assignment, removal).
	dirty map[*topic]struct{}
	// idle topics linger (nobody wants them); waiting ones are wanted and
	// not live yet (their live notice is due at the latest LiveWait after).
	idle, waiting map[*topic]struct{}
	kickMgr       chan struct{}
	// degraded counts live notices given without Redis since the last
	// line about it.
	degraded int
	// slots is the Cluster's slot map for the shard channels (shards.go).
	slots slotMap
	// topicRecv is the last SPUBLISH reply per shard channel; peerChecked,
	// set from a failed publish until the queue is sent, the channels
	// whose subscribers were waited for (awaitTopicPeers).
	topicRecv   map[string]int
	peerChecked map[string]bool
	// The version check (version.go; sharded only): startReturned is set
	// when Start stops waiting for it; kickVer (buffered 1) asks for
	// another check; oldSeen and unknownSeen say what was logged.
	startReturned bool
	kickVer       chan error
	oldSeen       map[string]bool
	unknownSeen   bool
}

// inItem is one entry of the delivery inbox: a message, or a live notice
// for a topic (interest routing).
type inItem struct {
	msg  []byte
	live string
	// resub: the subscription is live again after drop resub.Drop
	// (onResub).
	resub *cluster.Resubscription
}

type queued struct {
	seq uint64
	msg []byte
	// name is the Redis channel ("" for the control channel).
	name string
	// local: delivered to this node already (its echo is skipped).
	local bool
}

// New checks the connection settings; Start connects.
func New(opts Options) (*Transport, error) {
	if opts.Redis == nil {
		d, err := redisconn.FromReverbServer(opts.Server)
		if err != nil {
			return nil, err
		}
		opts.Redis = d
	}
	opts = opts.withDefaults()
	quietGoRedis(opts.Log)
	d := opts.Redis
	t := &Transport{
		opts:   opts,
		where:  d.Where(),
		source: d.Source,
		// Retries are ours (queue and backoff): go-redis makes one attempt
		// and dials once per command.
		client: d.NewClient(redisconn.ClientOptions{MaxRetries: -1, DialerRetries: 1,
			DialTimeout: opts.DialTimeout, ReadTimeout: opts.DialTimeout, WriteTimeout: opts.DialTimeout}),
		echoes: map[string]int{},
		live:   make(chan struct{}),
	}
	t.master = newMasterFinder(d, t.client, opts.Channel, opts.DialTimeout)
	t.kickSub, t.kickPub = make(chan struct{}, 1), make(chan struct{}, 1)
	t.cond = sync.NewCond(&t.mu)
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return t, nil
}

// OnResubscribed installs the function called, on the delivery goroutine,
// each time the subscription to the channel is live again after it
// dropped (cluster.Resubscriber). Call it before Start.
func (t *Transport) OnResubscribed(f func(cluster.Resubscription)) {
	t.mu.Lock()
	t.onResub = f
	t.mu.Unlock()
}

// Drops is the number of drops of the subscription so far
// (cluster.Resubscriber).
func (t *Transport) Drops() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.drops
}

// Where names the Redis deployment the transport uses (no secrets).
func (t *Transport) Where() string { return t.where }

var loggerOnce sync.Once

// quietGoRedis sends go-redis's own log lines (one process, one log) to
// our log instead of stderr.
func quietGoRedis(w io.Writer) {
	loggerOnce.Do(func() { goredis.SetLogger(&redisLogger{w: w, last: map[string]time.Time{}}) })
}

// redisLogger writes go-redis's lines, each distinct line at most once a
// minute: during an outage go-redis reports every failed dial the same
// way, and our own lines already say what happened. (Old entries are
// dropped when the map grows past a few hundred lines.)
//
// Lock story: mu guards last.
type redisLogger struct {
	w    io.Writer
	mu   sync.Mutex
	last map[string]time.Time
}

func (l *redisLogger) Printf(_ context.Context, format string, v ...any) {
	now := time.Now()
	line := fmt.Sprintf(format, v...)
	l.mu.Lock()
	if t, ok := l.last[line]; ok && now.Sub(t) < time.Minute {
		l.mu.Unlock()
		return
	}
	if len(l.last) > 500 {
		clear(l.last)
	}
	l.last[line] = now
	l.mu.Unlock()
	fmt.Fprintf(l.w, "%s reverb: go-redis: %s\n", now.Format(time.RFC3339), line)
}

func (t *Transport) logf(format string, args ...any) {
	fmt.Fprintf(t.opts.Log, "%s reverb: %s\n", time.Now().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

// Start begins delivering and returns once the subscription is live, or
// after StartWait with Redis still away (the node then serves its own
// clients and keeps trying). On Redis Cluster in the interest routing it
// refuses (closes the transport and returns the error) a master older
// than Redis 7.0 found meanwhile (version.go).
func (t *Transport) Start(ctx context.Context, deliver func([]byte)) error {
	t.mu.Lock()
	if t.started || t.closed {
		t.mu.Unlock()
		return errors.New("redis transport: started twice or closed")
	}
	t.started = true
	t.deliver = deliver
	t.mu.Unlock()
	t.wg.Add(3)
	go t.deliverLoop()
	go t.subscribeLoop()
	go t.flushLoop()
	if t.master != nil {
		// The control channel follows its master on Cluster in both
		// routings: PUBLISH's reply counts the nodes only where they
		// subscribed, and cluster-wide queries wait for that many answers.
		t.wg.Add(1)
		go t.followLoop()
	}
	if t.routing {
		t.wg.Add(1)
		go t.manageLoop()
	}
	// On Cluster the interest routing needs Redis 7 on every master: the
	// versions are read once Redis is reachable (version.go).
	var versions chan error
	if t.sharded {
		versions = make(chan error, 1)
		t.wg.Add(1)
		go t.versionLoop(versions)
	}
	wait := time.NewTimer(t.opts.StartWait)
	defer wait.Stop()
	select {
	case <-t.live:
	case <-wait.C:
		t.logf("Redis at %s is not reachable yet; serving local clients and retrying", t.where)
		return t.startReturn(versions)
	case <-ctx.Done():
		return t.startReturn(versions)
	}
	if versions != nil {
		select {
		case err := <-versions:
			if err != nil {
				_ = t.Close()
				return err
			}
		case <-wait.C:
			return t.startReturn(versions)
		case <-ctx.Done():
			return t.startReturn(versions)
		}
	}
	if t.routing {
		// The topics wanted before Start (the node's own) are live too.
		for {
			t.mu.Lock()
			pending := len(t.waiting)
			t.mu.Unlock()
			if pending == 0 {
				break
			}
			select {
			case <-wait.C:
				return t.startReturn(versions)
			case <-ctx.Done():
				return t.startReturn(versions)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	return t.startReturn(versions)
}

// startReturn ends Start's wait for the version check (nil in the
// classic routing and off Cluster): a result that came meanwhile still
// counts (an old master refuses the start); a later one is logged.
func (t *Transport) startReturn(versions chan error) error {
	if versions == nil {
		return nil
	}
	t.mu.Lock()
	t.startReturned = true
	t.mu.Unlock()
	select {
	case err := <-versions:
		if err != nil {
			_ = t.Close()
			return err
		}
	default:
	}
	return nil
}

// Publish sends msg to every node. While the link to Redis is healthy the
// reply is PUBLISH's (subscribers of the channel, this node included) and
// this node receives msg back through Redis like every other node, so all
// nodes see one order. While it is not, msg is delivered here at once,
// queued for the others, and the reply is 1.
func (t *Transport) Publish(ctx context.Context, msg []byte) (int, error) {
	return t.publishOn(ctx, "", msg)
}

// publishOn is Publish on the control channel (name "") or a topic's Redis
// channel. One path and one queue for both keep this node's messages in
// the order they were published. While Redis is away a topic's message is
// delivered here at once only when this node wants the topic.
func (t *Transport) publishOn(ctx context.Context, name string, msg []byte) (int, error) {
	if name == "" {
		msg = forPHPNodes(msg)
	}
	t.mu.Lock()
	if t.closed || !t.started {
		t.mu.Unlock()
		return 0, errors.New("redis transport: not running")
	}
	if t.subUp && t.flushReady && !t.pubBroken && len(t.queue) == 0 {
		t.mu.Unlock()
		n, err := t.publish(ctx, name, msg)
		if err == nil {
			if name == "" || t.sharded {
				t.mu.Lock()
				t.noteReceiversLocked(name, int(n))
				t.mu.Unlock()
			}
			return int(n), nil
		}
		if ctx.Err() != nil {
			return 0, err
		}
		t.mu.Lock()
		t.notePublishErrorLocked(err)
	}
	if t.closed {
		t.mu.Unlock()
		return 0, errors.New("redis transport: closed")
	}
	local := name == "" || t.wantedLocked(name)
	t.enqueueLocked(queued{msg: msg, name: name, local: local})
	n := 0
	if local {
		t.takeLocked(msg)
		n = 1
	}
	t.mu.Unlock()
	return n, nil
}

// publish sends one PUBLISH (SPUBLISH for a shard channel) to the node the
// channel's subscribers are on (on a cluster the master of its hash slot,
// so the reply counts them).
func (t *Transport) publish(ctx context.Context, name string, msg []byte) (int64, error) {
	if t.sharded && name != "" {
		return t.publishShard(ctx, name, msg)
	}
	channel := name
	if name == "" {
		channel = t.opts.Channel
	}
	node, err := redisconn.NodeFor(ctx, t.client, channel)
	if err == nil {
		var n int64
		if n, err = node.Publish(ctx, channel, msg).Result(); err == nil {
			return n, nil
		}
	}
	redisconn.Refresh(t.ctx, t.client)
	return 0, err
}

// notePublishErrorLocked marks the publisher broken and says so once (not
// when the subscriber already reported the outage).
func (t *Transport) notePublishErrorLocked(err error) {
	if t.pubBroken || t.closed {
		return
	}
	t.pubBroken = true
	if t.sharded {
		// Before a topic's queued messages go out again, its other
		// subscribers must be back on the (new) master (shards.go).
		t.peerChecked = map[string]bool{}
	}
	if t.subUp {
		t.pubLogged = true
		t.logf("Disconnected from Redis (publisher %s): %v", t.where, err)
	}
}

// enqueueLocked appends to the bounded queue, dropping the oldest.
func (t *Transport) enqueueLocked(q queued) {
	if len(t.queue) >= t.opts.QueueLimit {
		drop := len(t.queue) - t.opts.QueueLimit + 1
		clear(t.queue[:drop])
		t.queue = t.queue[drop:]
		// One line at the first loss, then one per thousand: an outage
		// under load must not flood the log.
		before := t.dropped
		t.dropped += drop
		if before == 0 || t.dropped/1000 > before/1000 {
			t.logf("Redis queue full (%d messages): dropped the oldest, %d lost so far while Redis is away", t.opts.QueueLimit, t.dropped)
		}
	}
	t.seq++
	q.seq = t.seq
	t.queue = append(t.queue, q)
}

// Close stops the goroutines and closes the connections. Messages still
// queued are dropped (logged).
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	if n := len(t.queue); n > 0 {
		t.logf("Redis transport closing with %d unsent messages", n)
	}
	t.queue = nil
	pss := []*goredis.PubSub{t.ps}
	for _, l := range t.links {
		pss = append(pss, l.ps)
	}
	t.cond.Broadcast()
	t.mu.Unlock()
	t.cancel()
	for _, ps := range pss {
		if ps != nil {
			_ = ps.Close()
		}
	}
	t.wg.Wait()
	if t.master != nil {
		t.master.close()
	}
	t.closeSlots()
	return t.client.Close()
}

// deliverLoop hands inbox messages to deliver, one at a time, in order.
func (t *Transport) deliverLoop() {
	defer t.wg.Done()
	t.mu.Lock()
	for {
		for len(t.inbox) == 0 && !t.closed {
			t.cond.Wait()
		}
		if t.closed {
			t.inbox = nil
			t.mu.Unlock()
			return
		}
		it := t.inbox[0]
		t.inbox[0] = inItem{}
		t.inbox = t.inbox[1:]
		d, live, resub := t.deliver, t.onLive, t.onResub
		t.mu.Unlock()
		if it.resub != nil {
			if resub != nil {
				resub(*it.resub)
			}
		} else if it.live != "" {
			if live != nil {
				live(it.live)
			}
		} else {
			d(it.msg)
		}
		t.mu.Lock()
	}
}

// sleep waits d or until Close; false means closed.
func (t *Transport) sleep(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// retrySleep is sleep for a reconnection backoff, cut short when the
// follower learns that a new master was elected (retry now, it is up).
func (t *Transport) retrySleep(d time.Duration, kick <-chan struct{}) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.ctx.Done():
		return false
	case <-timer.C:
	case <-kick:
	}
	return true
}

// kickRetries wakes the subscriber's and the publisher's backoff.
func (t *Transport) kickRetries() {
	for _, k := range []chan struct{}{t.kickSub, t.kickPub} {
		select {
		case k <- struct{}{}:
		default:
		}
	}
}

func (t *Transport) nextBackoff(d time.Duration) time.Duration {
	if d <= 0 {
		return t.opts.MinBackoff
	}
	return min(2*d, t.opts.MaxBackoff)
}

// quickRetryEvery bounds the retries made at once after a live
// subscription drops: one a second, then the backoff.
const quickRetryEvery = time.Second

// subscribeLoop owns the subscriber connection: subscribe, read until the
// connection fails, back off, again — until Close. An outage is logged
// when it starts, at the first retry and when it ends, not per attempt.
func (t *Transport) subscribeLoop() {
	defer t.wg.Done()
	var backoff time.Duration
	everUp := false
	downSince := time.Now()
	warned := false
	var quickRetry time.Time // the last retry made at once (quickRetryEvery)
	for attempt := 0; ; attempt++ {
		if t.ctx.Err() != nil {
			return
		}
		if attempt > 0 {
			backoff = t.nextBackoff(backoff)
			if !t.retrySleep(backoff, t.kickSub) {
				return
			}
			if !warned && time.Since(downSince) >= t.opts.GiveUpAfter {
				warned = true
				t.logf("Failed to connect to Redis after retrying for %s; unlike Reverb this server keeps serving its own clients and retrying", t.opts.GiveUpAfter.Round(time.Second))
			}
			if attempt == 1 {
				t.logf("Attempting reconnection to Redis (subscriber %s); retrying every %s at most until it is back", t.where, t.opts.MaxBackoff)
			}
		}
		// Where the subscription will sit: the follower compares.
		subAddr := ""
		if t.master != nil {
			ctx, cancel := context.WithTimeout(t.ctx, time.Second)
			subAddr, _ = t.master.find(ctx)
			cancel()
		}
		ps := t.client.Subscribe(t.ctx)
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			_ = ps.Close()
			return
		}
		t.ps = ps
		t.subAddr = subAddr
		var first []*topic
		if t.routing && !t.sharded {
			first = t.snapshotLocked(nil)
		}
		t.mu.Unlock()
		// Topics first: once the control channel's subscription shows in
		// PUBSUB NUMSUB (what reconnecting nodes wait for), this node's
		// topics are subscribed too.
		var err error
		names := make([]string, len(first))
		for i, tp := range first {
			names[i] = tp.name
		}
		for _, batch := range t.batches("subscribe", names) {
			if err = ps.Subscribe(t.ctx, batch...); err != nil {
				break
			}
		}
		if err == nil {
			err = ps.Subscribe(t.ctx, t.opts.Channel)
		}
		if err == nil && t.routing {
			t.mu.Lock()
			t.ctlWritable = true
			t.mu.Unlock()
			select {
			case t.kickMgr <- struct{}{}:
			default:
			}
		}
		if err == nil {
			var up bool
			up, err = t.read(ps, everUp, downSince)
			if up {
				backoff, attempt, everUp = 0, 0, true
				downSince, warned = time.Now(), false
			}
		}
		t.mu.Lock()
		t.ps = nil
		t.ctlWritable = false
		wasUp := t.subUp
		moved := t.moving
		t.subUp, t.moving = false, false
		t.flushReady = false
		// No copy of what was sent will come back now.
		if t.sharded {
			t.clearEchoesLocked(func(name string) bool { return name == "" })
		} else {
			clear(t.echoes)
			if t.routing {
				t.resetLocked(nil)
			}
		}
		closed := t.closed
		t.mu.Unlock()
		_ = ps.Close()
		if closed || t.ctx.Err() != nil {
			return
		}
		if moved {
			// The follower closed it to move: subscribe again at once.
			// What was published on the new master meanwhile missed
			// this node.
			t.mu.Lock()
			t.drops++
			t.missed = true
			t.mu.Unlock()
			attempt, backoff = -1, 0
			continue
		}
		redisconn.Refresh(t.ctx, t.client)
		switch {
		case wasUp:
			t.logf("Disconnected from Redis (subscriber %s): %v", t.where, err)
			t.mu.Lock()
			t.drops++
			want := t.receivers
			t.mu.Unlock()
			stayed := t.othersStayed(want)
			t.mu.Lock()
			t.missed = t.missed || stayed
			t.mu.Unlock()
			// A live subscription that drops first tries again at once:
			// when only this connection was closed (CLIENT KILL, an idle
			// timeout, the pub/sub output buffer limit) the other nodes
			// go on publishing directly, and everything they publish
			// until this node is subscribed again misses it. When Redis
			// itself is away this attempt fails and the backoff follows.
			// One such retry a second: a link that keeps being closed as
			// soon as it is up (a proxy refusing it, a buffer limit hit at
			// once) waits the backoff instead of looping without pause.
			if time.Since(quickRetry) >= quickRetryEvery {
				attempt, backoff, quickRetry = -1, 0, time.Now()
			}
		case attempt == 0 && !everUp:
			t.logf("Cannot connect to Redis (subscriber %s, from %s): %v", t.where, t.source, err)
		}
	}
}

// receiver is a subscription connection being read (receive).
type receiver struct {
	ps     *goredis.PubSub
	pinged bool
}

// receive returns the connection's next message. A ping after a quiet
// period finds a half-open connection: no answer within another period
// means the link is gone.
func (t *Transport) receive(r *receiver) (any, error) {
	const quiet = 5 * time.Second
	for {
		m, err := r.ps.ReceiveTimeout(t.ctx, quiet)
		if err == nil {
			r.pinged = false
			return m, nil
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && t.ctx.Err() == nil {
			if r.pinged {
				return nil, errors.New("no answer to ping")
			}
			if err := r.ps.Ping(t.ctx); err != nil {
				return nil, err
			}
			r.pinged = true
			continue
		}
		return nil, err
	}
}

// read processes the subscription until it fails. up says whether the
// subscription was confirmed at some point; reconnect and downSince date
// the outage it ends for the log.
func (t *Transport) read(ps *goredis.PubSub, reconnect bool, downSince time.Time) (up bool, err error) {
	rc := receiver{ps: ps}
	for {
		m, err := t.receive(&rc)
		if err != nil {
			return up, err
		}
		switch m := m.(type) {
		case *goredis.Subscription:
			if m.Kind == "subscribe" && m.Channel == t.opts.Channel {
				up = true
				t.mu.Lock()
				t.subUp = true
				// Nobody else to wait for (first start, a lone node):
				// publish directly at once.
				t.flushReady = t.receivers <= 1
				if reconnect {
					// After everything received before the drop.
					t.inbox = append(t.inbox, inItem{resub: &cluster.Resubscription{Drop: t.drops, Missed: t.missed}})
					t.missed = false
				}
				t.cond.Broadcast() // the flusher may send now
				t.mu.Unlock()
				if reconnect {
					t.logf("Redis connection established (%s, channel %s) after %s", t.where, t.opts.Channel, time.Since(downSince).Round(10*time.Millisecond))
				} else {
					t.logf("Redis connection established (%s, channel %s)", t.where, t.opts.Channel)
				}
				select {
				case <-t.live:
				default:
					close(t.live)
				}
			}
		case *goredis.Message:
			t.received(m.Channel, m.Payload)
		}
		if sub, ok := m.(*goredis.Subscription); ok && t.routing && sub.Channel != t.opts.Channel {
			t.onTopicSubscription(sub.Kind, sub.Channel, nil)
		}
	}
}

// received queues a message read on a subscriber connection (the control
// channel's or a topic's), unless it is the copy of one of ours that was
// delivered here already.
func (t *Transport) received(channel, payload string) {
	name := ""
	if channel != t.opts.Channel {
		name = channel
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if name != "" && (!t.routing || t.byName[name] == nil) {
		return
	}
	if len(t.echoes) > 0 {
		key := echoKey(name, payload)
		if n := t.echoes[key]; n > 0 {
			if n == 1 {
				delete(t.echoes, key)
			} else {
				t.echoes[key] = n - 1
			}
			return
		}
	}
	t.takeLocked([]byte(payload))
}

// takeLocked queues msg for delivery on this node and counts it.
func (t *Transport) takeLocked(msg []byte) {
	t.inbox = append(t.inbox, inItem{msg: msg})
	t.taken++
	t.cond.Broadcast()
}

// Received implements cluster.Counter: the messages this node has taken
// in, delivered or waiting in the inbox. Those Redis has sent and the
// socket still holds are not counted yet.
func (t *Transport) Received() (uint64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.taken, true
}

// echoKey identifies a message sent while it was delivered here already:
// its payload, prefixed for a topic by the Redis channel and a NUL (JSON
// text holds no raw NUL, so the control channel's keys have none).
func echoKey(name, payload string) string {
	if name == "" {
		return payload
	}
	return name + "\x00" + payload
}

// clearEchoesLocked forgets the expected copies whose Redis channel
// ("" for control) matches: no copy comes back over a broken connection.
func (t *Transport) clearEchoesLocked(match func(name string) bool) {
	for k := range t.echoes {
		name := ""
		if i := strings.IndexByte(k, 0); i >= 0 {
			name = k[:i]
		}
		if match(name) {
			delete(t.echoes, k)
		}
	}
}

// awaitPeers waits, after a (re)subscription, until as many nodes listen
// on the channel as listened before (so queued and new messages reach the
// nodes that reconnect a little later than this one), for at most the
// longest reconnection backoff plus a second.
func (t *Transport) awaitPeers(want int) {
	if want <= 1 {
		return
	}
	deadline := time.Now().Add(t.opts.MaxBackoff + time.Second)
	for time.Now().Before(deadline) {
		node, err := redisconn.NodeFor(t.ctx, t.client, t.opts.Channel)
		if err == nil {
			var counts map[string]int64
			counts, err = node.PubSubNumSub(t.ctx, t.opts.Channel).Result()
			if err == nil && int(counts[t.opts.Channel]) >= want {
				return
			}
		}
		if t.ctx.Err() != nil {
			return
		}
		if !t.sleep(20 * time.Millisecond) {
			return
		}
	}
}

// othersStayed reports, when this node's subscription dropped, whether
// the other nodes are still subscribed (at least one, and all but this one
// of the want that listened before): then only this node's connection was
// closed, the others go on publishing directly, and what they publish
// until this node is subscribed again misses it. When Redis itself is
// away (no answer, or the others are gone as well) they queue until every
// node is back (awaitPeers) and nothing is lost: the server is not told
// then (every node asking every other one for its state after each
// restart of Redis would be a storm of answers).
func (t *Transport) othersStayed(want int) bool {
	ctx, cancel := context.WithTimeout(t.ctx, time.Second)
	defer cancel()
	node, err := redisconn.NodeFor(ctx, t.client, t.opts.Channel)
	if err != nil {
		return false
	}
	counts, err := node.PubSubNumSub(ctx, t.opts.Channel).Result()
	return err == nil && int(counts[t.opts.Channel]) >= max(want-1, 1)
}

// flushLoop sends queued messages, in order, whenever the subscription is
// live and the other nodes are back; a failed PUBLISH marks the publisher
// broken and backs off.
func (t *Transport) flushLoop() {
	defer t.wg.Done()
	var backoff time.Duration
	retrying := false
	for {
		t.mu.Lock()
		for !t.closed && !(t.subUp && (len(t.queue) > 0 || t.pubBroken || !t.flushReady)) {
			t.cond.Wait()
		}
		if t.closed {
			t.mu.Unlock()
			return
		}
		if !t.flushReady {
			want := t.receivers
			t.mu.Unlock()
			t.awaitPeers(want)
			t.mu.Lock()
			if t.subUp {
				t.flushReady = true
			}
			t.mu.Unlock()
			continue
		}
		var head *queued
		echo := false
		var key string
		if len(t.queue) > 0 {
			q := t.queue[0]
			head = &q
			// Count the echo before sending: the copy may come back
			// before PUBLISH returns (a topic's only while subscribed).
			if q.local && (q.name == "" || t.liveNameLocked(q.name)) {
				key = echoKey(q.name, string(q.msg))
				t.echoes[key]++
				echo = true
			}
		}
		t.mu.Unlock()

		var err error
		if head != nil && head.name != "" && t.sharded {
			err = t.awaitTopicPeers(head.name)
		}
		switch {
		case err != nil:
		case head != nil:
			_, err = t.publish(t.ctx, head.name, head.msg)
		default:
			err = t.client.Ping(t.ctx).Err() // broken publisher, nothing queued
		}
		if err != nil {
			t.mu.Lock()
			if echo {
				if n := t.echoes[key]; n > 1 {
					t.echoes[key] = n - 1
				} else {
					delete(t.echoes, key)
				}
			}
			if t.ctx.Err() != nil {
				t.mu.Unlock()
				return
			}
			t.notePublishErrorLocked(err)
			logRetry := t.pubLogged && !retrying
			t.mu.Unlock()
			if errors.Is(err, errSlotMoved) {
				continue // to the new master at once, after its subscribers
			}
			backoff = t.nextBackoff(backoff)
			if !t.retrySleep(backoff, t.kickPub) {
				return
			}
			if logRetry {
				t.logf("Attempting reconnection to Redis (publisher %s)", t.where)
			}
			retrying = true
			continue
		}
		backoff, retrying = 0, false
		t.mu.Lock()
		if t.pubBroken {
			t.pubBroken = false
			if t.pubLogged {
				t.logf("Redis connection established (publisher %s)", t.where)
			}
			t.pubLogged = false
		}
		if head != nil && len(t.queue) > 0 && t.queue[0].seq == head.seq {
			t.queue[0] = queued{}
			t.queue = t.queue[1:]
		}
		if len(t.queue) == 0 && t.dropped > 0 {
			t.logf("Redis queue sent; %d messages were lost while Redis was away", t.dropped)
			t.dropped = 0
		}
		if len(t.queue) == 0 {
			t.peerChecked = nil
		}
		t.mu.Unlock()
	}
}

// goOnlyPrefix starts every message only Go nodes read ("reverb-go:*" types).
var goOnlyPrefix = []byte(`{"type":"reverb-go:`)

// forPHPNodes gives a Go-only message on the control channel an empty
// "application". PHP Reverb nodes listening there unserialize every
// message's application before looking at its type; without one that is
// unserialize(null), which PHP 8.1+ reports as a deprecation (a log line per
// message, every heartbeat, where Laravel logs deprecations), while
// unserialize("") is false without a notice. The message is then ignored
// as before; Go nodes do not read the field on these types.
func forPHPNodes(msg []byte) []byte {
	if !bytes.HasPrefix(msg, goOnlyPrefix) {
		return msg
	}
	out := make([]byte, 0, len(msg)+len(`"application":"",`))
	out = append(out, `{"application":"",`...)
	return append(out, msg[1:]...)
}
