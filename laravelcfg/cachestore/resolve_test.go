package cachestore

import (
	"errors"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/laravelcfg/redisconn"
)

const base = "/srv/app"

// TestWorkedExample is the spec's §3.9 table: every store under every
// Laravel layout, APP_NAME=Laravel, default settings.
func TestWorkedExample(t *testing.T) {
	file := "file storage/framework/cache/data/4f/e4/4fe44729b03e0a0a2586ebe0d445f50c083d0ff3 (relative to project)"
	sqlite := "database sqlite:/srv/app/database/database.sqlite table cache key "
	want := map[string]map[string]string{
		"laravel10": {
			"file":      file,
			"database":  "database mysql:forge@127.0.0.1:3306/forge table cache key laravel_cache_laravel:reverb:restart",
			"redis":     "redis 127.0.0.1:6379 db 1 key laravel_database_laravel_cache_:laravel:reverb:restart",
			"memcached": "memcached 127.0.0.1:11211 key laravel_cache_:laravel:reverb:restart",
		},
		"laravel11": {
			"file":      file,
			"database":  sqlite + "laravel_cache_laravel:reverb:restart",
			"redis":     "redis 127.0.0.1:6379 db 1 key laravel_database_laravel_cache_laravel:reverb:restart",
			"memcached": "memcached 127.0.0.1:11211 key laravel_cache_laravel:reverb:restart",
		},
		"laravel12.0": {
			"file":      file,
			"database":  sqlite + "laravel_cache_laravel:reverb:restart",
			"redis":     "redis 127.0.0.1:6379 db 1 key laravel_database_laravel_cache_laravel:reverb:restart",
			"memcached": "memcached 127.0.0.1:11211 key laravel_cache_laravel:reverb:restart",
		},
		"laravel12.1": {
			"file":      file,
			"database":  sqlite + "laravel-cache-laravel:reverb:restart",
			"redis":     "redis 127.0.0.1:6379 db 1 key laravel-database-laravel-cache-laravel:reverb:restart",
			"memcached": "memcached 127.0.0.1:11211 key laravel-cache-laravel:reverb:restart",
		},
		"laravel13": {
			"file":      file,
			"database":  sqlite + "laravel-cache-laravel:reverb:restart",
			"redis":     "redis 127.0.0.1:6379 db 1 key laravel-database-laravel-cache-laravel:reverb:restart",
			"memcached": "memcached 127.0.0.1:11211 key laravel-cache-laravel:reverb:restart",
		},
	}
	for _, l := range layouts {
		for _, store := range []string{"file", "database", "redis", "memcached"} {
			t.Run(l.name+"/"+store, func(t *testing.T) {
				cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, store)
				st := openStore(t, project(l, base, cfg))
				if got := st.Location(); got != want[l.name][store] {
					t.Errorf("Location\n got %s\nwant %s", got, want[l.name][store])
				}
			})
		}
	}
}

// TestDefaultStore checks cache.default of each skeleton: file for 10,
// database (SQLite) for 11+.
func TestDefaultStore(t *testing.T) {
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			st := openStore(t, project(l, base, skeletonConfig(l, base)))
			wantPrefix := "database sqlite:"
			if l.major == 10 {
				wantPrefix = "file "
			}
			if !strings.HasPrefix(st.Location(), wantPrefix) {
				t.Errorf("Location %q, want prefix %q", st.Location(), wantPrefix)
			}
		})
	}
}

