// Package redis is the cluster.Transport of horizontal scaling: every node
// (every worker process of every machine) publishes on and subscribes to
// one Redis pub/sub channel, scaling.channel, used verbatim as Reverb does
// (no REDIS_PREFIX). The bytes are the server's; PHP Reverb nodes on the
// same channel read ours and we read theirs.
//
// Faults. Reverb retries once a second and exits after `timeout` attempts.
// A node of ours never exits because Redis is away: while it is, local
// clients keep being served (our own publishes are delivered to this node
// at once), publishes wait in a bounded queue (the oldest dropped, with a
// log line, when full) and are sent when Redis is back; the subscriber
// re-subscribes; reconnection attempts back off exponentially up to a cap;
// the log says what happened with Reverb's titles.
package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/reverb-go/reverb/laravelcfg"
)

// Options configure a Transport.
type Options struct {
	Server laravelcfg.RedisServer
	// Channel is scaling.channel; empty means "reverb".
	Channel string
	// Log receives one line per connection event; nil discards.
	Log io.Writer
	// QueueLimit bounds the messages kept while Redis is away; zero
	// means 10000.
	QueueLimit int
	// MinBackoff and MaxBackoff bound the wait between reconnection
	// attempts (doubling from min to max). Zero means 250ms and 10s.
	MinBackoff, MaxBackoff time.Duration
	// DialTimeout bounds connecting and each command; zero means 5s.
	DialTimeout time.Duration
	// TLSConfig replaces the default TLS settings (system roots, server
	// name from the host) of a rediss:// or scheme-tls connection: a
	// private CA, client certificates.
	TLSConfig *tls.Config
	// GiveUpAfter is Reverb's `timeout`: after that long without Redis a
	// Reverb server exits. Ours keeps serving and retrying and logs once
	// that it is past this point. Zero means 60s.
	GiveUpAfter time.Duration
	// StartWait is how long Start waits for the first subscription before
	// it returns anyway (Redis may be down when the node starts: the node
	// serves local clients meanwhile). Zero means 5s.
	StartWait time.Duration
}

// Transport is a cluster.Transport over Redis pub/sub.
//
// Goroutines (all owned by the Transport, started by Start, stopped and
// awaited by Close): the subscriber (connects, subscribes, reads; one
// PubSub at a time), the flusher (sends queued messages once the
// subscriber is live again) and the deliverer (calls deliver, one message
// at a time, from the inbox both others and Publish feed).
//
// Lock story: mu guards every field below it; it is never held during
// network I/O or while deliver runs.
type Transport struct {
	opts     Options
	endpoint Endpoint
	client   *goredis.Client
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu      sync.Mutex
	cond    *sync.Cond // signalled on inbox, queue and state changes
	deliver func([]byte)
	started bool
	closed  bool
	// subUp is true while the subscription is confirmed live.
	subUp bool
	// pubBroken is set when a PUBLISH failed; cleared by a good one.
	pubBroken bool
	// queue holds messages not yet sent to Redis, in order.
	queue []queued
	// echoes counts messages already delivered locally that were then
	// sent to Redis: their copies coming back are skipped once each.
	// Cleared when the subscriber drops (no copy will come then).
	echoes map[string]int
	inbox  [][]byte
	seq    uint64 // last queued message's number
	// dropped counts messages lost to the queue bound since it was last
	// empty.
	dropped int
	// receivers is the last PUBLISH reply: how many nodes listened.
	receivers int
	// flushReady is false from a disconnection until the other nodes
	// are back (or a grace period passed): the queue waits for them.
	flushReady bool
	ps         *goredis.PubSub // the subscriber's current PubSub, for Close
	live       chan struct{}   // closed at the first live subscription
}

type queued struct {
	seq uint64
	msg []byte
	// local: delivered to this node already (its echo is skipped).
	local bool
}

