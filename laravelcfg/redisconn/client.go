package redisconn

import (
	"context"
	"crypto/tls"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ClientOptions are the caller's choices for a client: pool size,
// timeouts, retries. Zero values take the defaults noted.
type ClientOptions struct {
	// PoolSize is the connections per server; zero means go-redis' default.
	PoolSize int
	// MaxRetries is go-redis' retry count per command: -1 none, zero
	// go-redis' default (3).
	MaxRetries int
	// DialTimeout defaults to the connection's `timeout`, else 5s.
	DialTimeout time.Duration
	// ReadTimeout and WriteTimeout default to the connection's
	// `read_timeout`, else 5s.
	ReadTimeout, WriteTimeout time.Duration
	// DialerRetries is how often go-redis dials before a command fails;
	// zero means go-redis' default (5). Callers with their own reconnection
	// loop set 1.
	DialerRetries int
}

// NewClient opens the go-redis client for d: *redis.Client for one
// server, a FailoverClient (also a *redis.Client) that asks the sentinels
// for the master and follows failovers, or a *redis.ClusterClient. Nothing
// is dialled yet. Every client speaks RESP2 and skips CLIENT SETINFO, like
// phpredis, so any Redis 5+ (and managed services that refuse HELLO) works.
func (d *Deployment) NewClient(o ClientOptions) goredis.UniversalClient {
	dial := firstNonZero(o.DialTimeout, d.ConnectTimeout, 5*time.Second)
	read := firstNonZero(o.ReadTimeout, d.ReadTimeout, 5*time.Second)
	write := firstNonZero(o.WriteTimeout, d.ReadTimeout, 5*time.Second)
	tlsConfig := d.tlsConfig()
	switch d.Mode {
	case Sentinel:
		return goredis.NewFailoverClient(&goredis.FailoverOptions{
			MasterName:       d.Service,
			SentinelAddrs:    append([]string(nil), d.Addrs...),
			SentinelUsername: d.SentinelUsername,
			SentinelPassword: d.SentinelPassword,
			Username:         d.Username,
			Password:         d.Password,
			DB:               d.DB,
			Protocol:         2,
			DisableIdentity:  true,
			TLSConfig:        tlsConfig,
			PoolSize:         o.PoolSize,
			MaxRetries:       o.MaxRetries,
			DialerRetries:    o.DialerRetries,
			DialTimeout:      dial,
			ReadTimeout:      read,
			WriteTimeout:     write,
		})
	case Cluster:
		return goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs:           append([]string(nil), d.Addrs...),
			Username:        d.Username,
			Password:        d.Password,
			Protocol:        2,
			DisableIdentity: true,
			TLSConfig:       tlsConfig,
			PoolSize:        o.PoolSize,
			MaxRetries:      o.MaxRetries,
			DialerRetries:   o.DialerRetries,
			DialTimeout:     dial,
			ReadTimeout:     read,
			WriteTimeout:    write,
		})
	}
	return goredis.NewClient(&goredis.Options{
		Network:         d.Network,
		Addr:            d.Addrs[0],
		Username:        d.Username,
		Password:        d.Password,
		DB:              d.DB,
		Protocol:        2,
		DisableIdentity: true,
		TLSConfig:       tlsConfig,
		PoolSize:        o.PoolSize,
		MaxRetries:      o.MaxRetries,
		DialerRetries:   o.DialerRetries,
		DialTimeout:     dial,
		ReadTimeout:     read,
		WriteTimeout:    write,
	})
}

func (d *Deployment) tlsConfig() *tls.Config {
	if d.TLS == nil {
		return nil
	}
	if d.TLS.Config == nil {
		return &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return d.TLS.Config.Clone()
}

func firstNonZero(ds ...time.Duration) time.Duration {
	for _, d := range ds {
		if d > 0 {
			return d
		}
	}
	return 0
}

// NodeFor returns the client that serves key (or a pub/sub channel named
// like a key): on a ClusterClient the master of the key's hash slot, so
// commands whose answer is per node (PUBLISH's receiver count, PUBSUB
// NUMSUB) reach the node the subscribers of that channel are on; any other
// client is returned as it is.
func NodeFor(ctx context.Context, c goredis.UniversalClient, key string) (goredis.UniversalClient, error) {
	cc, ok := c.(*goredis.ClusterClient)
	if !ok {
		return c, nil
	}
	return cc.MasterForKey(ctx, key)
}

// Refresh is for a command that just failed on the network: a
// ClusterClient re-reads the slot map in the background, so a master that
// failed over is found by the next command instead of at go-redis'
// periodic reload (every minute). Other clients need nothing: a
// FailoverClient asks the sentinels on every new connection.
func Refresh(ctx context.Context, c goredis.UniversalClient) {
	if cc, ok := c.(*goredis.ClusterClient); ok {
		cc.ReloadState(ctx)
	}
}
