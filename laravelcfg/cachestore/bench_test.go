package cachestore

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// The restart watcher reads the flag every poll; these measure one Read per
// store against local servers.

func benchRead(b *testing.B, st Store) {
	b.Helper()
	ctx := context.Background()
	if err := st.Write(ctx, 1732200000); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if f, err := st.Read(ctx); err != nil || !f.Present {
			b.Fatal(f, err)
		}
	}
}

func BenchmarkReadFile(b *testing.B) {
	base := b.TempDir()
	l := layouts[0]
	st := openStore(b, project(l, base, skeletonConfig(l, base)))
	benchRead(b, st)
}

func BenchmarkReadSQLite(b *testing.B) {
	base := b.TempDir()
	createCacheTable(b, filepath.Join(base, "database/database.sqlite"), "cache")
	l := layouts[1]
	st := openStore(b, project(l, base, skeletonConfig(l, base)))
	benchRead(b, st)
}

func BenchmarkReadRedis(b *testing.B) {
	port := os.Getenv("CACHESTORE_BENCH_REDIS_PORT")
	if port == "" {
		b.Skip("set CACHESTORE_BENCH_REDIS_PORT to a local redis-server")
	}
	p, _ := strconv.Atoi(port)
	l := layouts[1]
	cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, "redis")
	cfg = with(cfg, []string{"database", "redis", "cache", "port"}, p)
	st := openStore(b, project(l, base, cfg))
	benchRead(b, st)
}

func BenchmarkReadMemcached(b *testing.B) {
	port := os.Getenv("CACHESTORE_BENCH_MEMCACHED_PORT")
	if port == "" {
		b.Skip("set CACHESTORE_BENCH_MEMCACHED_PORT to a local memcached")
	}
	p, _ := strconv.Atoi(port)
	l := layouts[1]
	cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, "memcached")
	cfg = with(cfg, []string{"cache", "stores", "memcached", "servers"}, list(arr("host", "127.0.0.1", "port", p)))
	st := openStore(b, project(l, base, cfg))
	benchRead(b, st)
}
