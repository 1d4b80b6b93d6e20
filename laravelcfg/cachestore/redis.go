package cachestore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/reverb-go/reverb/laravelcfg/internal/cfgtree"
	"github.com/reverb-go/reverb/laravelcfg/php"
)

// redisStore is Laravel's RedisStore: the key is the Redis connection prefix
// (phpredis OPT_PREFIX / predis prefix, applied to every key) + the cache
// prefix (+ ':' up to Laravel 10) + FlagKey; numbers are stored as their
// raw decimal text with plain SET and no TTL.
//
// Concurrency: *redis.Client is safe for concurrent use; the other fields
// are set once by openRedis.
type redisStore struct {
	client   *redis.Client
	key      string
	addr     string // for Location: "127.0.0.1:6379", "tls://h:6380", "unix:/sock"
	db       int
	warnings []string
	// serializer is the phpredis OPT_SERIALIZER the connection sets (0 none,
	// 1 php, 4 json are written; others only read).
	serializer int64
	// writeBlocked is set when a phpredis serializer or compression option
	// means Go cannot produce the bytes PHP would store.
	writeBlocked string
}

// phpredis serializer numbers (Redis::SERIALIZER_*).
const (
	serializerNone = 0
	serializerPHP  = 1
	serializerJSON = 4
)

// phpredisEncoding reads the connection's phpredis serializer and
// compression options. RedisStore hands numbers to phpredis unserialized, so
// with a serializer phpredis encodes the int itself: serialize() gives
// i:<n>;, JSON gives the digits. igbinary/msgpack and any compression are
// binary formats Go does not reproduce: reading still detects changes (the
// bytes differ), writing is refused with a warning.
func (s *redisStore) phpredisEncoding(m node) error {
	if v, ok := m.Get("serializer"); ok && !v.IsNull() {
		n := int64(-1)
		if !v.IsUnknown() {
			var err error
			if n, err = cfgtree.Int(v, m.KeyPath("serializer")); err != nil {
				return err
			}
		}
		switch n {
		case serializerNone, serializerPHP, serializerJSON:
			s.serializer = n
		default:
			s.block(m.KeyPath("serializer"), v)
		}
	}
	if v, ok := m.Get("compression"); ok && (v.IsUnknown() || !cfgtree.Empty(v)) {
		s.block(m.KeyPath("compression"), v)
	}
	return nil
}

func (s *redisStore) block(path string, v php.Value) {
	desc := "set"
	if str, err := cfgtree.String(v, ""); err == nil {
		desc = strconv.Quote(str)
	}
	s.writeBlocked = fmt.Sprintf("config %s is %s: phpredis encodes the stored value in a format the Go side does not write; run php artisan reverb:restart instead", path, desc)
	s.warnings = append(s.warnings, fmt.Sprintf("config %s is %s: the restart flag is still detected (any change of the stored bytes), but `reverb restart` cannot write it; use php artisan reverb:restart", path, desc))
}

// redisConnConfig is the effective configuration of one Redis connection
// after RedisManager and the connector merged it.
type redisConnConfig struct {
	client string // "phpredis" or "predis"
	merged node
}

// resolveRedisConnection is RedisManager::resolve($name) followed by the
// connector's option merge.
func (r *resolver) resolveRedisConnection(name string) (redisConnConfig, error) {
	db, err := r.config.Sub("database")
	if err != nil {
		return redisConnConfig{}, err
	}
	rc, err := db.Sub("redis")
	if err != nil {
		return redisConnConfig{}, err
	}
	client, err := rc.StrOr("client", "phpredis")
	if err != nil {
		return redisConnConfig{}, err
	}
	if name == "" {
		name = "default"
	}
	conn, err := rc.Sub(name)
	if err != nil {
		return redisConnConfig{}, err
	}
	if conn.Arr == nil {
		clusters, _ := rc.Sub("clusters")
		if v, ok := clusters.Get(name); ok && !v.IsNull() {
			return redisConnConfig{}, fmt.Errorf("config %s.%s: Redis connection [%s] is a cluster: %w: Redis Cluster for the cache store; use a single-node connection", clusters.Path, name, name, ErrUnsupported)
		}
		return redisConnConfig{}, fmt.Errorf("config %s is missing: Redis connection [%s] not configured", conn.Path, name)
	}
	// parseConnectionConfiguration: the url, then driver tcp/tls → scheme.
	if conn, err = cfgtree.ApplyURL(conn); err != nil {
		return redisConnConfig{}, err
	}
	options, err := rc.Sub("options")
	if err != nil {
		return redisConnConfig{}, err
	}
	connOptions, err := conn.Sub("options")
	if err != nil {
		return redisConnConfig{}, err
	}
	merged := php.NewArray()
	for i, k := range conn.Arr.Keys {
		if !k.IsInt && (k.S == "options" || k.S == "driver") {
			continue
		}
		merged.Set(k, conn.Arr.Values[i])
	}
	if d, ok := conn.Get("driver"); ok {
		if s, _ := cfgtree.String(d, ""); strings.EqualFold(s, "tcp") || strings.EqualFold(s, "tls") {
			merged.Set(php.StringKey("scheme"), php.StringValue(strings.ToLower(s)))
		}
	}
	connPrefix, hasConnPrefix := conn.Get("prefix")
	for _, src := range []node{options, connOptions} {
		if src.Arr == nil {
			continue
		}
		for i, k := range src.Arr.Keys {
			if src.Path == options.Path && !k.IsInt && k.S == "parameters" {
				continue
			}
			merged.Set(k, src.Arr.Values[i])
		}
	}
	// The connectors let a prefix set directly on the connection win.
	if hasConnPrefix && !connPrefix.IsNull() {
		merged.Set(php.StringKey("prefix"), connPrefix)
	}
	return redisConnConfig{client: client, merged: node{Path: conn.Path, Arr: merged}}, nil
}

