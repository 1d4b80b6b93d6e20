package redis

import (
	"io"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/redisconn"
)

// Options configure a Transport.
type Options struct {
	// Redis is the deployment to scale over: a connection of
	// config/database.php (redisconn.ForScaling) — one server, Sentinel or
	// Cluster. Nil means Server, read as Reverb reads scaling.server.
	Redis *redisconn.Deployment
	// Server is Reverb's scaling.server, used when Redis is nil.
	Server laravelcfg.RedisServer
	// Channel is scaling.channel; empty means "reverb".
	Channel string
	// RoutingFrom names the setting that turned the interest routing on
	// (laravelcfg.Scaling.RoutingFrom: the config key or
	// REVERB_SCALING_ROUTING), for messages; empty names both.
	RoutingFrom string
	// Log receives one line per connection event; nil discards.
	Log io.Writer
	// QueueLimit bounds the messages kept while Redis is away; zero
	// means 10000.
	QueueLimit int
	// MinBackoff and MaxBackoff bound the wait between reconnection
	// attempts (doubling from min to max). Zero means 250ms and, for one
	// server, 10s; for Sentinel and Cluster 500ms, since the next attempt
	// goes to the newly elected master (on Sentinel, a +switch-master
	// announcement also starts the next attempt at once).
	MinBackoff, MaxBackoff time.Duration
	// DialTimeout bounds connecting and each command; zero means 5s.
	DialTimeout time.Duration
	// GiveUpAfter is Reverb's `timeout`: after that long without Redis a
	// Reverb server exits. Ours keeps serving and retrying and logs once
	// that it is past this point. Zero means 60s.
	GiveUpAfter time.Duration
	// StartWait is how long Start waits for the first subscription before
	// it returns anyway (Redis may be down when the node starts: the node
	// serves local clients meanwhile). Zero means 5s.
	StartWait time.Duration
	// FollowInterval is how often, on Sentinel and Cluster, the subscriber
	// checks that it still sits on the master the publishes go to (after
	// a planned failover the old master stays up as a replica); zero means
	// 1s.
	FollowInterval time.Duration
	// Linger is how long the interest-routed mode keeps a topic subscribed
	// after nobody on this node wants it any more (a channel that empties
	// and fills again costs no UNSUBSCRIBE and SUBSCRIBE); zero means 30s,
	// negative none.
	Linger time.Duration
	// LiveWait is how long a wanted topic waits for Redis to confirm its
	// subscription before the node acknowledges its subscribers anyway
	// (Redis is away: they get the other nodes' events once it is back);
	// zero means 2s.
	LiveWait time.Duration
}

// withDefaults fills the zero values (the deployment must be set).
func (o Options) withDefaults() Options {
	if o.Channel == "" {
		o.Channel = "reverb"
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.QueueLimit <= 0 {
		o.QueueLimit = 10000
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 250 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
		if o.Redis.Mode != redisconn.Standalone {
			o.MaxBackoff = 500 * time.Millisecond
		}
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.GiveUpAfter <= 0 {
		o.GiveUpAfter = 60 * time.Second
	}
	if o.StartWait <= 0 {
		o.StartWait = 5 * time.Second
	}
	if o.FollowInterval <= 0 {
		o.FollowInterval = time.Second
	}
	if o.Linger == 0 {
		o.Linger = 30 * time.Second
	}
	if o.LiveWait <= 0 {
		o.LiveWait = 2 * time.Second
	}
	return o
}
