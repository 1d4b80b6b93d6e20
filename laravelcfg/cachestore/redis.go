package cachestore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/reverb-go/reverb/laravelcfg/internal/cfgtree"
	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/laravelcfg/redisconn"
)

// redisStore is Laravel's RedisStore: the key is the Redis connection prefix
// (phpredis OPT_PREFIX / predis prefix, applied to every key) + the cache
// prefix (+ ':' up to Laravel 10) + FlagKey; numbers are stored as their
// raw decimal text with plain SET and no TTL.
//
// Concurrency: the go-redis client is safe for concurrent use; the other fields
// are set once by openRedis.
type redisStore struct {
	client redis.UniversalClient
	key    string
	// where names the server(s) (redisWhere); slot is " (slot N)" on a
	// cluster.
	where    string
	slot     string
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

func (r *resolver) openRedis(sc node) (Store, error) {
	connName, err := sc.StrOr("connection", "default")
	if err != nil {
		return nil, err
	}
	d, err := redisconn.Resolve(r.p, connName)
	if err != nil {
		return nil, err
	}
	cachePrefix, err := r.cachePrefix(sc, r.colon)
	if err != nil {
		return nil, err
	}
	st := &redisStore{key: d.Prefix + cachePrefix + FlagKey, warnings: append([]string(nil), d.Warnings...)}
	st.where = redisWhere(d)
	if d.Client != "predis" {
		if err := st.phpredisEncoding(node{Path: d.OptionsPath, Arr: d.Options}); err != nil {
			return nil, err
		}
	}
	st.client = d.NewClient(redisconn.ClientOptions{PoolSize: 2, MaxRetries: 1})
	if d.Mode == redisconn.Cluster {
		st.slot = fmt.Sprintf(" (slot %d)", clusterSlot(st.key))
	}
	return st, nil
}

// redisWhere names the server(s) for Location and errors:
// "127.0.0.1:6379 db 1", "tls://h:6380 db 0", "unix:/sock db 0",
// "sentinel mymaster via h1:26379,h2:26379 db 1", "cluster h1:7000,h2:7000".
func redisWhere(d *redisconn.Deployment) string {
	switch d.Mode {
	case redisconn.Sentinel, redisconn.Cluster:
		w := strings.TrimSuffix(d.Where(), " (tls)")
		if d.TLS != nil {
			w = "tls " + w
		}
		if d.Mode == redisconn.Sentinel && d.DB == 0 {
			w += " db 0"
		}
		return w
	}
	addr := d.Addrs[0]
	switch {
	case d.Network == "unix":
		addr = "unix:" + addr
	case d.TLS != nil:
		addr = "tls://" + addr
	}
	return fmt.Sprintf("%s db %d", addr, d.DB)
}

// clusterSlot is Redis Cluster's HASH_SLOT(key): CRC16 of the key, or of
// the first non-empty {hashtag}, modulo 16384.
func clusterSlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

func (s *redisStore) Read(ctx context.Context) (Flag, error) {
	b, err := s.client.Get(ctx, s.key).Bytes()
	if errors.Is(err, redis.Nil) {
		return Flag{}, nil
	}
	if err != nil {
		redisconn.Refresh(ctx, s.client)
		return Flag{}, fmt.Errorf("read restart flag from redis %s: %w", s.where, err)
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
		redisconn.Refresh(ctx, s.client)
		return fmt.Errorf("write restart flag to redis %s: %w", s.where, err)
	}
	return nil
}

func (s *redisStore) Location() string {
	return "redis " + s.where + " key " + s.key + s.slot
}

func (s *redisStore) WatchPath() string { return "" }

func (s *redisStore) Warnings() []string { return s.warnings }

func (s *redisStore) Close() error { return s.client.Close() }
