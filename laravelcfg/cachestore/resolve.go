package cachestore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
)

// failoverProbeTimeout bounds the Read that decides whether a store listed in
// a failover store is reachable.
const failoverProbeTimeout = 5 * time.Second

// resolver turns config('cache') into a Store the way Laravel's CacheManager
// does. It lives only for one Open call.
type resolver struct {
	p      *laravelcfg.Project
	config node // the whole merged config tree
	cache  node // config('cache')
	// colon is true when Redis/Memcached/DynamoDB stores append ':' to a
	// non-empty prefix (Laravel 10 and older; removed in 11).
	colon bool
}

func newResolver(p *laravelcfg.Project) (*resolver, error) {
	if p == nil {
		return nil, errors.New("cachestore: no project")
	}
	if p.Config.Kind() != php.Array {
		return nil, errors.New("cachestore: the project has no configuration tree")
	}
	r := &resolver{p: p, config: node{arr: p.Config.ArrayVal()}}
	var err error
	if r.cache, err = r.config.sub("cache"); err != nil {
		return nil, err
	}
	r.colon = usesPrefixColon(p.LaravelMajor)
	return r, nil
}

// usesPrefixColon reports whether the Laravel major version's Redis,
// Memcached and DynamoDB stores separate prefix and key with ':'. An unknown
// version (0) is treated as the newest, like the rest of laravelcfg.
func usesPrefixColon(major int) bool { return major > 0 && major <= 10 }

// defaultStore is config('cache.default').
func (r *resolver) defaultStore() (string, error) {
	name, ok, err := r.cache.str("default")
	if err != nil {
		return "", err
	}
	if !ok || name == "" {
		return "", errors.New("config cache.default is empty: no default cache store (set CACHE_STORE, or CACHE_DRIVER for a Laravel 10 config/cache.php)")
	}
	return name, nil
}

// open builds the store named name; depth guards failover stores listing
// each other.
func (r *resolver) open(name string, depth int) (Store, error) {
	if depth > 8 {
		return nil, fmt.Errorf("cache store [%s]: failover stores nest too deep (a loop?)", name)
	}
	stores, err := r.cache.sub("stores")
	if err != nil {
		return nil, err
	}
	sc, err := stores.sub(name)
	if err != nil {
		return nil, err
	}
	if sc.arr == nil {
		return nil, fmt.Errorf("config %s is missing: Cache store [%s] is not defined", sc.path, name)
	}
	driver, _, err := sc.str("driver")
	if err != nil {
		return nil, err
	}
	switch driver {
	case "file":
		return r.openFile(sc)
	case "database":
		return r.openDatabase(sc)
	case "redis":
		return r.openRedis(sc)
	case "memcached":
		return r.openMemcached(sc)
	case "failover":
		return r.openFailover(name, sc, depth)
	case "array", "null", "apc", "octane", "session":
		return nil, notShared(name, driver, r.p.LaravelMajor)
	case "dynamodb":
		return nil, fmt.Errorf("cache store [%s] (driver dynamodb): %w: the Go server has no DynamoDB client; use a redis, database, file or memcached store for the default cache", name, ErrUnsupported)
	case "storage":
		return nil, fmt.Errorf("cache store [%s] (driver storage): %w: Flysystem disks are not read by the Go server; use the file store (same layout on a local disk) or redis/database", name, ErrUnsupported)
	case "":
		return nil, fmt.Errorf("cache store [%s] has no driver (config %s.driver)", name, sc.path)
	default:
		return nil, fmt.Errorf("cache store [%s]: %w: driver [%s] is not a Laravel driver (registered with Cache::extend?)", name, ErrUnsupported, driver)
	}
}

func notShared(name, driver string, major int) error {
	why := map[string]string{
		"array":   "keeps values in the memory of the PHP process that wrote them",
		"null":    "stores nothing",
		"apc":     "keeps values in the APCu memory of the writing PHP process",
		"octane":  "keeps values in a Swoole table inside one Octane server",
		"session": "keeps values in one user's session",
	}[driver]
	envVar := "CACHE_STORE"
	if major > 0 && major <= 10 {
		envVar = "CACHE_DRIVER"
	}
	return &notSharedError{fmt.Sprintf("cache store [%s] (driver %s) %s, so php artisan reverb:restart cannot reach a running server through it; set %s (or the variable config/cache.php's 'default' reads) to file, database, redis or memcached",
		name, driver, why, envVar)}
}

// cachePrefix is CacheManager::getPrefix ($config['prefix'] ??
// config('cache.prefix')), plus the ':' separator the Laravel <= 10 Redis and
// Memcached stores append to a non-empty prefix when colon is true.
func (r *resolver) cachePrefix(sc node, colon bool) (string, error) {
	v, ok := sc.get("prefix")
	path := sc.keyPath("prefix")
	if !ok || v.IsNull() {
		v, _ = r.cache.get("prefix")
		path = r.cache.keyPath("prefix")
	}
	s, err := phpString(v, path)
	if err != nil {
		return "", err
	}
	if colon {
		// setPrefix: ! empty($prefix) ? $prefix.':' : ''  ("0" is empty).
		if phpEmpty(v) {
			return "", nil
		}
		return s + ":", nil
	}
	return s, nil
}

// openFailover is Laravel 12's failover driver: every operation goes to the
// first listed store that does not throw. The Go side decides once, at
// open: the first store that opens and answers a Read wins.
func (r *resolver) openFailover(name string, sc node, depth int) (Store, error) {
	list, err := sc.sub("stores")
	if err != nil {
		return nil, err
	}
	if list.arr == nil || list.arr.Len() == 0 {
		return nil, fmt.Errorf("cache store [%s] (driver failover) lists no stores (config %s)", name, list.path)
	}
	names := make([]string, 0, list.arr.Len())
	for i, v := range list.arr.Values {
		n, err := phpString(v, fmt.Sprintf("%s.%d", list.path, i))
		if err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	var failures []string
	var errs []error
	for _, n := range names {
		st, err := r.open(n, depth+1)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), failoverProbeTimeout)
			_, err = st.Read(ctx)
			cancel()
			if err != nil {
				_ = st.Close()
			}
		}
		if err != nil {
			failures = append(failures, fmt.Sprintf("[%s]: %v", n, err))
			errs = append(errs, err)
			continue
		}
		return &failoverStore{Store: st, note: fmt.Sprintf(" (failover store [%s]: first reachable of %s)", name, strings.Join(names, ", "))}, nil
	}
	return nil, &multiError{
		msg:  fmt.Sprintf("cache store [%s] (driver failover): no listed store can carry the flag: %s", name, strings.Join(failures, "; ")),
		errs: errs,
	}
}

// multiError is one message for several causes, each reachable by
// errors.Is/As (a failover store's stores).
type multiError struct {
	msg  string
	errs []error
}

func (e *multiError) Error() string   { return e.msg }
func (e *multiError) Unwrap() []error { return e.errs }

// failoverStore is the store a failover store resolved to, with a Location
// that says so.
type failoverStore struct {
	Store
	note string
}

func (f *failoverStore) Location() string { return f.Store.Location() + f.note }

func (f *failoverStore) Warnings() []string { return Warnings(f.Store) }