func (r *resolver) openRedis(sc node) (Store, error) {
	connName, err := sc.StrOr("connection", "default")
	if err != nil {
		return nil, err
	}
	rcc, err := r.resolveRedisConnection(connName)
	if err != nil {
		return nil, err
	}
	m := rcc.merged
	st := &redisStore{}

	// The connection prefix: phpredis sets OPT_PREFIX only when
	// ! empty($config['prefix']) (so "0" is no prefix); predis takes any
	// non-null prefix.
	connPrefix := ""
	if v, ok := m.Get("prefix"); ok && !v.IsNull() && (rcc.client == "predis" || !cfgtree.Empty(v)) {
		if connPrefix, err = cfgtree.String(v, m.KeyPath("prefix")); err != nil {
			return nil, err
		}
	}
	cachePrefix, err := r.cachePrefix(sc, r.colon)
	if err != nil {
		return nil, err
	}
	st.key = connPrefix + cachePrefix + FlagKey

	opt, err := redisOptions(m)
	if err != nil {
		return nil, err
	}
	st.db = opt.DB
	st.addr = opt.Addr
	if opt.Network == "unix" {
		st.addr = "unix:" + opt.Addr
	} else if opt.TLSConfig != nil {
		st.addr = "tls://" + opt.Addr
	}

	if rcc.client != "predis" {
		if err := st.phpredisEncoding(m); err != nil {
			return nil, err
		}
	}

	st.client = redis.NewClient(opt)
	return st, nil
}

// redisOptions translates the merged connection config the way
// PhpRedisConnector::createClient uses it: host (with scheme), port,
// username + password (AUTH only with a non-empty password), database
// ((int) cast, SELECT), tls scheme.
func redisOptions(m node) (*redis.Options, error) {
	host, err := m.StrOr("host", "127.0.0.1")
	host = cfgtree.DialHost(host)
	if err != nil {
		return nil, err
	}
	port, err := m.StrOr("port", "6379")
	if err != nil {
		return nil, err
	}
	scheme, err := m.StrOr("scheme", "")
	if err != nil {
		return nil, err
	}
	// A host written with its scheme ("tls://cache.example").
	if before, after, ok := strings.Cut(host, "://"); ok {
		scheme, host = before, after
	}
	opt := &redis.Options{
		Protocol:        2, // plain AUTH/SELECT like phpredis; works with every server version
		DisableIdentity: true,
		DialTimeout:     5 * time.Second,
		ReadTimeout:     5 * time.Second,
		WriteTimeout:    5 * time.Second,
		PoolSize:        2,
		MaxRetries:      1,
	}
	switch strings.ToLower(scheme) {
	case "", "tcp", "redis":
	case "tls", "ssl", "rediss":
		if opt.TLSConfig, err = redisTLSConfig(m, host); err != nil {
			return nil, err
		}
	case "unix":
		opt.Network = "unix"
	default:
		return nil, fmt.Errorf("config %s.scheme: unsupported Redis scheme %q (tcp or tls)", m.Path, scheme)
	}
	if strings.HasPrefix(host, "/") {
		opt.Network = "unix"
	}
	if opt.Network == "unix" {
		opt.Addr = host
	} else {
		p := php.StringValue(port).ToInt()
		if p <= 0 || p > 65535 {
			return nil, fmt.Errorf("config %s.port: %q is not a port", m.Path, port)
		}
		opt.Addr = net.JoinHostPort(host, strconv.FormatInt(p, 10))
	}
	if pw, ok := m.Get("password"); ok && !cfgtree.Empty(pw) {
		if opt.Password, err = cfgtree.String(pw, m.KeyPath("password")); err != nil {
			return nil, err
		}
		if opt.Username, err = m.StrOr("username", ""); err != nil {
			return nil, err
		}
	}
	if v, ok := m.Get("database"); ok && !v.IsNull() {
		n, err := cfgtree.Int(v, m.KeyPath("database"))
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, fmt.Errorf("config %s.database: %d is not a Redis database number", m.Path, n)
		}
		opt.DB = int(n)
	}
	return opt, nil
}

