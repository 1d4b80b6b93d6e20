package cachestore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reverb-go/reverb/internal/testsvc"
)

// checkChangeDetection is the restart rule of the PHP server (spec §3.1):
// compared with the flag read at start, a new value is a change, a deletion
// is a change, and rewriting the same second's value is not.
func checkChangeDetection(t *testing.T, st Store, del func()) {
	t.Helper()
	ctx := context.Background()
	read := func() Flag {
		t.Helper()
		f, err := st.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	write := func(ts int64) {
		t.Helper()
		if err := st.Write(ctx, ts); err != nil {
			t.Fatal(err)
		}
	}
	missing := read()
	if missing.Present {
		t.Fatalf("flag present at start: %q", missing.Raw)
	}
	write(1732200000)
	first := read()
	if first.Equal(missing) {
		t.Error("a flag appearing is not a change")
	}
	write(1732200000)
	if same := read(); !same.Equal(first) {
		t.Errorf("rewriting the same second's value is a change: %q vs %q", same.Raw, first.Raw)
	}
	write(1732200001)
	next := read()
	if next.Equal(first) {
		t.Error("a new value is not a change")
	}
	del()
	gone := read()
	if gone.Equal(next) || gone.Present {
		t.Errorf("deletion (cache:clear) is not a change: %+v", gone)
	}
	if !gone.Equal(missing) {
		t.Errorf("a deleted flag differs from a never-written one: %+v", gone)
	}
}

func TestChangeDetectionFile(t *testing.T) {
	base := t.TempDir()
	l := layouts[0]
	st := openStore(t, project(l, base, skeletonConfig(l, base)))
	checkChangeDetection(t, st, func() {
		if err := os.Remove(st.WatchPath()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestChangeDetectionSQLite(t *testing.T) {
	base := t.TempDir()
	dbPath := filepath.Join(base, "database/database.sqlite")
	createCacheTable(t, dbPath, "cache")
	l := layouts[1]
	st := openStore(t, project(l, base, skeletonConfig(l, base)))
	checkChangeDetection(t, st, func() {
		db, err := sqlOpen("sqlite", dbPath)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`delete from cache`); err != nil {
			t.Fatal(err)
		}
	})
}

func TestChangeDetectionRedis(t *testing.T) {
	port := testsvc.StartRedis(t).Port
	l := layouts[1]
	cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, "redis")
	cfg = with(cfg, []string{"database", "redis", "cache", "port"}, port)
	st := openStore(t, project(l, base, cfg))
	rs := st.(*redisStore)
	checkChangeDetection(t, st, func() {
		if err := rs.client.Del(context.Background(), rs.key).Err(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestChangeDetectionMemcached(t *testing.T) {
	port := testsvc.Memcached(t)
	l := layouts[0]
	cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, "memcached")
	cfg = with(cfg, []string{"cache", "stores", "memcached", "servers"}, list(arr("host", "127.0.0.1", "port", port)))
	st := openStore(t, project(l, base, cfg))
	ms := st.(*memcachedStore)
	checkChangeDetection(t, st, func() {
		if err := ms.client.Delete(ms.key); err != nil {
			t.Fatal(err)
		}
	})
}

// TestMemcachedFlagsAreCompared: the same digits stored as a PHP string
// (flags 0) instead of an int (flags 1) is a change, as === would see it.
func TestMemcachedFlagsAreCompared(t *testing.T) {
	a := Flag{Present: true, Raw: []byte("1732200000" + flagsMarker + "1")}
	b := Flag{Present: true, Raw: []byte("1732200000" + flagsMarker + "0")}
	if a.Equal(b) {
		t.Error("flags ignored")
	}
}

func TestFileExpired(t *testing.T) {
	const now = 1732200000
	tests := []struct {
		raw  string
		want bool
	}{
		{"9999999999i:1732200000;", false},
		{"1732200001i:1;", false},
		{"1732200000i:1;", true}, // now >= expiry
		{"0000000001i:1;", true},
		{"", true},                // '' is not numeric: "1732200000" >= "" as strings
		{"abcdefghiji:1;", false}, // "1732200000" < "abcdefghij" as strings
		{"  17322000i:1;", true},  // leading whitespace is numeric in PHP 8
		{"9999999999", false},
	}
	for _, tc := range tests {
		if got := fileExpired([]byte(tc.raw), now); got != tc.want {
			t.Errorf("fileExpired(%q) = %v, want %v", tc.raw, got, tc.want)
		}
	}
}

// TestFileReadExpired: an expired file reads as missing, like Laravel's get().
func TestFileReadExpired(t *testing.T) {
	dir := t.TempDir()
	st := &fileStore{path: filePathFor(dir, FlagKey), basePath: dir, now: time.Now}
	if err := os.MkdirAll(filepath.Dir(st.path), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(st.path, []byte("1000000000i:1;"), 0o666); err != nil {
		t.Fatal(err)
	}
	f, err := st.Read(context.Background())
	if err != nil || f.Present {
		t.Errorf("expired file read as %+v, %v", f, err)
	}
}

// TestFilePermission: the store's permission config chmods the file.
func TestFilePermission(t *testing.T) {
	base := t.TempDir()
	l := layouts[1]
	cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, "file")
	cfg = with(cfg, []string{"cache", "stores", "file", "permission"}, 0o640)
	st, err := Open(project(l, base, cfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Write(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(st.WatchPath())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
}

// TestFileRelativeAndDefaultPath: a relative path is taken from the project
// root; no path at all means storage_path('framework/cache/data').
func TestFileRelativeAndDefaultPath(t *testing.T) {
	l := layouts[1]
	for _, tc := range []struct {
		path any
		want string
	}{
		{"cache/flags", "file cache/flags/4f/e4/4fe44729b03e0a0a2586ebe0d445f50c083d0ff3 (relative to project)"},
		{nil, "file storage/framework/cache/data/4f/e4/4fe44729b03e0a0a2586ebe0d445f50c083d0ff3 (relative to project)"},
		{"/var/cache/app", "file /var/cache/app/4f/e4/4fe44729b03e0a0a2586ebe0d445f50c083d0ff3"},
	} {
		cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, "file")
		cfg = with(cfg, []string{"cache", "stores", "file", "path"}, tc.path)
		st, err := Open(project(l, base, cfg))
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Location(); got != tc.want {
			t.Errorf("path %v: Location %q, want %q", tc.path, got, tc.want)
		}
	}
}

// TestSQLiteMissingFileIsAReadError: a database not migrated yet is an
// error of Read (retried by the watcher), and Go never creates the file.
func TestSQLiteMissingFileIsAReadError(t *testing.T) {
	base := t.TempDir()
	l := layouts[1]
	st := openStore(t, project(l, base, skeletonConfig(l, base)))
	if _, err := st.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Read error %v", err)
	}
	if _, err := os.Stat(filepath.Join(base, "database/database.sqlite")); err == nil {
		t.Error("Read created the SQLite file")
	}
}

// TestFailover: Laravel 12's failover store goes to the first store that
// answers; the skeleton's (database, array) falls to array, which cannot
// carry the flag.
func TestFailover(t *testing.T) {
	l := layouts[2]
	base := t.TempDir()
	createCacheTable(t, filepath.Join(base, "database/database.sqlite"), "cache")
	st, err := Open(project(l, base, with(skeletonConfig(l, base), []string{"cache", "default"}, "failover")))
	if err != nil {
		t.Fatal(err)
	}
	want := "database sqlite:" + filepath.Join(base, "database/database.sqlite") + " table cache key laravel_cache_laravel:reverb:restart (failover store [failover]: first reachable of database, array)"
	if st.Location() != want {
		t.Errorf("Location %q\nwant %q", st.Location(), want)
	}
	st.Close()

	// Without the database file the database store fails its probe.
	empty := t.TempDir()
	_, err = Open(project(l, empty, with(skeletonConfig(l, empty), []string{"cache", "default"}, "failover")))
	if err == nil || !errors.Is(err, ErrNotShared) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("error %v", err)
	}
}

// TestSQLiteReadWaitsForLock: a PHP process holding the database locked
// (a migration, a long write) delays the read instead of failing it.
func TestSQLiteReadWaitsForLock(t *testing.T) {
	base := t.TempDir()
	dbPath := filepath.Join(base, "database/database.sqlite")
	createCacheTable(t, dbPath, "cache")
	l := layouts[1]
	st := openStore(t, project(l, base, skeletonConfig(l, base)))
	if err := st.Write(context.Background(), 1732200000); err != nil {
		t.Fatal(err)
	}
	locker, err := sqlOpen("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	conn, err := locker.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "begin exclusive"); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(300 * time.Millisecond)
		_, _ = conn.ExecContext(context.Background(), "commit")
	}()
	start := time.Now()
	f, err := st.Read(context.Background())
	<-released
	if err != nil || !f.Present || string(f.Raw) != "i:1732200000;" {
		t.Fatalf("read under lock: %+v %v", f, err)
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Errorf("read did not wait for the exclusive lock (%v)", time.Since(start))
	}
}
