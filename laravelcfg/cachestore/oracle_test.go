package cachestore

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reverb-go/reverb/internal/testsvc"
	"github.com/reverb-go/reverb/laravelcfg/phptest"
	_ "modernc.org/sqlite"
)

// These tests use Laravel's own cache classes (Debian's php-illuminate-cache
// 8.83, byte-identical to upstream for these code paths, spec §6) as the
// oracle: PHP writes the flag and Go must read the exact bytes; Go writes and
// PHP must read the same int back. They need php with the Illuminate
// classes, redis-server and memcached; CI installs them.

const phpTS, goTS = 1732200000, 1732200099

func requirePHP(t *testing.T) {
	t.Helper()
	phptest.RequireClasses(t, `Illuminate\Cache\FileStore`)
}

func requireExt(t *testing.T, ext string) {
	t.Helper()
	phptest.RequireExtension(t, ext)
}

// oracle runs testdata/oracle.php with args and returns its stdout.
func oracle(t *testing.T, args map[string]any) string {
	t.Helper()
	js, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "php", "testdata/oracle.php", string(js))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle.php %s: %v\n%s", js, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// phpGet is the oracle's $store->get(): the PHP type and JSON value.
func phpGet(t *testing.T, args map[string]any) (typ, value string) {
	t.Helper()
	a := map[string]any{"op": "read"}
	for k, v := range args {
		a[k] = v
	}
	var res struct {
		Type  string          `json:"type"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal([]byte(oracle(t, a)), &res); err != nil {
		t.Fatal(err)
	}
	return res.Type, string(res.Value)
}

func phpForever(t *testing.T, args map[string]any, value int) {
	t.Helper()
	a := map[string]any{"op": "write", "value": value}
	for k, v := range args {
		a[k] = v
	}
	oracle(t, a)
}

// interop checks both directions for one store: PHP writes phpTS and Go
// reads wantRaw at wantLoc; Go writes goTS and PHP reads it back as
// wantType.
func interop(t *testing.T, st Store, phpArgs map[string]any, wantLoc, wantRaw, wantType string) {
	t.Helper()
	ctx := t.Context()
	if got := st.Location(); got != wantLoc {
		t.Errorf("Location\n got %s\nwant %s", got, wantLoc)
	}
	f, err := st.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f.Present {
		t.Fatalf("flag present before any write: %q", f.Raw)
	}
	typ, _ := phpGet(t, phpArgs)
	if typ != "NULL" {
		t.Fatalf("PHP sees a flag before any write: %s", typ)
	}

	phpForever(t, phpArgs, phpTS)
	f, err = st.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Present || string(f.Raw) != wantRaw {
		t.Fatalf("after PHP forever(): Go read %+v (%q), want %q", f.Present, f.Raw, wantRaw)
	}
	if d := Describe(f.Raw); !strings.HasPrefix(d, strconv.Itoa(phpTS)+" ") {
		t.Errorf("Describe(%q) = %q", f.Raw, d)
	}

	if err := st.Write(ctx, goTS); err != nil {
		t.Fatal(err)
	}
	wantV := strconv.Itoa(goTS)
	if wantType == "string" {
		wantV = strconv.Quote(wantV)
	}
	// predis' Sentinel replication reads from a replica, which may lag the
	// master Go wrote to by a moment: read again until it caught up.
	typ, v := phpGet(t, phpArgs)
	for deadline := time.Now().Add(5 * time.Second); (typ != wantType || v != wantV) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		typ, v = phpGet(t, phpArgs)
	}
	if typ != wantType || v != wantV {
		t.Errorf("PHP get() after Go Write = %s %s, want %s %s", typ, v, wantType, wantV)
	}
	// Go's own bytes match what PHP would have written for the same int.
	g, err := st.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(wantRaw, strconv.Itoa(phpTS), strconv.Itoa(goTS), 1); string(g.Raw) != want {
		t.Errorf("Go wrote %q, PHP writes %q", g.Raw, want)
	}
}

func TestOracleFile(t *testing.T) {
	requirePHP(t)
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			base := t.TempDir()
			cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, "file")
			st := openStore(t, project(l, base, cfg))
			dir := filepath.Join(base, "storage/framework/cache/data")
			interop(t, st, map[string]any{"store": "file", "dir": dir, "key": FlagKey},
				"file storage/framework/cache/data/4f/e4/4fe44729b03e0a0a2586ebe0d445f50c083d0ff3 (relative to project)",
				"9999999999i:1732200000;", "integer")
			if st.WatchPath() != filepath.Join(dir, "4f/e4/4fe44729b03e0a0a2586ebe0d445f50c083d0ff3") {
				t.Errorf("WatchPath %s", st.WatchPath())
			}
		})
	}
}

// TestOracleFileDirectoriesByGo: Go creates the cache directories when PHP
// never wrote, and PHP reads the result.
func TestOracleFileDirectoriesByGo(t *testing.T) {
	requirePHP(t)
	base := t.TempDir()
	l := layouts[1]
	st, err := Open(project(l, base, with(skeletonConfig(l, base), []string{"cache", "default"}, "file")))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Write(t.Context(), goTS); err != nil {
		t.Fatal(err)
	}
	typ, v := phpGet(t, map[string]any{"store": "file", "dir": filepath.Join(base, "storage/framework/cache/data"), "key": FlagKey})
	if typ != "integer" || v != strconv.Itoa(goTS) {
		t.Errorf("PHP read %s %s", typ, v)
	}
}

// createCacheTable is the skeleton's cache migration on SQLite.
func createCacheTable(t testing.TB, path, table string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sqlOpen("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf(`create table %q ("key" varchar not null, "value" text not null, "expiration" integer not null, primary key ("key"))`, table)); err != nil {
		t.Fatal(err)
	}
}

func TestOracleSQLite(t *testing.T) {
	requirePHP(t)
	requireExt(t, "pdo_sqlite")
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			base := t.TempDir()
			dbPath := filepath.Join(base, "database/database.sqlite")
			createCacheTable(t, dbPath, "cache")
			cfg := skeletonConfig(l, base)
			cfg = with(cfg, []string{"cache", "default"}, "database")
			cfg = with(cfg, []string{"database", "default"}, "sqlite") // 10 defaults to mysql
			st := openStore(t, project(l, base, cfg))
			prefix := "laravel_cache_"
			if l.hyphen {
				prefix = "laravel-cache-"
			}
			// DatabaseStore never adds ':', so the 8.83 class takes the
			// prefix as is for every layout.
			interop(t, st, map[string]any{"store": "database", "sqlite": dbPath, "prefix": prefix, "key": FlagKey},
				"database sqlite:"+dbPath+" table cache key "+prefix+FlagKey, "i:1732200000;", "integer")
			checkExpiration(t, dbPath, prefix+FlagKey)
		})
	}
}

// checkExpiration: Go's upsert stores now + ten years like forever().
func checkExpiration(t *testing.T, dbPath, key string) {
	t.Helper()
	db, err := sqlOpen("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var exp int64
	var n int
	if err := db.QueryRow(`select expiration, (select count(*) from cache) from cache where key = ?`, key).Scan(&exp, &n); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	if exp < now+foreverSeconds-60 || exp > now+foreverSeconds+60 {
		t.Errorf("expiration %d, want about %d", exp, now+foreverSeconds)
	}
	if n != 1 {
		t.Errorf("%d rows, want the one row updated in place", n)
	}
}

func TestOracleRedis(t *testing.T) {
	requirePHP(t)
	requireExt(t, "redis")
	port := testsvc.StartRedis(t).Port
	cases := []struct {
		l           layout
		cachePrefix string // CACHE_PREFIX (nil = skeleton default)
		phpPrefix   string // prefix given to the 8.83 RedisStore
		phpKey      string
		wantKey     string
	}{
		{layouts[0], "", "laravel_cache_", FlagKey, "laravel_database_laravel_cache_:laravel:reverb:restart"},
		{layouts[1], "", "", "laravel_cache_" + FlagKey, "laravel_database_laravel_cache_laravel:reverb:restart"},
		{layouts[4], "", "", "laravel-cache-" + FlagKey, "laravel-database-laravel-cache-laravel:reverb:restart"},
		{layouts[0], "empty", "", FlagKey, "laravel_database_laravel:reverb:restart"},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%s/%d", tc.l.name, i), func(t *testing.T) {
			db := strconv.Itoa(i + 1)
			cfg := skeletonConfig(tc.l, base)
			cfg = with(cfg, []string{"cache", "default"}, "redis")
			cfg = with(cfg, []string{"database", "redis", "cache", "port"}, strconv.Itoa(port))
			cfg = with(cfg, []string{"database", "redis", "cache", "database"}, db)
			if tc.cachePrefix == "empty" {
				cfg = with(cfg, []string{"cache", "prefix"}, "")
			}
			st := openStore(t, project(tc.l, base, cfg))
			redisPrefix := "laravel_database_"
			if tc.l.hyphen {
				redisPrefix = "laravel-database-"
			}
			interop(t, st, map[string]any{"store": "redis", "host": "127.0.0.1", "port": port, "db": i + 1,
				"redis_prefix": redisPrefix, "prefix": tc.phpPrefix, "key": tc.phpKey},
				fmt.Sprintf("redis 127.0.0.1:%d db %s key %s", port, db, tc.wantKey), "1732200000", "string")
		})
	}
}

func TestOracleMemcached(t *testing.T) {
	requirePHP(t)
	requireExt(t, "memcached")
	port := testsvc.Memcached(t)
	cases := []struct {
		l           layout
		cachePrefix string
		phpPrefix   string
		phpKey      string
		wantKey     string
	}{
		{layouts[0], "", "laravel_cache_", FlagKey, "laravel_cache_:laravel:reverb:restart"},
		{layouts[1], "", "", "laravel_cache_" + FlagKey, "laravel_cache_laravel:reverb:restart"},
		{layouts[4], "", "", "laravel-cache-" + FlagKey, "laravel-cache-laravel:reverb:restart"},
		{layouts[0], "empty", "", FlagKey, "laravel:reverb:restart"},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%s/%d", tc.l.name, i), func(t *testing.T) {
			cfg := skeletonConfig(tc.l, base)
			cfg = with(cfg, []string{"cache", "default"}, "memcached")
			cfg = with(cfg, []string{"cache", "stores", "memcached", "servers"}, list(arr("host", "127.0.0.1", "port", port, "weight", 100)))
			if tc.cachePrefix == "empty" {
				cfg = with(cfg, []string{"cache", "prefix"}, "")
			}
			st := openStore(t, project(tc.l, base, cfg))
			// Each case uses its own key, so earlier cases leave nothing behind.
			interop(t, st, map[string]any{"store": "memcached", "host": "127.0.0.1", "port": port, "prefix": tc.phpPrefix, "key": tc.phpKey},
				fmt.Sprintf("memcached 127.0.0.1:%d key %s", port, tc.wantKey), "1732200000\x00flags=1", "integer")
		})
	}
}

// TestOracleMemcachedTwoServers: with several servers ext-memcached spreads
// keys with libmemcached's default modula distribution; Go must pick the same
// server for every prefix, or it would read nothing.
func TestOracleMemcachedTwoServers(t *testing.T) {
	requirePHP(t)
	requireExt(t, "memcached")
	p1 := testsvc.Memcached(t)
	p2 := testsvc.Memcached(t)
	l := layouts[1]
	for i := 0; i < 12; i++ {
		prefix := fmt.Sprintf("app%d_", i)
		cfg := skeletonConfig(l, base)
		cfg = with(cfg, []string{"cache", "default"}, "memcached")
		cfg = with(cfg, []string{"cache", "prefix"}, prefix)
		cfg = with(cfg, []string{"cache", "stores", "memcached", "servers"}, list(
			arr("host", "127.0.0.1", "port", p1, "weight", 100), arr("host", "127.0.0.1", "port", p2, "weight", 100)))
		st, err := Open(project(l, base, cfg))
		if err != nil {
			t.Fatal(err)
		}
		phpForever(t, map[string]any{"store": "memcached", "servers": [][]any{{"127.0.0.1", p1}, {"127.0.0.1", p2}},
			"prefix": "", "key": prefix + FlagKey}, phpTS)
		f, err := st.Read(t.Context())
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !f.Present {
			t.Errorf("prefix %s: Go looked on the other server than PHP", prefix)
		}
	}
}

// TestOracleRedisAuth: a password-protected server, with the default user
// (REDIS_PASSWORD) and with an ACL user (REDIS_USERNAME + REDIS_PASSWORD).
func TestOracleRedisAuth(t *testing.T) {
	requirePHP(t)
	requireExt(t, "redis")
	port := testsvc.StartRedis(t, "--requirepass", "s3cret", "--user", "alice", "on", ">wonder", "~*", "&*", "+@all").Port
	l := layouts[1]
	for i, tc := range []struct{ user, pass string }{{"", "s3cret"}, {"alice", "wonder"}} {
		t.Run("user="+tc.user, func(t *testing.T) {
			cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, "redis")
			cfg = with(cfg, []string{"database", "redis", "cache", "port"}, port)
			cfg = with(cfg, []string{"database", "redis", "cache", "database"}, i+1)
			cfg = with(cfg, []string{"database", "redis", "cache", "password"}, tc.pass)
			phpArgs := map[string]any{"store": "redis", "host": "127.0.0.1", "port": port, "db": i + 1,
				"redis_prefix": "laravel_database_", "prefix": "", "key": "laravel_cache_" + FlagKey, "password": tc.pass}
			if tc.user != "" {
				cfg = with(cfg, []string{"database", "redis", "cache", "username"}, tc.user)
				phpArgs["username"] = tc.user
			}
			st := openStore(t, project(l, base, cfg))
			interop(t, st, phpArgs, fmt.Sprintf("redis 127.0.0.1:%d db %d key laravel_database_laravel_cache_laravel:reverb:restart", port, i+1),
				"1732200000", "string")
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, "redis")
		cfg = with(cfg, []string{"database", "redis", "cache", "port"}, port)
		cfg = with(cfg, []string{"database", "redis", "cache", "password"}, "nope")
		st := openStore(t, project(l, base, cfg))
		if _, err := st.Read(t.Context()); err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("Read with a wrong password: %v", err)
		}
	})
}

// TestOracleRedisSerializer: with a phpredis serializer phpredis encodes the
// int itself (PHP serialize → i:<n>;, JSON → digits); Go reads and writes the
// same bytes. igbinary is refused for writing (see TestRedisSerializerWarns).
func TestOracleRedisSerializer(t *testing.T) {
	requirePHP(t)
	requireExt(t, "redis")
	port := testsvc.StartRedis(t).Port
	l := layouts[1]
	for i, tc := range []struct {
		serializer int
		raw, typ   string
	}{
		{serializerNone, "1732200000", "string"},
		{serializerPHP, "i:1732200000;", "integer"},
		{serializerJSON, "1732200000", "integer"},
	} {
		t.Run(strconv.Itoa(tc.serializer), func(t *testing.T) {
			cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, "redis")
			cfg = with(cfg, []string{"database", "redis", "cache", "port"}, port)
			cfg = with(cfg, []string{"database", "redis", "cache", "database"}, i+1)
			cfg = with(cfg, []string{"database", "redis", "options", "serializer"}, tc.serializer)
			st := openStore(t, project(l, base, cfg))
			if w := Warnings(st); len(w) != 0 {
				t.Errorf("warnings %q", w)
			}
			interop(t, st, map[string]any{"store": "redis", "host": "127.0.0.1", "port": port, "db": i + 1, "serializer": tc.serializer,
				"redis_prefix": "laravel_database_", "prefix": "", "key": "laravel_cache_" + FlagKey},
				fmt.Sprintf("redis 127.0.0.1:%d db %d key laravel_database_laravel_cache_laravel:reverb:restart", port, i+1), tc.raw, tc.typ)
		})
	}
}
