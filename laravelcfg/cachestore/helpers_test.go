package cachestore

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/laravelcfg/phptest"
)

// Short names for the config-tree builders of phptest.
func arr(kv ...any) php.Value                           { return phptest.Arr(kv...) }
func list(vs ...any) php.Value                          { return phptest.List(vs...) }
func with(v php.Value, path []string, nv any) php.Value { return phptest.With(v, path, nv) }

// layout is one column of the spec's §3.9 worked example.
type layout struct {
	name   string
	major  int
	hyphen bool // skeleton v12.1.0+ and Laravel 13 slugs with '-'
}

var layouts = []layout{
	{"laravel10", 10, false},
	{"laravel11", 11, false},
	{"laravel12.0", 12, false},
	{"laravel12.1", 12, true},
	{"laravel13", 13, true},
}

// skeletonConfig is the merged config('cache') and config('database') of a
// fresh app with APP_NAME=Laravel and no cache/database variables in .env,
// as the §3 tables describe them, with base as the project root.
func skeletonConfig(l layout, base string) php.Value {
	sep := "_"
	if l.hyphen {
		sep = "-"
	}
	cachePrefix := "laravel" + sep + "cache" + sep
	redisPrefix := "laravel" + sep + "database" + sep
	stores := []any{
		"array", arr("driver", "array", "serialize", false),
		"database", arr("driver", "database", "connection", nil, "table", "cache", "lock_connection", nil, "lock_table", nil),
		"file", arr("driver", "file", "path", filepath.Join(base, "storage/framework/cache/data"), "lock_path", filepath.Join(base, "storage/framework/cache/data")),
		"memcached", arr("driver", "memcached", "persistent_id", nil, "sasl", list(nil, nil), "options", arr(),
			"servers", list(arr("host", "127.0.0.1", "port", 11211, "weight", 100))),
		"redis", arr("driver", "redis", "connection", "cache", "lock_connection", "default"),
		"dynamodb", arr("driver", "dynamodb", "key", nil, "secret", nil, "region", "us-east-1", "table", "cache", "endpoint", nil),
		"octane", arr("driver", "octane"),
	}
	defaultStore, defaultConn := "database", "sqlite"
	mysqlDB, mysqlUser := "laravel", "root"
	if l.major <= 10 {
		stores = append([]any{"apc", arr("driver", "apc")}, stores...)
		defaultStore, defaultConn = "file", "mysql"
		mysqlDB, mysqlUser = "forge", "forge"
	}
	if l.major >= 12 {
		stores = append(stores, "failover", arr("driver", "failover", "stores", list("database", "array")),
			"session", arr("driver", "session", "key", "_cache"))
	}
	redisConn := func(db string) php.Value {
		return arr("url", nil, "host", "127.0.0.1", "username", nil, "password", nil, "port", "6379", "database", db)
	}
	return arr(
		"cache", arr("default", defaultStore, "stores", arr(stores...), "prefix", cachePrefix),
		"database", arr(
			"default", defaultConn,
			"connections", arr(
				"sqlite", arr("driver", "sqlite", "url", nil, "database", filepath.Join(base, "database/database.sqlite"), "prefix", "", "foreign_key_constraints", true),
				"mysql", arr("driver", "mysql", "url", nil, "host", "127.0.0.1", "port", "3306", "database", mysqlDB, "username", mysqlUser,
					"password", "", "unix_socket", "", "charset", "utf8mb4", "collation", "utf8mb4_unicode_ci", "prefix", ""),
				"pgsql", arr("driver", "pgsql", "url", nil, "host", "127.0.0.1", "port", "5432", "database", mysqlDB, "username", mysqlUser,
					"password", "", "charset", "utf8", "prefix", "", "search_path", "public", "sslmode", "prefer"),
			),
			"redis", arr(
				"client", "phpredis",
				"options", arr("cluster", "redis", "prefix", redisPrefix),
				"default", redisConn("0"),
				"cache", redisConn("1"),
			),
		),
	)
}

func project(l layout, base string, cfg php.Value) *laravelcfg.Project {
	return &laravelcfg.Project{BasePath: base, LaravelMajor: l.major, Config: cfg}
}

func sqlOpen(driver, path string) (*sql.DB, error) { return sql.Open(driver, path) }

// openStore opens p's flag store and closes it when the test ends.
func openStore(t testing.TB, p *laravelcfg.Project) Store {
	t.Helper()
	st, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