// New checks the connection settings; Start connects.
func New(opts Options) (*Transport, error) {
	if opts.Channel == "" {
		opts.Channel = "reverb"
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.QueueLimit <= 0 {
		opts.QueueLimit = 10000
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 250 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = opts.MinBackoff
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.GiveUpAfter <= 0 {
		opts.GiveUpAfter = 60 * time.Second
	}
	if opts.StartWait <= 0 {
		opts.StartWait = 5 * time.Second
	}
	ep, err := ResolveEndpoint(opts.Server)
	if err != nil {
		return nil, err
	}
	quietGoRedis(opts.Log)
	t := &Transport{
		opts:     opts,
		endpoint: ep,
		client:   goredis.NewClient(ep.clientOptions(opts.DialTimeout, opts.TLSConfig)),
		echoes:   map[string]int{},
		live:     make(chan struct{}),
	}
	t.cond = sync.NewCond(&t.mu)
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return t, nil
}

// Endpoint is where the transport connects.
func (t *Transport) Endpoint() Endpoint { return t.endpoint }

var loggerOnce sync.Once

// quietGoRedis sends go-redis's own log lines (one process, one log) to
// our log instead of stderr.
func quietGoRedis(w io.Writer) {
	loggerOnce.Do(func() { goredis.SetLogger(redisLogger{w}) })
}

type redisLogger struct{ w io.Writer }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	fmt.Fprintf(l.w, "%s reverb: go-redis: %s\n", time.Now().Format(time.RFC3339), fmt.Sprintf(format, v...))
}

func (t *Transport) logf(format string, args ...any) {
	fmt.Fprintf(t.opts.Log, "%s reverb: %s\n", time.Now().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

// Start begins delivering and returns once the subscription is live, or
// after StartWait with Redis still away (the node then serves its own
// clients and keeps trying).
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
	wait := time.NewTimer(t.opts.StartWait)
	defer wait.Stop()
	select {
	case <-t.live:
	case <-wait.C:
		t.logf("Redis at %s is not reachable yet; serving local clients and retrying", t.endpoint)
	case <-ctx.Done():
	}
	return nil
}

// Publish sends msg to every node. While the link to Redis is healthy the
// reply is PUBLISH's (subscribers of the channel, this node included) and
// this node receives msg back through Redis like every other node, so all
// nodes see one order. While it is not, msg is delivered here at once,
// queued for the others, and the reply is 1.
func (t *Transport) Publish(ctx context.Context, msg []byte) (int, error) {
	t.mu.Lock()
	if t.closed || !t.started {
		t.mu.Unlock()
		return 0, errors.New("redis transport: not running")
	}
	if t.subUp && !t.pubBroken && len(t.queue) == 0 {
		t.mu.Unlock()
		n, err := t.client.Publish(ctx, t.opts.Channel, msg).Result()
		if err == nil {
			t.mu.Lock()
			t.receivers = int(n)
			t.mu.Unlock()
			return int(n), nil
		}
		if ctx.Err() != nil {
			return 0, err
		}
		t.mu.Lock()
		if !t.pubBroken && !t.closed {
			t.pubBroken = true
			t.logf("Disconnected from Redis (publisher %s): %v", t.endpoint, err)
		}
	}
	if t.closed {
		t.mu.Unlock()
		return 0, errors.New("redis transport: closed")
	}
	t.enqueueLocked(queued{msg: msg, local: true})
	t.inbox = append(t.inbox, msg)
	t.cond.Broadcast()
	t.mu.Unlock()
	return 1, nil
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
	ps := t.ps
	t.cond.Broadcast()
	t.mu.Unlock()
	t.cancel()
	if ps != nil {
		_ = ps.Close()
	}
	t.wg.Wait()
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
		m := t.inbox[0]
		t.inbox[0] = nil
		t.inbox = t.inbox[1:]
		d := t.deliver
		t.mu.Unlock()
		d(m)
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

func (t *Transport) nextBackoff(d time.Duration) time.Duration {
	if d <= 0 {
		return t.opts.MinBackoff
	}
	return min(2*d, t.opts.MaxBackoff)
}

// subscribeLoop owns the subscriber connection: subscribe, read until the
// connection fails, back off, again — until Close.
func (t *Transport) subscribeLoop() {
	defer t.wg.Done()
	var backoff time.Duration
	everUp := false
	downSince := time.Now()
	warned := false
	for attempt := 0; ; attempt++ {
		if t.ctx.Err() != nil {
			return
		}
		if attempt > 0 {
			backoff = t.nextBackoff(backoff)
			if !t.sleep(backoff) {
				return
			}
			if !warned && time.Since(downSince) >= t.opts.GiveUpAfter {
				warned = true
				t.logf("Failed to connect to Redis after retrying for %s; unlike Reverb this server keeps serving its own clients and retrying", t.opts.GiveUpAfter.Round(time.Second))
			}
			t.logf("Attempting reconnection to Redis (subscriber %s)", t.endpoint)
		}
		ps := t.client.Subscribe(t.ctx)
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			_ = ps.Close()
			return
		}
		t.ps = ps
		t.mu.Unlock()
		err := ps.Subscribe(t.ctx, t.opts.Channel)
		if err == nil {
			var up bool
			up, err = t.read(ps)
			if up {
				backoff, attempt, everUp = 0, 0, true
				downSince, warned = time.Now(), false
			}
		}
		t.mu.Lock()
		t.ps = nil
		wasUp := t.subUp
		t.subUp = false
		t.flushReady = false
		// No copy of what was sent will come back now.
		clear(t.echoes)
		closed := t.closed
		t.mu.Unlock()
		_ = ps.Close()
		if closed || t.ctx.Err() != nil {
			return
		}
		switch {
		case wasUp:
			t.logf("Disconnected from Redis (subscriber %s): %v", t.endpoint, err)
		case attempt == 0 && !everUp:
			t.logf("Cannot connect to Redis (subscriber %s): %v", t.endpoint, err)
		}
	}
}

// read processes the subscription until it fails. up says whether the
// subscription was confirmed at some point.
func (t *Transport) read(ps *goredis.PubSub) (up bool, err error) {
	// A ping after a quiet period finds a half-open connection: no answer
	// within another period means the link is gone.
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
			if m.Kind == "subscribe" && m.Channel == t.opts.Channel {
				up = true
				t.mu.Lock()
				t.subUp = true
				t.cond.Broadcast() // the flusher may send now
				t.mu.Unlock()
				t.logf("Redis connection established (%s, channel %s)", t.endpoint, t.opts.Channel)
				select {
				case <-t.live:
				default:
					close(t.live)
				}
			}
		case *goredis.Message:
			if m.Channel != t.opts.Channel {
				continue
			}
			msg := []byte(m.Payload)
			t.mu.Lock()
			if n := t.echoes[m.Payload]; n > 0 {
				if n == 1 {
					delete(t.echoes, m.Payload)
				} else {
					t.echoes[m.Payload] = n - 1
				}
			} else {
				t.inbox = append(t.inbox, msg)
				t.cond.Broadcast()
			}
			t.mu.Unlock()
		}
	}
}