// TestPrefixRules covers the store prefix overriding cache.prefix, the
// version-dependent colon, PHP's empty() for the colon ("0" and "" get
// none), and stores that never add one.
func TestPrefixRules(t *testing.T) {
	l10, l11 := layouts[0], layouts[1]
	tests := []struct {
		name       string
		l          layout
		store      string
		cachePfx   any // cache.prefix
		storePfx   any // cache.stores.<store>.prefix; "unset" leaves it out
		wantSuffix string
	}{
		{"10 redis colon", l10, "redis", "app_", "unset", "key laravel_database_app_:laravel:reverb:restart"},
		{"11 redis no colon", l11, "redis", "app_", "unset", "key laravel_database_app_laravel:reverb:restart"},
		{"10 redis empty prefix", l10, "redis", "", "unset", "key laravel_database_laravel:reverb:restart"},
		{"10 redis prefix zero is empty()", l10, "redis", "0", "unset", "key laravel_database_laravel:reverb:restart"},
		{"11 redis prefix zero kept", l11, "redis", "0", "unset", "key laravel_database_0laravel:reverb:restart"},
		{"10 memcached colon", l10, "memcached", "x", "unset", "key x:laravel:reverb:restart"},
		{"10 memcached null prefix", l10, "memcached", nil, "unset", "key laravel:reverb:restart"},
		{"11 memcached", l11, "memcached", "x", "unset", "key xlaravel:reverb:restart"},
		{"store prefix wins", l11, "memcached", "x", "y", "key ylaravel:reverb:restart"},
		{"store prefix null falls back", l11, "memcached", "x", nil, "key xlaravel:reverb:restart"},
		{"store prefix empty string wins", l10, "memcached", "x", "", "key laravel:reverb:restart"},
		{"10 database never colon", l10, "database", "ba_cache_", "unset", "key ba_cache_laravel:reverb:restart"},
		{"int prefix", l11, "database", 7, "unset", "key 7laravel:reverb:restart"},
		{"bool prefix", l10, "memcached", true, "unset", "key 1:laravel:reverb:restart"},
		{"file ignores prefix", l10, "file", "whatever", "x", "4fe44729b03e0a0a2586ebe0d445f50c083d0ff3 (relative to project)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := skeletonConfig(tc.l, base)
			cfg = with(cfg, []string{"cache", "default"}, tc.store)
			cfg = with(cfg, []string{"cache", "prefix"}, tc.cachePfx)
			if s, ok := tc.storePfx.(string); !ok || s != "unset" {
				cfg = with(cfg, []string{"cache", "stores", tc.store, "prefix"}, tc.storePfx)
			}
			st := openStore(t, project(tc.l, base, cfg))
			if !strings.HasSuffix(st.Location(), tc.wantSuffix) {
				t.Errorf("Location %q, want suffix %q", st.Location(), tc.wantSuffix)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	l := layouts[2] // 12.0: has failover and session
	tests := []struct {
		name    string
		edit    func(php.Value) php.Value
		wantIs  error
		wantMsg string
	}{
		{"array", setDefault("array"), ErrNotShared, "memory of the PHP process"},
		{"octane", setDefault("octane"), ErrNotShared, "Swoole"},
		{"session", setDefault("session"), ErrNotShared, "session"},
		{"null driver", func(v php.Value) php.Value {
			v = with(v, []string{"cache", "stores", "none"}, arr("driver", "null"))
			return with(v, []string{"cache", "default"}, "none")
		}, ErrNotShared, "stores nothing"},
		{"apc", func(v php.Value) php.Value {
			v = with(v, []string{"cache", "stores", "apc"}, arr("driver", "apc"))
			return with(v, []string{"cache", "default"}, "apc")
		}, ErrNotShared, "APCu"},
		{"dynamodb", setDefault("dynamodb"), ErrUnsupported, "DynamoDB"},
		{"custom driver", func(v php.Value) php.Value {
			v = with(v, []string{"cache", "stores", "mongo"}, arr("driver", "mongodb"))
			return with(v, []string{"cache", "default"}, "mongo")
		}, ErrUnsupported, "driver [mongodb]"},
		{"undefined store", setDefault("nope"), nil, "Cache store [nope] is not defined"},
		{"empty default", setDefault(""), nil, "cache.default is empty"},
		{"sqlite memory", func(v php.Value) php.Value {
			return with(v, []string{"database", "connections", "sqlite", "database"}, ":memory:")
		}, ErrNotShared, "in-memory"},
		{"missing connection", func(v php.Value) php.Value {
			return with(v, []string{"database", "default"}, "oracle")
		}, nil, "Database connection [oracle] not configured"},
		{"sqlsrv", func(v php.Value) php.Value {
			v = with(v, []string{"database", "connections", "sqlsrv"}, arr("driver", "sqlsrv"))
			return with(v, []string{"database", "default"}, "sqlsrv")
		}, ErrUnsupported, "SQL Server"},
		{"memcached sasl", func(v php.Value) php.Value {
			v = with(v, []string{"cache", "stores", "memcached", "sasl"}, list("user", "secret"))
			return with(v, []string{"cache", "default"}, "memcached")
		}, ErrUnsupported, "SASL"},
		{"redis connection missing", func(v php.Value) php.Value {
			v = with(v, []string{"cache", "stores", "redis", "connection"}, "sessions")
			return with(v, []string{"cache", "default"}, "redis")
		}, nil, "Redis connection [sessions] not configured"},
		{"predis client-side sharding", func(v php.Value) php.Value {
			v = with(v, []string{"database", "redis", "client"}, "predis")
			v = with(v, []string{"database", "redis", "options", "cluster"}, "predis")
			v = with(v, []string{"database", "redis", "cache"}, list(arr("host", "a"), arr("host", "b")))
			return with(v, []string{"cache", "default"}, "redis")
		}, redisconn.ErrUnsupported, "client-side sharding"},
		{"unknown value names the key", func(v php.Value) php.Value {
			return with(v, []string{"cache", "prefix"}, php.UnknownValue("call to app_prefix()", "config/cache.php:12"))
		}, nil, "config cache.prefix cannot be evaluated without PHP (call to app_prefix() at config/cache.php:12)"},
		{"bad redis port", func(v php.Value) php.Value {
			v = with(v, []string{"database", "redis", "cache", "port"}, "abc")
			return with(v, []string{"cache", "default"}, "redis")
		}, nil, `config database.redis.cache.port: "abc" is not a port`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Open(project(l, base, tc.edit(skeletonConfig(l, base))))
			if err == nil {
				st.Close()
				t.Fatalf("Open succeeded (%s), want an error", st.Location())
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v is not %v", err, tc.wantIs)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tc.wantMsg)
			}
		})
	}
}

func setDefault(name string) func(php.Value) php.Value {
	return func(v php.Value) php.Value { return with(v, []string{"cache", "default"}, name) }
}

// TestNotSharedNamesEnvVar: the advice names the env var of the version.
func TestNotSharedNamesEnvVar(t *testing.T) {
	for _, tc := range []struct {
		l    layout
		want string
	}{{layouts[0], "CACHE_DRIVER"}, {layouts[1], "CACHE_STORE"}} {
		_, err := Open(project(tc.l, base, with(skeletonConfig(tc.l, base), []string{"cache", "default"}, "array")))
		if err == nil || !strings.Contains(err.Error(), "set "+tc.want) {
			t.Errorf("%s: error %v does not advise %s", tc.l.name, err, tc.want)
		}
	}
}

func TestRedisConnectionResolution(t *testing.T) {
	l := layouts[1]
	tests := []struct {
		name string
		edit map[string]any // dotted path below database.redis → value
		want string
	}{
		{"REDIS_URL overrides host port and db", map[string]any{"cache.url": "redis://user:pw@cache.internal:6390/4"},
			"redis cache.internal:6390 db 4 key laravel_database_laravel_cache_laravel:reverb:restart"},
		{"rediss url is tls", map[string]any{"cache.url": "rediss://cache.internal:6380"},
			"redis tls://cache.internal:6380 db 1 key laravel_database_laravel_cache_laravel:reverb:restart"},
		{"scheme tls", map[string]any{"cache.scheme": "tls"},
			"redis tls://127.0.0.1:6379 db 1 key laravel_database_laravel_cache_laravel:reverb:restart"},
		{"REDIS_CACHE_DB", map[string]any{"cache.database": "3"},
			"redis 127.0.0.1:6379 db 3 key laravel_database_laravel_cache_laravel:reverb:restart"},
		{"REDIS_PREFIX empty", map[string]any{"options.prefix": ""},
			"redis 127.0.0.1:6379 db 1 key laravel_cache_laravel:reverb:restart"},
		{"connection options prefix wins", map[string]any{"cache.options": arr("prefix", "conn_")},
			"redis 127.0.0.1:6379 db 1 key conn_laravel_cache_laravel:reverb:restart"},
		{"connection prefix key wins", map[string]any{"cache.prefix": "direct_", "cache.options": arr("prefix", "conn_")},
			"redis 127.0.0.1:6379 db 1 key direct_laravel_cache_laravel:reverb:restart"},
		{"unix socket", map[string]any{"cache.host": "/run/redis.sock"},
			"redis unix:/run/redis.sock db 1 key laravel_database_laravel_cache_laravel:reverb:restart"},
		{"phpredis: prefix 0 is empty()", map[string]any{"options.prefix": "0"},
			"redis 127.0.0.1:6379 db 1 key laravel_cache_laravel:reverb:restart"},
		{"predis: prefix 0 is kept", map[string]any{"options.prefix": "0", "client": "predis"},
			"redis 127.0.0.1:6379 db 1 key 0laravel_cache_laravel:reverb:restart"},
		{"int port and db", map[string]any{"cache.port": 7000, "cache.database": 2},
			"redis 127.0.0.1:7000 db 2 key laravel_database_laravel_cache_laravel:reverb:restart"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, "redis")
			for k, v := range tc.edit {
				cfg = with(cfg, append([]string{"database", "redis"}, strings.Split(k, ".")...), v)
			}
			st := openStore(t, project(l, base, cfg))
			if got := st.Location(); got != tc.want {
				t.Errorf("Location\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestRedisSerializerWarns(t *testing.T) {
	l := layouts[1]
	cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, "redis")
	cfg = with(cfg, []string{"database", "redis", "options", "serializer"}, 2)
	st := openStore(t, project(l, base, cfg))
	if w := Warnings(st); len(w) != 1 || !strings.Contains(w[0], "serializer") {
		t.Errorf("warnings %q", w)
	}
	if err := st.Write(t.Context(), 1); err == nil || !strings.Contains(err.Error(), "php artisan reverb:restart") {
		t.Errorf("Write error %v, want a refusal", err)
	}
}

func TestDatabaseConnectionResolution(t *testing.T) {
	l := layouts[1]
	tests := []struct {
		name string
		edit map[string]any // dotted path below config → value
		want string
	}{
		{"DB_CACHE_CONNECTION and table", map[string]any{"cache.stores.database.connection": "mysql", "cache.stores.database.table": "kv"},
			"database mysql:root@127.0.0.1:3306/laravel table kv key laravel_cache_laravel:reverb:restart"},
		{"connection table prefix", map[string]any{"database.default": "pgsql", "database.connections.pgsql.prefix": "app_"},
			"database pgsql:root@127.0.0.1:5432/laravel table app_cache key laravel_cache_laravel:reverb:restart"},
		{"DB_URL mysql", map[string]any{"database.default": "mysql", "database.connections.mysql.url": "mysql://u:p%40ss@db.internal:3307/shop?charset=utf8"},
			"database mysql:u@db.internal:3307/shop table cache key laravel_cache_laravel:reverb:restart"},
		{"DB_URL switches driver", map[string]any{"database.default": "mysql", "database.connections.mysql.url": "postgres://pg@db:5433/shop"},
			"database pgsql:pg@db:5433/shop table cache key laravel_cache_laravel:reverb:restart"},
		{"mysql socket", map[string]any{"database.default": "mysql", "database.connections.mysql.unix_socket": "/run/mysqld.sock"},
			"database mysql:root@/run/mysqld.sock/laravel table cache key laravel_cache_laravel:reverb:restart"},
		{"mariadb", map[string]any{"database.default": "mariadb", "database.connections.mariadb": arr("driver", "mariadb", "host", "m", "port", 3306, "database", "d", "username", "u")},
			"database mysql:u@m:3306/d table cache key laravel_cache_laravel:reverb:restart"},
		{"write host list", map[string]any{"database.default": "mysql", "database.connections.mysql.write": arr("host", list("w1", "w2"))},
			"database mysql:root@w1:3306/laravel table cache key laravel_cache_laravel:reverb:restart"},
		{"relative sqlite resolves against the project", map[string]any{"database.connections.sqlite.database": "storage/db.sqlite"},
			"database sqlite:/srv/app/storage/db.sqlite table cache key laravel_cache_laravel:reverb:restart"},
		{"sqlite url", map[string]any{"database.connections.sqlite.url": "sqlite:////var/db/app.sqlite"},
			"database sqlite:/var/db/app.sqlite table cache key laravel_cache_laravel:reverb:restart"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := skeletonConfig(l, base)
			for k, v := range tc.edit {
				cfg = with(cfg, strings.Split(k, "."), v)
			}
			st := openStore(t, project(l, base, cfg))
			if got := st.Location(); got != tc.want {
				t.Errorf("Location\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestUpsertSQL(t *testing.T) {
	tests := []struct {
		d    sqlDialect
		want string
	}{
		{dialectSQLite, `insert into "cache" ("expiration", "key", "value") values (?, ?, ?) on conflict ("key") do update set "expiration" = excluded."expiration", "value" = excluded."value"`},
		{dialectPostgres, `insert into "cache" ("expiration", "key", "value") values ($1, $2, $3) on conflict ("key") do update set "expiration" = excluded."expiration", "value" = excluded."value"`},
		{dialectMySQL, "insert into `cache` (`expiration`, `key`, `value`) values (?, ?, ?) on duplicate key update `expiration` = values(`expiration`), `key` = values(`key`), `value` = values(`value`)"},
	}
	for _, tc := range tests {
		s := &dbStore{dialect: tc.d, table: "cache"}
		if got := s.upsertSQL(); got != tc.want {
			t.Errorf("dialect %d\n got %s\nwant %s", tc.d, got, tc.want)
		}
	}
}
