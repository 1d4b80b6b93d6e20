// Package cachestore finds and reads/writes the restart flag
// (Cache::forever('laravel:reverb:restart', time())) in the app's default
// cache store, byte-for-byte as Laravel 10-13 store it.
//
// Resolution follows Laravel's CacheManager: cache.default names a store in
// cache.stores, whose driver selects the physical store; the key prefix is the
// store's prefix or cache.prefix. Only stores shared between processes can
// carry the flag (file, database, redis, memcached); the others are refused
// with an error that says why and what to configure instead.
package cachestore

import (
	"context"
	"errors"

	"github.com/reverb-go/reverb/laravelcfg"
)

// FlagKey is the cache key php artisan reverb:restart writes.
const FlagKey = "laravel:reverb:restart"

// Flag is what the store holds for FlagKey: whether it exists, and the raw
// stored bytes. Restarts compare Present+Raw; decoding is for logs only.
type Flag struct {
	Present bool
	Raw     []byte
}

// Equal reports whether two reads hold the same flag (the PHP server's ===
// between two Cache::get results, done on raw bytes).
func (f Flag) Equal(g Flag) bool {
	return f.Present == g.Present && string(f.Raw) == string(g.Raw)
}

// Store is the restart flag in one physical cache store.
type Store interface {
	// Read returns the flag as stored now.
	Read(ctx context.Context) (Flag, error)
	// Write stores the bytes Cache::forever(FlagKey, ts) would store.
	Write(ctx context.Context, ts int64) error
	// Location describes where the flag lives (path, table+key, db+key).
	Location() string
	// WatchPath is the file to watch with fsnotify (file store), or "" when
	// the store must be polled.
	WatchPath() string
	Close() error
}

// Warner is implemented by stores that found something an operator should
// know (e.g. a phpredis serializer the Go side cannot reproduce).
type Warner interface {
	Warnings() []string
}

// Warnings returns s's warnings, or nil when it has none.
func Warnings(s Store) []string {
	if w, ok := s.(Warner); ok {
		return w.Warnings()
	}
	return nil
}

// ErrNotShared wraps the error for stores whose values live inside one
// process (array, null, apc, octane, session): reverb:restart cannot reach a
// running server through them.
var ErrNotShared = errors.New("cache store cannot carry the restart flag between processes")

// notSharedError is an ErrNotShared whose message already says why, so the
// point is made once.
type notSharedError struct{ msg string }

func (e *notSharedError) Error() string { return e.msg }
func (e *notSharedError) Unwrap() error { return ErrNotShared }

// ErrUnsupported wraps the error for stores that can carry the flag but that
// this implementation does not speak (dynamodb, storage, sqlsrv, custom
// drivers, memcached with SASL, ...).
var ErrUnsupported = errors.New("cache store not supported")

// Open resolves the app's default cache store (cache.default) and returns the
// flag in it. Stores that cannot carry the flag between processes (array,
// null, apc, octane, session) return an error that says so.
func Open(p *laravelcfg.Project) (Store, error) {
	r, err := newResolver(p)
	if err != nil {
		return nil, err
	}
	name, err := r.defaultStore()
	if err != nil {
		return nil, err
	}
	return r.open(name, 0)
}

// OpenStore is Open for a named store of cache.stores instead of the default
// (Cache::store($name)).
func OpenStore(p *laravelcfg.Project, name string) (Store, error) {
	r, err := newResolver(p)
	if err != nil {
		return nil, err
	}
	return r.open(name, 0)
}
