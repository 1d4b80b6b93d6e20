package defaults

import (
	"testing"

	"github.com/reverb-go/reverb/laravelcfg/php"
	"github.com/reverb-go/reverb/laravelcfg/phpeval"
)

func eval(t *testing.T, name string, src []byte) php.Value {
	t.Helper()
	res, err := phpeval.Eval(src, phpeval.Options{File: name, BasePath: "/app"})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.Value.Kind() != php.Array {
		t.Fatalf("%s returns %s", name, res.Value.TypeName())
	}
	return res.Value
}

func str(t *testing.T, v php.Value, key string) string {
	t.Helper()
	x, ok := php.Lookup(v, key)
	if !ok || x.Kind() != php.String {
		t.Fatalf("%s = %v (%v)", key, x, ok)
	}
	return x.StringVal()
}

func TestFrameworkDefaults(t *testing.T) {
	cases := []struct {
		major                               int
		cachePrefix, redisPrefix, dbDefault string
		stores                              []string
		absent                              []string
	}{
		{11, "laravel_cache_", "laravel_database_", "sqlite", []string{"array", "database", "file", "memcached", "redis", "dynamodb", "octane"}, []string{"apc", "session", "storage"}},
		{12, "laravel_cache_", "laravel_database_", "sqlite", []string{"session", "failover", "database"}, []string{"apc", "storage"}},
		{13, "laravel-cache-", "laravel-database-", "sqlite", []string{"session", "failover", "storage"}, []string{"apc"}},
	}
	for _, c := range cases {
		for _, name := range []string{"cache", "database", "broadcasting"} {
			if _, ok := Framework(c.major, name); !ok {
				t.Fatalf("Laravel %d has no %s.php", c.major, name)
			}
		}
		src, _ := Framework(c.major, "cache")
		cache := eval(t, FrameworkFile(c.major, "cache"), src)
		if got := str(t, cache, "prefix"); got != c.cachePrefix {
			t.Errorf("%d cache.prefix = %q, want %q", c.major, got, c.cachePrefix)
		}
		if got := str(t, cache, "default"); got != "database" {
			t.Errorf("%d cache.default = %q", c.major, got)
		}
		if got := str(t, cache, "stores.file.path"); got != "/app/storage/framework/cache/data" {
			t.Errorf("%d file path = %q", c.major, got)
		}
		for _, s := range c.stores {
			if _, ok := php.Lookup(cache, "stores."+s); !ok {
				t.Errorf("%d: store %s missing", c.major, s)
			}
		}
		for _, s := range c.absent {
			if _, ok := php.Lookup(cache, "stores."+s); ok {
				t.Errorf("%d: store %s should not exist", c.major, s)
			}
		}
		src, _ = Framework(c.major, "database")
		db := eval(t, FrameworkFile(c.major, "database"), src)
		if got := str(t, db, "redis.options.prefix"); got != c.redisPrefix {
			t.Errorf("%d redis prefix = %q", c.major, got)
		}
		if got := str(t, db, "default"); got != c.dbDefault {
			t.Errorf("%d database.default = %q", c.major, got)
		}
		if got := str(t, db, "redis.cache.database"); got != "1" {
			t.Errorf("%d redis cache db = %q", c.major, got)
		}
		if v, _ := php.Lookup(db, "connections.mysql.options"); v.Kind() != php.Array {
			t.Errorf("%d mysql options = %v", c.major, v)
		}
		src, _ = Framework(c.major, "broadcasting")
		b := eval(t, FrameworkFile(c.major, "broadcasting"), src)
		if got := str(t, b, "connections.reverb.driver"); got != "reverb" {
			t.Errorf("%d broadcasting reverb driver = %q", c.major, got)
		}
	}
	if _, ok := Framework(10, "cache"); ok {
		t.Errorf("Laravel 10 must merge no framework file")
	}
	if _, ok := Framework(14, "cache"); !ok {
		t.Errorf("a newer major falls back to the newest defaults")
	}
}

func TestReverbDefault(t *testing.T) {
	v := eval(t, ReverbFile, Reverb())
	if got := str(t, v, "default"); got != "reverb" {
		t.Errorf("default = %q", got)
	}
	for key, want := range map[string]string{
		"servers.reverb.port": "8080", "servers.reverb.max_request_size": "10000", "apps.apps.0.max_message_size": "10000",
		"servers.reverb.scaling.server.timeout": "60", "apps.apps.0.rate_limiting.max_attempts": "60",
	} {
		x, ok := php.Lookup(v, key)
		if !ok || x.Kind() != php.Int || x.ToString() != want {
			t.Errorf("%s = %v, want int %s", key, x, want)
		}
	}
	if got := str(t, v, "apps.apps.0.accept_client_events_from"); got != "members" {
		t.Errorf("accept_client_events_from = %q", got)
	}
}
