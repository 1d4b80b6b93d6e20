// Package redisconn resolves a Redis connection of a Laravel app exactly as
// Laravel's RedisManager and its phpredis/predis connectors do, and opens the
// matching go-redis client: a plain client for one server, a FailoverClient
// that follows Sentinel's failovers, or a ClusterClient for Redis Cluster.
//
// Every part of the program that talks to the app's Redis goes through it:
// the restart flag's cache store (laravelcfg/cachestore), the scaling
// transport (server/cluster/redis) and the Pulse ingest. One resolution, one
// constructor, so all of them accept every deployment Laravel can describe:
//
//	database.redis.NAME            one server (host/port/url/scheme/context/...)
//	database.redis.NAME (list)     predis: Sentinel (options.replication =
//	                               'sentinel', options.service) or Redis
//	                               Cluster (options.cluster = 'redis')
//	database.redis.clusters.NAME   Redis Cluster (phpredis or predis)
//
// plus Reverb's own scaling.server, which builds a plain redis[s]:// URL.
package redisconn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/internal/cfgtree"
	"github.com/reverb-go/reverb/laravelcfg/php"
)

// Mode is the shape of a deployment.
type Mode string

const (
	// Standalone is one Redis server (also predis' unmanaged master/replica
	// replication, where the Go side uses the master).
	Standalone Mode = "standalone"
	// Sentinel is a master found through Redis Sentinel; the client follows
	// failovers.
	Sentinel Mode = "sentinel"
	// Cluster is Redis Cluster.
	Cluster Mode = "cluster"
)

// Deployment is one resolved Redis connection: the servers, how to
// authenticate, TLS and the key prefix the PHP client applies. It is plain
// data; NewClient opens a client for it.
type Deployment struct {
	// Name is the connection name ("default", "cache", a cluster's name;
	// "scaling.server" for Reverb's own setting).
	Name string
	// Source is the config key the connection came from
	// ("database.redis.cache", "database.redis.clusters.main",
	// "reverb.servers.reverb.scaling.server").
	Source string
	// Client is "phpredis" or "predis" (config database.redis.client); empty
	// for Reverb's scaling.server, which has its own client.
	Client string
	Mode   Mode
	// Network is "tcp" or "unix" (a socket path in Addrs[0]).
	Network string
	// Addrs is the server ("host:port") for Standalone, the sentinels for
	// Sentinel, the seed nodes for Cluster.
	Addrs []string
	// Service is the Sentinel master name (options.service).
	Service string
	// Username and Password authenticate with the data nodes (AUTH, ACL
	// user when Username is set).
	Username, Password string
	// SentinelUsername and SentinelPassword authenticate with the sentinels.
	SentinelUsername, SentinelPassword string
	// DB is the database number (always 0 on a cluster).
	DB int
	// Prefix is the key prefix the PHP client adds to every key (phpredis
	// OPT_PREFIX, predis prefix); raw commands must add it by hand.
	Prefix string
	// TLS is nil for plain connections.
	TLS *TLS
	// ConnectTimeout and ReadTimeout are the connection's `timeout` and
	// `read_timeout` (predis `read_write_timeout`) when configured; zero
	// means unset (the caller's defaults apply).
	ConnectTimeout, ReadTimeout time.Duration
	// Options are the effective connection options after the connector's
	// merge (phpredis: config + redis.options + the connection's options),
	// for settings this package does not interpret (serializer,
	// compression). OptionsPath names them in messages.
	Options     *php.OrderedArray
	OptionsPath string
	// Warnings are findings an operator should know about (a setting PHP
	// reads differently, an option the Go side cannot honour).
	Warnings []string
}

// TLS is the TLS setup of a deployment, from the PHP SSL context options
// Laravel's config carries (phpredis `context`, predis `ssl`).
type TLS struct {
	CAFile, CAPath    string
	CertFile, KeyFile string
	PeerName          string
	VerifyPeer        bool
	VerifyPeerName    bool
	AllowSelfSigned   bool
	// Config is the ready client configuration (never shared: NewClient
	// clones it).
	Config *tls.Config
}

// ErrUnsupported wraps the error for deployments Laravel can describe but
// this implementation cannot reach (predis client-side sharding, custom
// Redis drivers, encrypted client keys).
var ErrUnsupported = errors.New("redis deployment not supported")

// Resolve is RedisManager::resolve($name) on config('database.redis'): the
// connection database.redis.NAME, else database.redis.clusters.NAME. An
// empty name (or "0") is "default", as in Laravel.
func Resolve(p *laravelcfg.Project, name string) (*Deployment, error) {
	if p == nil || p.Config.Kind() != php.Array {
		return nil, errors.New("redisconn: the project has no configuration tree")
	}
	root := cfgtree.Node{Arr: p.Config.ArrayVal()}
	db, err := root.Sub("database")
	if err != nil {
		return nil, err
	}
	rc, err := db.Sub("redis")
	if err != nil {
		return nil, err
	}
	return resolve(rc, name)
}

// ScalingEnv is the environment variable naming the scaling connection when
// config/reverb.php has no scaling.connection.
const ScalingEnv = laravelcfg.ScalingConnectionEnv

// ForScaling is the Redis deployment the scaling transport uses: the
// connection named by scaling.connection (REVERB_SCALING_CONNECTION), else
// Reverb's scaling.server (database.redis.default when that is empty),
// read the way Reverb reads it.
func ForScaling(p *laravelcfg.Project) (*Deployment, error) {
	sc := p.Reverb.Server.Scaling
	if sc.Connection == "" {
		return FromReverbServer(sc.Server)
	}
	d, err := Resolve(p, sc.Connection)
	if err != nil {
		return nil, fmt.Errorf("scaling connection [%s] (%s): %w", sc.Connection, sc.ConnectionFrom, err)
	}
	return d, nil
}

// errf is fmt.Errorf with the "config KEY: " prefix every message here has.
func errf(key, format string, args ...any) error {
	return fmt.Errorf("config "+key+": "+format, args...)
}