func (s *redisStore) Read(ctx context.Context) (Flag, error) {
	b, err := s.client.Get(ctx, s.key).Bytes()
	if errors.Is(err, redis.Nil) {
		return Flag{}, nil
	}
	if err != nil {
		return Flag{}, fmt.Errorf("read restart flag from redis %s db %d: %w", s.addr, s.db, err)
	}
	return Flag{Present: true, Raw: b}, nil
}

func (s *redisStore) Write(ctx context.Context, ts int64) error {
	if s.writeBlocked != "" {
		return errors.New(s.writeBlocked)
	}
	value := strconv.FormatInt(ts, 10)
	if s.serializer == serializerPHP {
		value = "i:" + value + ";"
	}
	if err := s.client.Set(ctx, s.key, value, 0).Err(); err != nil {
		return fmt.Errorf("write restart flag to redis %s db %d: %w", s.addr, s.db, err)
	}
	return nil
}

func (s *redisStore) Location() string {
	return fmt.Sprintf("redis %s db %d key %s", s.addr, s.db, s.key)
}

func (s *redisStore) WatchPath() string { return "" }

func (s *redisStore) Warnings() []string { return s.warnings }

func (s *redisStore) Close() error { return s.client.Close() }

// redisTLSConfig builds the TLS client config from PHP's SSL context options
// where Laravel apps put them: phpredis 'context' => ['stream' => [...]] (or
// the options directly in 'context'), predis 'ssl' => [...]. Supported:
// cafile, verify_peer, verify_peer_name, peer_name, local_cert, local_pk.
func redisTLSConfig(m node, host string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	var ssl node
	for _, path := range [][]string{{"context", "stream"}, {"context"}, {"ssl"}} {
		n := m
		for _, k := range path {
			var err error
			if n, err = n.Sub(k); err != nil {
				return nil, err
			}
		}
		if n.Arr != nil && n.Arr.Len() > 0 {
			if _, nested := n.Get("stream"); !nested {
				ssl = n
				break
			}
		}
	}
	if ssl.Arr == nil {
		return cfg, nil
	}
	str := func(k string) (string, error) { return ssl.StrOr(k, "") }
	isFalse := func(k string) bool {
		v, ok := ssl.Get(k)
		return ok && !v.IsNull() && cfgtree.Empty(v)
	}
	if name, err := str("peer_name"); err != nil {
		return nil, err
	} else if name != "" {
		cfg.ServerName = name
	}
	if ca, err := str("cafile"); err != nil {
		return nil, err
	} else if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("config %s.cafile: %w", ssl.Path, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("config %s.cafile: %s holds no PEM certificate", ssl.Path, ca)
		}
		cfg.RootCAs = pool
	}
	cert, err := str("local_cert")
	if err != nil {
		return nil, err
	}
	key, err := str("local_pk")
	if err != nil {
		return nil, err
	}
	if cert != "" {
		if key == "" {
			key = cert // PHP allows the key inside the local_cert PEM
		}
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("config %s.local_cert: %w", ssl.Path, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	switch {
	case isFalse("verify_peer"):
		cfg.InsecureSkipVerify = true
	case isFalse("verify_peer_name"):
		// Verify the chain but not the name, as PHP does with
		// verify_peer_name => false.
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			certs := make([]*x509.Certificate, 0, len(raw))
			for _, r := range raw {
				c, err := x509.ParseCertificate(r)
				if err != nil {
					return err
				}
				certs = append(certs, c)
			}
			if len(certs) == 0 {
				return errors.New("redis TLS: no server certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range certs[1:] {
				inter.AddCert(c)
			}
			_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return cfg, nil
}
