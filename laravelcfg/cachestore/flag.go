// Package cachestore finds and reads/writes the restart flag
// (Cache::forever('laravel:reverb:restart', time())) in the app's default
// cache store, byte-for-byte as Laravel 10-13 store it.
package cachestore

import (
	"context"

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

// Open resolves the app's default cache store (cache.default) and returns the
// flag in it. Stores that cannot carry the flag between processes (array,
// null, apc, octane, session) return an error that says so.
func Open(p *laravelcfg.Project) (Store, error) {
	return nil, errNotImplemented
}
