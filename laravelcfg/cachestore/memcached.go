package cachestore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/reverb-go/reverb/laravelcfg/internal/cfgtree"
	"github.com/reverb-go/reverb/laravelcfg/php"
)

// memcachedIntFlags is the item flags ext-memcached stores with a PHP int
// (MEMC_VAL_IS_LONG).
const memcachedIntFlags = 1

// flagsMarker separates the value from its item flags in Flag.Raw for the
// memcached store, so a change of the stored type is a change of Raw.
const flagsMarker = "\x00flags="

// memcachedStore is Laravel's MemcachedStore over ext-memcached: key =
// prefix (+ ':' up to Laravel 10) + FlagKey, an int stored as decimal text
// with flags 1, no expiry.
//
// Concurrency: *memcache.Client is safe for concurrent use; the rest is set
// once by openMemcached.
type memcachedStore struct {
	client  *memcache.Client
	key     string
	servers []string
	warn    []string
}

func (r *resolver) openMemcached(sc node) (Store, error) {
	sasl, err := sc.Sub("sasl")
	if err != nil {
		return nil, err
	}
	// CacheManager passes array_filter($config['sasl']); the connector
	// authenticates only when two non-empty credentials remain.
	if sasl.Arr != nil {
		n := 0
		for _, v := range sasl.Arr.Values {
			if !cfgtree.Empty(v) {
				n++
			}
		}
		if n == 2 {
			return nil, fmt.Errorf("config %s: %w: memcached SASL authentication (binary protocol); unset MEMCACHED_USERNAME/MEMCACHED_PASSWORD or use a redis/database/file cache store", sasl.Path, ErrUnsupported)
		}
	}
	list, err := sc.Sub("servers")
	if err != nil {
		return nil, err
	}
	if list.Arr == nil || list.Arr.Len() == 0 {
		return nil, fmt.Errorf("config %s: no memcached servers configured", list.Path)
	}
	st := &memcachedStore{}
	var addrs []net.Addr
	for i, v := range list.Arr.Values {
		path := list.Path + "." + list.Arr.Keys[i].String()
		if v.IsUnknown() {
			return nil, cfgtree.UnknownErr(path, v)
		}
		if v.Kind() != php.Array {
			return nil, fmt.Errorf("config %s: expected an array with host and port, got %s", path, v.TypeName())
		}
		srv := node{Path: path, Arr: v.ArrayVal()}
		host, err := srv.StrOr("host", "127.0.0.1")
		host = cfgtree.DialHost(host)
		if err != nil {
			return nil, err
		}
		port, err := srv.StrOr("port", "11211")
		if err != nil {
			return nil, err
		}
		var addr net.Addr
		if strings.HasPrefix(host, "/") {
			addr, err = net.ResolveUnixAddr("unix", host)
			st.servers = append(st.servers, "unix:"+host)
		} else {
			hp := net.JoinHostPort(host, strconv.FormatInt(php.StringValue(port).ToInt(), 10))
			addr, err = net.ResolveTCPAddr("tcp", hp)
			st.servers = append(st.servers, hp)
		}
		if err != nil {
			return nil, fmt.Errorf("config %s: %v", srv.Path, err)
		}
		addrs = append(addrs, addr)
	}
	if opts, _ := sc.Sub("options"); opts.Arr != nil && opts.Arr.Len() > 0 {
		st.warn = append(st.warn, fmt.Sprintf("config %s sets Memcached options; the Go side ignores them (a prefix or distribution option there changes where PHP stores the flag)", opts.Path))
	}
	prefix, err := r.cachePrefix(sc, r.colon)
	if err != nil {
		return nil, err
	}
	st.key = prefix + FlagKey
	st.client = memcache.NewFromSelector(&modulaSelector{addrs: addrs})
	st.client.Timeout = 5 * time.Second
	st.client.MaxIdleConns = 2
	return st, nil
}

// modulaSelector picks servers as libmemcached does with ext-memcached's
// defaults: MEMCACHED_DISTRIBUTION_MODULA over the servers in the order they
// were added, with the default one-at-a-time hash (weights are ignored by
// that distribution).
//
// Concurrency: addrs is read-only after open, so the selector needs no lock.
type modulaSelector struct {
	addrs []net.Addr
}

func (m *modulaSelector) PickServer(key string) (net.Addr, error) {
	if len(m.addrs) == 0 {
		return nil, memcache.ErrNoServers
	}
	return m.addrs[oneAtATime(key)%uint32(len(m.addrs))], nil
}

func (m *modulaSelector) Each(f func(net.Addr) error) error {
	for _, a := range m.addrs {
		if err := f(a); err != nil {
			return err
		}
	}
	return nil
}

// oneAtATime is libhashkit's hashkit_one_at_a_time. libmemcached reads the
// key as (signed) char, so bytes >= 0x80 are sign-extended.
func oneAtATime(key string) uint32 {
	var v uint32
	for i := 0; i < len(key); i++ {
		v += uint32(int32(int8(key[i])))
		v += v << 10
		v ^= v >> 6
	}
	v += v << 3
	v ^= v >> 11
	v += v << 15
	return v
}

func (s *memcachedStore) Read(ctx context.Context) (Flag, error) {
	if err := ctx.Err(); err != nil {
		return Flag{}, err
	}
	it, err := s.client.Get(s.key)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return Flag{}, nil
	}
	if err != nil {
		return Flag{}, fmt.Errorf("read restart flag from memcached %s: %w", strings.Join(s.servers, ","), err)
	}
	raw := append(append([]byte{}, it.Value...), flagsMarker+strconv.FormatUint(uint64(it.Flags), 10)...)
	return Flag{Present: true, Raw: raw}, nil
}

func (s *memcachedStore) Write(ctx context.Context, ts int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.client.Set(&memcache.Item{Key: s.key, Value: []byte(strconv.FormatInt(ts, 10)), Flags: memcachedIntFlags})
	if err != nil {
		return fmt.Errorf("write restart flag to memcached %s: %w", strings.Join(s.servers, ","), err)
	}
	return nil
}

func (s *memcachedStore) Location() string {
	return fmt.Sprintf("memcached %s key %s", strings.Join(s.servers, ","), s.key)
}

func (s *memcachedStore) WatchPath() string { return "" }

func (s *memcachedStore) Warnings() []string { return s.warn }

func (s *memcachedStore) Close() error { return s.client.Close() }
