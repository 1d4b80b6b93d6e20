package redis

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/reverb-go/reverb/laravelcfg/redisconn"
)

// masterFinder says which server the channel's publishes go to now: on
// Sentinel the master the sentinels name (go-redis' FailoverClient dials
// the same one), on Cluster the master of the channel's hash slot in the
// ClusterClient's slot map (PUBLISH goes there, see Transport.publish).
//
// Lock story: mu guards the sentinel clients and the index of the last
// one that answered; find is called by the subscriber and the follower.
type masterFinder struct {
	cluster *goredis.ClusterClient // Cluster
	channel string

	// switched is signalled when a sentinel announces +switch-master for
	// the service (the follower then checks at once).
	switched chan struct{}

	mu        sync.Mutex
	service   string                    // Sentinel's master name
	sentinels []*goredis.SentinelClient // one per configured sentinel
	good      int
}

// newMasterFinder returns nil for one server: nothing moves there.
func newMasterFinder(d *redisconn.Deployment, c goredis.UniversalClient, channel string, timeout time.Duration) *masterFinder {
	switch d.Mode {
	case redisconn.Cluster:
		cc, _ := c.(*goredis.ClusterClient)
		return &masterFinder{cluster: cc, channel: channel}
	case redisconn.Sentinel:
		f := &masterFinder{channel: channel, service: d.Service, switched: make(chan struct{}, 1)}
		for _, addr := range d.Addrs {
			o := &goredis.Options{Addr: addr, Username: d.SentinelUsername, Password: d.SentinelPassword,
				Protocol: 2, DisableIdentity: true, MaxRetries: -1, DialerRetries: 1, PoolSize: 1,
				DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout}
			if d.TLS != nil && d.TLS.Config != nil {
				o.TLSConfig = d.TLS.Config.Clone()
			}
			f.sentinels = append(f.sentinels, goredis.NewSentinelClient(o))
		}
		return f
	}
	return nil
}

// find returns the current master's "host:port".
func (f *masterFinder) find(ctx context.Context) (string, error) {
	if f.cluster != nil {
		node, err := f.cluster.MasterForKey(ctx, f.channel)
		if err != nil {
			return "", err
		}
		return node.Options().Addr, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var err error
	for i := range f.sentinels {
		k := (f.good + i) % len(f.sentinels)
		var a []string
		if a, err = f.sentinels[k].GetMasterAddrByName(ctx, f.service).Result(); err == nil && len(a) == 2 {
			f.good = k
			return net.JoinHostPort(a[0], a[1]), nil
		}
	}
	return "", err
}

// watchSwitches listens to the sentinels' +switch-master announcements
// (one sentinel at a time, the next one when it fails) and signals
// switched, so a planned failover moves the subscription within moments
// rather than at the next periodic check. It returns when ctx ends.
func (f *masterFinder) watchSwitches(ctx context.Context) {
	for i := 0; ctx.Err() == nil; i++ {
		f.mu.Lock()
		sc := f.sentinels[(f.good+i)%len(f.sentinels)]
		f.mu.Unlock()
		ps := sc.Subscribe(ctx, "+switch-master")
		stop := context.AfterFunc(ctx, func() { _ = ps.Close() }) // unblocks a read at Close
		for ctx.Err() == nil {
			// Sentinels say hello every 2 s; a quiet second is not an error.
			msg, err := ps.ReceiveTimeout(ctx, time.Second)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if err != nil {
				break
			}
			if m, ok := msg.(*goredis.Message); ok {
				if name, _, _ := strings.Cut(m.Payload, " "); name == f.service {
					select {
					case f.switched <- struct{}{}:
					default:
					}
				}
			}
		}
		stop()
		_ = ps.Close()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (f *masterFinder) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.sentinels {
		_ = s.Close()
	}
}

// followLoop checks every FollowInterval (and on Sentinel at once when a
// sentinel announces +switch-master) that a live subscription sits on the
// current master and, when the master moved while the old one stayed up
// (a planned failover: it is a replica now and its PUBLISH replies would
// no longer count the nodes), closes the subscription so the subscriber
// makes it again on the new master. The move takes a round trip; messages
// published to the new master in that moment miss this node.
func (t *Transport) followLoop() {
	defer t.wg.Done()
	tick := time.NewTicker(t.opts.FollowInterval)
	defer tick.Stop()
	var switched chan struct{}
	if t.master.switched != nil {
		switched = t.master.switched
		t.wg.Add(1)
		go func() { // owned by the follower's Transport; ends with t.ctx
			defer t.wg.Done()
			t.master.watchSwitches(t.ctx)
		}()
	}
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
		case <-switched:
		}
		t.mu.Lock()
		up, sub, ps := t.subUp, t.subAddr, t.ps
		t.mu.Unlock()
		if !up {
			// Reconnecting: a new master may be up now.
			t.kickRetries()
			continue
		}
		if sub == "" || ps == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(t.ctx, t.opts.DialTimeout)
		now, err := t.master.find(ctx)
		cancel()
		if err != nil || now == "" || now == sub {
			continue
		}
		t.mu.Lock()
		if t.ps != ps || t.closed {
			t.mu.Unlock()
			continue
		}
		t.moving = true
		t.mu.Unlock()
		t.logf("Redis master for channel %s moved from %s to %s: subscribing there", t.opts.Channel, sub, now)
		_ = ps.Close()
	}
}