// awaitPeers waits, after a reconnection, until as many nodes listen on
// the channel as listened before (so the queued messages reach the nodes
// that reconnect a little later than this one), for at most the longest
// reconnection backoff plus a second.
func (t *Transport) awaitPeers(want int) {
	deadline := time.Now().Add(t.opts.MaxBackoff + time.Second)
	for time.Now().Before(deadline) {
		counts, err := t.client.PubSubNumSub(t.ctx, t.opts.Channel).Result()
		if t.ctx.Err() != nil {
			return
		}
		if err == nil && int(counts[t.opts.Channel]) >= want {
			return
		}
		if !t.sleep(20 * time.Millisecond) {
			return
		}
	}
}

// flushLoop sends queued messages, in order, whenever the subscription is
// live; a failed PUBLISH marks the publisher broken and backs off.
func (t *Transport) flushLoop() {
	defer t.wg.Done()
	var backoff time.Duration
	for {
		t.mu.Lock()
		for !t.closed && !(t.subUp && (len(t.queue) > 0 || t.pubBroken)) {
			t.cond.Wait()
		}
		if t.closed {
			t.mu.Unlock()
			return
		}
		if !t.flushReady && len(t.queue) > 0 {
			want := t.receivers
			t.mu.Unlock()
			t.awaitPeers(want)
			t.mu.Lock()
			t.flushReady = true
			t.mu.Unlock()
			continue
		}
		var head *queued
		echo := false
		if len(t.queue) > 0 {
			q := t.queue[0]
			head = &q
			// Count the echo before sending: the copy may come back
			// before PUBLISH returns.
			if q.local {
				t.echoes[string(q.msg)]++
				echo = true
			}
		}
		t.mu.Unlock()

		var err error
		if head != nil {
			_, err = t.client.Publish(t.ctx, t.opts.Channel, head.msg).Result()
		} else {
			err = t.client.Ping(t.ctx).Err() // broken publisher, nothing queued
		}
		if err != nil {
			t.mu.Lock()
			if echo {
				if n := t.echoes[string(head.msg)]; n > 1 {
					t.echoes[string(head.msg)] = n - 1
				} else {
					delete(t.echoes, string(head.msg))
				}
			}
			if t.ctx.Err() != nil {
				t.mu.Unlock()
				return
			}
			if !t.pubBroken {
				t.pubBroken = true
				t.logf("Disconnected from Redis (publisher %s): %v", t.endpoint, err)
			}
			t.mu.Unlock()
			backoff = t.nextBackoff(backoff)
			if !t.sleep(backoff) {
				return
			}
			t.logf("Attempting reconnection to Redis (publisher %s)", t.endpoint)
			continue
		}
		backoff = 0
		t.mu.Lock()
		if t.pubBroken {
			t.pubBroken = false
			t.logf("Redis connection established (publisher %s)", t.endpoint)
		}
		if head != nil && len(t.queue) > 0 && t.queue[0].seq == head.seq {
			t.queue[0] = queued{}
			t.queue = t.queue[1:]
		}
		if len(t.queue) == 0 && t.dropped > 0 {
			t.logf("Redis queue sent; %d messages were lost while Redis was away", t.dropped)
			t.dropped = 0
		}
		t.mu.Unlock()
	}
}
