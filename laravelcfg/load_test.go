package laravelcfg

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg/php"
)

// project writes files (path → content) under a temp dir.
func project(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// noEnv is an empty real environment, so the host's variables never leak
// into a test.
func noEnv(map[string]string) func(string) (string, bool) { return envOf(nil) }

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func lock(version string) string {
	return `{"packages": [{"name": "laravel/reverb", "version": "v1.4.0"}, {"name": "laravel/framework", "version": "` + version + `"}]}`
}

const baseEnv = "REVERB_APP_ID=123456\nREVERB_APP_KEY=key\nREVERB_APP_SECRET=secret\nAPP_NAME=Laravel\n"

func jsonAt(t *testing.T, p *Project, key string) string {
	t.Helper()
	v, ok := php.Lookup(p.Config, key)
	if !ok {
		return "<missing>"
	}
	b, err := php.EncodeJSON(v, php.JSONOptions{OnUnknown: func(string, php.Value) {}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLoadExampleApp(t *testing.T) {
	p, err := Load(LoadOptions{Dir: "../examples/laravel", LookupEnv: noEnv(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Reverb.Apps) != 1 {
		t.Fatalf("apps = %+v", p.Reverb.Apps)
	}
	a := p.Reverb.Apps[0]
	if a.ID != "123456" || a.Key != "reverb-key" || a.Secret != "reverb-secret" || a.PingInterval != 60 || a.ActivityTimeout != 30 {
		t.Errorf("app = %+v", a)
	}
	if got := jsonAt(t, p, "cache.default"); got != `"file"` {
		t.Errorf("cache.default = %s", got)
	}
	if p.Reverb.Server.Port != 8080 || p.Reverb.Server.Host != "0.0.0.0" || p.Reverb.Server.Hostname != "localhost" {
		t.Errorf("server = %+v", p.Reverb.Server)
	}
}

func TestReverbShallowMerge(t *testing.T) {
	// A file with only 'servers' keeps the package's env-driven apps; its
	// 'servers' replaces the package's wholesale.
	dir := project(t, map[string]string{
		".env":              baseEnv,
		"composer.lock":     lock("v11.9.0"),
		"config/reverb.php": `<?php return ['servers' => ['reverb' => ['host' => '127.0.0.1', 'port' => '9000']], 'extra' => 1];`,
	})
	p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonAt(t, p, "reverb.servers.reverb"); got != `{"host":"127.0.0.1","port":"9000"}` {
		t.Errorf("servers.reverb = %s", got)
	}
	if got := jsonAt(t, p, "reverb.apps.apps.0.key"); got != `"key"` {
		t.Errorf("apps from package default: %s", got)
	}
	if got := jsonAt(t, p, "reverb.extra"); got != `1` {
		t.Errorf("extra = %s", got)
	}
	s := p.Reverb.Server
	if s.Port != 9000 || s.MaxRequestSize != 10_000 || s.TelescopeIngestInterval != 15 || s.Scaling.Channel != "reverb" {
		t.Errorf("server defaults not applied: %+v", s)
	}
}

func TestFrameworkMerge(t *testing.T) {
	cache := `<?php return ['default' => env('CACHE_DRIVER', 'file'), 'stores' => ['file' => ['driver' => 'file', 'path' => '/x'], 'custom' => ['driver' => 'array']]];`
	cases := []struct {
		name, version string
		want          map[string]string
	}{
		{"laravel 10 no merge", "v10.48.0", map[string]string{
			"cache.default": `"file"`, "cache.stores.file": `{"driver":"file","path":"\/x"}`, "cache.stores.database": "<missing>",
			"cache.prefix": "<missing>", "database.default": "<missing>",
		}},
		{"laravel 11 merge", "v11.0.0", map[string]string{
			"cache.default": `"file"`, "cache.stores.file": `{"driver":"file","path":"\/x"}`,
			"cache.stores.database.table": `"cache"`, "cache.stores.custom.driver": `"array"`,
			"cache.prefix": `"laravel_cache_"`, "database.default": `"sqlite"`,
			"database.redis.options.prefix": `"laravel_database_"`, "broadcasting.default": `"null"`,
		}},
		{"laravel 12 merge", "v12.1.0", map[string]string{
			"cache.stores.session.driver": `"session"`, "cache.prefix": `"laravel_cache_"`,
		}},
		{"laravel 13 merge", "v13.0.0", map[string]string{
			"cache.prefix": `"laravel-cache-"`, "database.redis.options.prefix": `"laravel-database-"`,
			"cache.stores.storage.driver": `"storage"`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := project(t, map[string]string{".env": baseEnv, "composer.lock": lock(c.version), "config/cache.php": cache})
			p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range c.want {
				if got := jsonAt(t, p, k); got != want {
					t.Errorf("%s = %s, want %s", k, got, want)
				}
			}
			// The merged store order: framework stores first, then the app's own.
			if c.version != "v10.48.0" {
				stores, _ := php.Lookup(p.Config, "cache.stores")
				keys := stores.ArrayVal().Keys
				if keys[len(keys)-1].S != "custom" || keys[0].S != "array" {
					t.Errorf("store order = %v", keys)
				}
			}
		})
	}
}

// The installed framework's own config file is what Laravel merges under
// the app's, so its keys follow the installed minor release; without it (or
// when it cannot be evaluated) the built-in copy of the major stands in.
func TestFrameworkMergeReadsInstalledFrameworkConfig(t *testing.T) {
	vendorDB := `<?php return ['default' => env('DB_CONNECTION', 'sqlite'), 'connections' => ['sqlite' => ['driver' => 'sqlite',
		'database' => env('DB_DATABASE', database_path('database.sqlite')), 'busy_timeout' => null, 'journal_mode' => null,
		'synchronous' => null]], 'redis' => ['options' => ['prefix' => 'from_vendor_']]];`
	cases := []struct {
		name  string
		files map[string]string
		want  map[string]string
	}{
		{"installed file", map[string]string{"vendor/laravel/framework/config/database.php": vendorDB}, map[string]string{
			"database.connections.sqlite":   `{"driver":"sqlite","database":"DB","busy_timeout":null,"journal_mode":null,"synchronous":null}`,
			"database.redis.options.prefix": `"from_vendor_"`,
			"cache.prefix":                  `"laravel_cache_"`, // no vendor cache.php: built-in
		}},
		{"installed file under the app's", map[string]string{"vendor/laravel/framework/config/database.php": vendorDB,
			"config/database.php": `<?php return ['connections' => ['mysql' => ['driver' => 'mysql']]];`}, map[string]string{
			"database.connections.sqlite.busy_timeout": `null`, "database.connections.mysql": `{"driver":"mysql"}`,
			"database.default": `"sqlite"`,
		}},
		{"unusable installed file", map[string]string{"vendor/laravel/framework/config/database.php": "<?php return [1,"}, map[string]string{
			"database.connections.sqlite.busy_timeout": "<missing>", "database.redis.options.prefix": `"laravel_database_"`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{".env": baseEnv + "DB_DATABASE=DB\n", "composer.lock": lock("v11.33.2")}
			for k, v := range c.files {
				files[k] = v
			}
			p, err := Load(LoadOptions{Dir: project(t, files), LookupEnv: noEnv(nil)})
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range c.want {
				if got := jsonAt(t, p, k); got != want {
					t.Errorf("%s = %s, want %s", k, got, want)
				}
			}
		})
	}
}

func TestDetectLaravelMajor(t *testing.T) {
	cases := []struct {
		name       string
		files      map[string]string
		wantMajor  int
		wantSource string
	}{
		{"composer.lock", map[string]string{"composer.lock": lock("v12.3.0")}, 12, SourceComposerLock},
		{"lock wins over composer.json", map[string]string{"composer.lock": lock("v11.0.1"), "composer.json": `{"require":{"laravel/framework":"^12.0"}}`}, 11, SourceComposerLock},
		{"installed.json", map[string]string{"vendor/composer/installed.json": `{"packages":[{"name":"laravel/framework","version":"v10.48.2"}]}`}, 10, SourceVendor},
		{"Application VERSION", map[string]string{"vendor/laravel/framework/src/Illuminate/Foundation/Application.php": "<?php class Application { const VERSION = '13.1.0'; }"}, 13, SourceVendor},
		{"branch alias", map[string]string{"vendor/laravel/framework/composer.json": `{"extra":{"branch-alias":{"dev-master":"12.x-dev"}}}`}, 12, SourceVendor},
		{"composer.json constraint", map[string]string{"composer.json": `{"require":{"laravel/framework":"^10.10|^11.0"}}`}, 11, SourceComposerJSON + " ^10.10|^11.0"},
		{"nothing", map[string]string{}, 13, SourceAssumed},
		{"broken lock", map[string]string{"composer.lock": "{"}, 13, SourceAssumed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := project(t, c.files)
			m, src := DetectLaravelMajor(dir)
			if m != c.wantMajor || src != c.wantSource {
				t.Errorf("got %d %q, want %d %q", m, src, c.wantMajor, c.wantSource)
			}
		})
	}
	dir := project(t, map[string]string{".env": baseEnv})
	p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if p.LaravelMajor != 13 || len(p.Warnings) == 0 || !strings.Contains(p.Warnings[0], "assuming Laravel 13") {
		t.Errorf("major %d warnings %q", p.LaravelMajor, p.Warnings)
	}
}

func TestConfigCache(t *testing.T) {
	cached := "<?php return array (\n  'reverb' => \n  array (\n    'default' => 'reverb',\n    'servers' => \n    array (\n      'reverb' => \n      array (\n        'host' => '0.0.0.0',\n        'port' => 7000,\n      ),\n    ),\n    'apps' => \n    array (\n      'apps' => \n      array (\n        0 => \n        array (\n          'app_id' => 'cached-id',\n          'key' => 'cached-key',\n          'secret' => 'cached-secret',\n          'allowed_origins' => \n          array (\n            0 => '*',\n          ),\n          'ping_interval' => 60,\n          'max_message_size' => 10000,\n        ),\n      ),\n    ),\n  ),\n  'cache' => \n  array (\n    'default' => 'array',\n  ),\n);\n"
	files := map[string]string{
		".env":                       baseEnv + "REVERB_SERVER_PORT=1234\n",
		"config/reverb.php":          "<?php return ['servers' => ['reverb' => ['port' => env('REVERB_SERVER_PORT')]]];",
		"bootstrap/cache/config.php": cached,
		"elsewhere/cfg.php":          strings.Replace(cached, "7000", "7001", 1),
	}
	dir := project(t, files)
	p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !p.ConfigCached || p.EnvFile != "" || p.Reverb.Server.Port != 7000 || p.Reverb.Apps[0].Key != "cached-key" {
		t.Errorf("cached=%v env=%q server=%+v", p.ConfigCached, p.EnvFile, p.Reverb.Server)
	}
	if p.Reverb.Apps[0].AcceptClientEventsFrom != "all" || p.Reverb.Apps[0].ActivityTimeout != 30 {
		t.Errorf("provider defaults: %+v", p.Reverb.Apps[0])
	}
	// .env is not read: Getenv sees only the real environment.
	if _, ok := p.Getenv("REVERB_APP_KEY"); ok {
		t.Errorf(".env was read despite the config cache")
	}
	p, err = Load(LoadOptions{Dir: dir, LookupEnv: envOf(map[string]string{"APP_CONFIG_CACHE": "elsewhere/cfg.php"})})
	if err != nil {
		t.Fatal(err)
	}
	if p.Reverb.Server.Port != 7001 {
		t.Errorf("APP_CONFIG_CACHE not honoured: port %d", p.Reverb.Server.Port)
	}
}

func TestEnvFileSelection(t *testing.T) {
	dir := project(t, map[string]string{
		".env":         baseEnv + "REVERB_SERVER_PORT=1111\n",
		".env.staging": baseEnv + "REVERB_SERVER_PORT=2222\n",
	})
	for _, c := range []struct {
		opts LoadOptions
		want int
	}{
		{LoadOptions{Dir: dir, LookupEnv: noEnv(nil)}, 1111},
		{LoadOptions{Dir: dir, LookupEnv: envOf(map[string]string{"APP_ENV": "staging"})}, 2222},
		{LoadOptions{Dir: dir, LookupEnv: noEnv(nil), EnvName: "staging"}, 2222},
		{LoadOptions{Dir: dir, LookupEnv: envOf(map[string]string{"REVERB_SERVER_PORT": "3333"})}, 3333},
	} {
		p, err := Load(c.opts)
		if err != nil {
			t.Fatal(err)
		}
		if p.Reverb.Server.Port != c.want {
			t.Errorf("%+v: port %d, want %d", c.opts.EnvName, p.Reverb.Server.Port, c.want)
		}
	}
}

func TestSettingsCoercionAndErrors(t *testing.T) {
	app := func(extra string) string {
		return `<?php return ['apps' => ['provider' => 'config', 'apps' => [['app_id' => 1, 'key' => 'k', 'secret' => 's', 'allowed_origins' => ['*'], 'ping_interval' => '60', 'max_message_size' => 10_000` + extra + `]]]];`
	}
	ok := []struct {
		name, file string
		check      func(t *testing.T, p *Project)
	}{
		{"loose ints and provider defaults", app(""), func(t *testing.T, p *Project) {
			a := p.Reverb.Apps[0]
			if a.ID != "1" || a.PingInterval != 60 || a.MaxMessageSize != 10000 || a.ActivityTimeout != 30 ||
				a.AcceptClientEventsFrom != "all" || a.RateLimiting != nil || a.MaxConnections != nil {
				t.Errorf("%+v", a)
			}
		}},
		{"rate limiting only with bool true", app(`, 'rate_limiting' => ['enabled' => 'true', 'max_attempts' => '5'], 'max_connections' => '7'`), func(t *testing.T, p *Project) {
			a := p.Reverb.Apps[0]
			if a.RateLimiting == nil || a.RateLimiting.Enabled || a.RateLimiting.MaxAttempts != 5 || a.RateLimiting.DecaySeconds != 60 || *a.MaxConnections != 7 {
				t.Errorf("%+v %+v", a, a.RateLimiting)
			}
		}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			dir := project(t, map[string]string{"composer.lock": lock("v11.0.0"), "config/reverb.php": c.file})
			p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, p)
		})
	}
	bad := []struct{ name, file, env, want string }{
		{"non-numeric port", `<?php return ['servers' => ['reverb' => ['port' => env('P', 1)]]];`, "P=abc\n",
			`config/reverb.php: reverb.servers.reverb.port: "abc" is not numeric`},
		{"missing key", strings.Replace(app(""), "'key' => 'k', ", "", 1), "", "config/reverb.php: reverb.apps.apps.0: missing key"},
		{"missing secret", strings.Replace(app(""), "'secret' => 's', ", "", 1), "", "reverb.apps.apps.0: missing secret"},
		{"duplicate ids", `<?php $a = ['app_id' => 1, 'key' => 'k', 'secret' => 's', 'allowed_origins' => [], 'ping_interval' => 1, 'max_message_size' => 1]; $b = $a; $b['key'] = 'k2'; return ['apps' => ['apps' => [$a, $b]]];`, "",
			`reverb.apps.apps.1.app_id: "1" is also the app_id of reverb.apps.apps.0`},
		{"duplicate keys", `<?php $a = ['app_id' => 1, 'key' => 'k', 'secret' => 's', 'allowed_origins' => [], 'ping_interval' => 1, 'max_message_size' => 1]; $b = $a; $b['app_id'] = 2; return ['apps' => ['apps' => [$a, $b]]];`, "",
			`reverb.apps.apps.1.key: "k" is also the key of reverb.apps.apps.0`},
		{"empty max_connections", app(`, 'max_connections' => ''`), "", `reverb.apps.apps.0.max_connections: "" is not numeric`},
		{"parse error", "<?php return [", "", "config/reverb.php:1: PHP parse error"},
		{"not an array", "<?php return 5;", "", "config/reverb.php: must return an array, got int"},
		{"unknown server", `<?php return ['default' => 'other'];`, "", `reverb.servers.other: missing`},
		{"options not an array", app(`, 'options' => 'x'`), "", `reverb.apps.apps.0.options: "x" is not an array`},
		{"port out of range", `<?php return ['servers' => ['reverb' => ['port' => 70000]]];`, "", `70000 is not a TCP port`},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			dir := project(t, map[string]string{".env": baseEnv + c.env, "composer.lock": lock("v11.0.0"), "config/reverb.php": c.file})
			_, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
			// reverb restart only needs the cache config: the same project
			// loads, with the problem as a warning.
			p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil), SkipReverbSettings: true})
			if err != nil {
				t.Fatalf("SkipReverbSettings: %v", err)
			}
			if !hasWarning(p, c.want) {
				t.Errorf("SkipReverbSettings: warnings %q lack %q", p.Warnings, c.want)
			}
			if len(p.Reverb.Apps) != 0 {
				t.Errorf("SkipReverbSettings: Reverb = %+v, want zero", p.Reverb)
			}
			if jsonAt(t, p, "cache.default") != `"database"` {
				t.Errorf("SkipReverbSettings: cache.default = %s", jsonAt(t, p, "cache.default"))
			}
		})
	}
}

// reverb:start --port (and --host, --hostname) replaces the config value
// without reading it, as Reverb's `option('port') ?: $config['port']` does:
// a value only PHP can compute, or a wrong one, does not stop a server
// given the option, and still does without it.
func TestGivenOptionsAreNotRead(t *testing.T) {
	file := `<?php return ['servers' => ['reverb' => [
		'host' => config('app.host'), 'port' => env('P', 8080), 'hostname' => config('app.hostname'),
	]], 'apps' => ['apps' => [['app_id' => 1, 'key' => 'k', 'secret' => 's', 'allowed_origins' => ['*'], 'ping_interval' => 60, 'max_message_size' => 10000]]]];`
	dir := project(t, map[string]string{".env": baseEnv + "P=abc\n", "composer.lock": lock("v11.0.0"), "config/reverb.php": file})

	p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil), Given: GivenOptions{Host: true, Port: true, Hostname: true}})
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Reverb.Server; s.Host != "" || s.Port != 0 || s.Hostname != "" || len(p.Reverb.Apps) != 1 {
		t.Errorf("server %+v, %d apps", s, len(p.Reverb.Apps))
	}
	for _, c := range []struct {
		given GivenOptions
		want  string
	}{
		{GivenOptions{Port: true, Hostname: true}, "reverb.servers.reverb.host: cannot be computed without PHP"},
		{GivenOptions{Host: true, Hostname: true}, `reverb.servers.reverb.port: "abc" is not numeric`},
		{GivenOptions{Host: true, Port: true}, "reverb.servers.reverb.hostname: cannot be computed without PHP"},
	} {
		if _, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil), Given: c.given}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("given %+v: err = %v, want %q", c.given, err, c.want)
		}
	}
}

func TestScalingServer(t *testing.T) {
	dir := project(t, map[string]string{
		".env":              baseEnv + "REVERB_SCALING_ENABLED=true\nREDIS_HOST=10.0.0.5\nREDIS_DB=2\nREDIS_URL=rediss://r.example:6380\n",
		"composer.lock":     lock("v12.0.0"),
		"config/reverb.php": `<?php return ['servers' => ['reverb' => ['port' => 8080, 'scaling' => ['enabled' => env('REVERB_SCALING_ENABLED'), 'server' => []]]]];`,
	})
	p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
	if err != nil {
		t.Fatal(err)
	}
	sc := p.Reverb.Server.Scaling
	// Empty scaling.server falls back to database.redis.default.
	if !sc.Enabled || sc.Channel != "reverb" || sc.Server.Host != "10.0.0.5" || sc.Server.Database != 2 || sc.Server.Scheme != "tls" || sc.Server.Timeout != 60 {
		t.Errorf("%+v", sc)
	}
}

// scaling.connection (or REVERB_SCALING_CONNECTION) names a connection of
// config/database.php; scaling.server is then not read, so its problems do
// not stop the server.
func TestScalingConnection(t *testing.T) {
	for _, tc := range []struct {
		name, reverbPHP, env, want, from string
	}{
		{"config key", `'connection' => 'sentinel'`, "", "sentinel", "reverb.servers.reverb.scaling.connection"},
		{"config key wins over env", `'connection' => env('X_CONN', 'cfg')`, "REVERB_SCALING_CONNECTION=envconn\n", "cfg", "reverb.servers.reverb.scaling.connection"},
		{"env", ``, "REVERB_SCALING_CONNECTION=ha\n", "ha", "REVERB_SCALING_CONNECTION"},
		{"neither", ``, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reverb := `<?php return ['servers' => ['reverb' => ['port' => 8080, 'scaling' => ['enabled' => true, ` + tc.reverbPHP + `, 'server' => ['port' => 'not a port']]]]];`
			if tc.reverbPHP == "" {
				reverb = `<?php return ['servers' => ['reverb' => ['port' => 8080, 'scaling' => ['enabled' => true, 'server' => ['port' => 'x']]]]];`
			}
			dir := project(t, map[string]string{".env": baseEnv + tc.env, "config/reverb.php": reverb})
			p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
			if tc.want == "" {
				if err == nil || !strings.Contains(err.Error(), "scaling.server.port") {
					t.Fatalf("without a connection scaling.server is read: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sc := p.Reverb.Server.Scaling
			if sc.Connection != tc.want || sc.ConnectionFrom != tc.from {
				t.Errorf("Connection %q from %q, want %q from %q", sc.Connection, sc.ConnectionFrom, tc.want, tc.from)
			}
		})
	}
}

func TestTLSOptions(t *testing.T) {
	dir := project(t, map[string]string{
		".env":              baseEnv,
		"config/reverb.php": `<?php return ['servers' => ['reverb' => ['port' => 443, 'options' => ['tls' => ['local_cert' => '/c.pem', 'local_pk' => null, 'verify_peer' => false, 'passphrase' => 'pw']]]]];`,
	})
	p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
	if err != nil {
		t.Fatal(err)
	}
	tls := p.Reverb.Server.TLS
	if !tls.Enabled() || tls.LocalCert != "/c.pem" || tls.Passphrase != "pw" || tls.VerifyPeer == nil || *tls.VerifyPeer || tls.Raw.ArrayVal().Len() != 3 {
		t.Errorf("%+v", tls)
	}
}

func TestMergeFramework(t *testing.T) {
	mk := func(pairs ...any) *php.OrderedArray {
		a := php.NewArray()
		for i := 0; i < len(pairs); i += 2 {
			v, ok := pairs[i+1].(php.Value)
			if !ok {
				v = php.ArrayValue(pairs[i+1].(*php.OrderedArray))
			}
			a.Set(php.StringKey(pairs[i].(string)), v)
		}
		return a
	}
	def := mk("default", php.StringValue("database"), "stores", mk("array", php.IntValue(1), "file", php.IntValue(2)), "prefix", php.StringValue("p"))
	app := mk("stores", mk("file", php.IntValue(3), "mine", php.IntValue(4)), "default", php.StringValue("file"))
	got := mergeFramework(def, app, []string{"stores"})
	b, _ := php.EncodeJSON(php.ArrayValue(got), php.JSONOptions{})
	if want := `{"default":"file","stores":{"array":1,"file":3,"mine":4},"prefix":"p"}`; string(b) != want {
		t.Errorf("got %s want %s", b, want)
	}
}

func TestDontMergeFrameworkConfiguration(t *testing.T) {
	dir := project(t, map[string]string{
		".env":              baseEnv,
		"composer.lock":     lock("v11.0.0"),
		"config/cache.php":  `<?php return ['default' => 'file'];`,
		"bootstrap/app.php": "<?php\n// $app->dontMergeFrameworkConfiguration(); in a comment does not count\nreturn Application::configure(basePath: dirname(__DIR__))\n    ->create()\n    ->dontMergeFrameworkConfiguration();\n",
	})
	p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonAt(t, p, "cache"); got != `{"default":"file"}` {
		t.Errorf("cache = %s", got)
	}
	if got := jsonAt(t, p, "database"); got != "<missing>" {
		t.Errorf("database = %s", got)
	}
}

func TestUnknownWarnings(t *testing.T) {
	dir := project(t, map[string]string{
		".env":              baseEnv,
		"config/reverb.php": "<?php\nreturn [\n  'servers' => ['reverb' => ['port' => 8080, 'options' => ['tcp' => app('x')]]],\n];\n",
	})
	p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range p.Warnings {
		if strings.Contains(w, "config/reverb.php:3: reverb.servers.reverb.options.tcp: not computed (unsupported construct call to app())") {
			found = true
		}
	}
	if !found {
		t.Errorf("warnings = %q", p.Warnings)
	}
}

// TestPrefixes checks §3.3's cache and Redis prefixes per version with the
// framework defaults (no app cache.php / database.php).
func TestPrefixes(t *testing.T) {
	cases := []struct {
		version, env, cache, redis string
	}{
		{"v11.0.0", "APP_NAME=Laravel", `"laravel_cache_"`, `"laravel_database_"`},
		{"v12.0.0", "APP_NAME=\"My App\"", `"my_app_cache_"`, `"my_app_database_"`},
		{"v13.0.0", "APP_NAME=\"My App\"", `"my-app-cache-"`, `"my-app-database-"`},
		{"v13.0.0", "APP_NAME=ACME@Corp", `"acme-at-corp-cache-"`, `"acme-at-corp-database-"`},
		{"v11.0.0", "APP_NAME=true", `"1_cache_"`, `"1_database_"`},
		{"v12.0.0", "APP_NAME=日本語", `"_cache_"`, `"_database_"`},
		{"v12.0.0", "APP_NAME=\"Café Crème\"\nCACHE_PREFIX=\nREDIS_PREFIX=", `""`, `""`},
		{"v11.0.0", "", `"laravel_cache_"`, `"laravel_database_"`},
	}
	for _, c := range cases {
		dir := project(t, map[string]string{".env": baseEnv + c.env + "\n", "composer.lock": lock(c.version)})
		p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonAt(t, p, "cache.prefix"); got != c.cache {
			t.Errorf("%s %q: cache.prefix = %s, want %s", c.version, c.env, got, c.cache)
		}
		if got := jsonAt(t, p, "database.redis.options.prefix"); got != c.redis {
			t.Errorf("%s %q: redis prefix = %s, want %s", c.version, c.env, got, c.redis)
		}
	}
}

func TestArtisanServerVars(t *testing.T) {
	dir := project(t, map[string]string{".env": baseEnv + "SELF=${PHP_SELF}\nPHP_SELF=other\n"})
	p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"SELF": "artisan", "PHP_SELF": "artisan"} {
		if got, _ := p.Getenv(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func hasWarning(p *Project, want string) bool {
	for _, w := range p.Warnings {
		if strings.Contains(w, want) {
			return true
		}
	}
	return false
}

// appsResolverFunc adapts a function to AppsResolver.
type appsResolverFunc func(p *Project) ([]App, error)

func (f appsResolverFunc) ResolveApps(p *Project) ([]App, error) { return f(p) }

func TestAppsFromPHP(t *testing.T) {
	cases := []struct{ name, file, want string }{
		{"custom provider", `<?php return ['apps' => ['provider' => 'tenants', 'apps' => []]];`,
			`config/reverb.php: reverb.apps.provider is "tenants", a provider only PHP can run`},
		{"uncomputable app value", `<?php return ['apps' => ['apps' => [['app_id' => 1, 'key' => 'k', 'secret' => 's', 'allowed_origins' => ['*'], 'ping_interval' => 60, 'max_message_size' => 1, 'activity_timeout' => config('x')]]]];`,
			"config/reverb.php: reverb.apps.apps.0.activity_timeout: cannot be computed without PHP (config/reverb.php:1: unsupported construct call to config())"},
		{"uncomputable list", `<?php return ['apps' => ['apps' => array_map(fn ($t) => $t, config('tenants'))]];`,
			"reverb.apps.apps: cannot be computed without PHP"},
		{"uncomputable provider", `<?php return ['apps' => ['provider' => config('x'), 'apps' => []]];`,
			"reverb.apps.provider: cannot be computed without PHP"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := project(t, map[string]string{".env": baseEnv, "composer.lock": lock("v11.0.0"), "config/reverb.php": c.file})
			p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(p.Reverb.AppsFromPHP, c.want) || len(p.Reverb.Apps) != 0 {
				t.Errorf("AppsFromPHP = %q (apps %d), want %q", p.Reverb.AppsFromPHP, len(p.Reverb.Apps), c.want)
			}
			if !hasWarning(p, "php artisan reverb:apps --json") {
				t.Errorf("warnings %q do not say where the apps come from", p.Warnings)
			}
			// With a resolver, Load asks it and keeps what it returns.
			p, err = Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil), Apps: appsResolverFunc(func(p *Project) ([]App, error) {
				return []App{{ID: "7", Key: "k7", Secret: "s"}}, nil
			})})
			if err != nil || len(p.Reverb.Apps) != 1 || p.Reverb.Apps[0].ID != "7" {
				t.Fatalf("resolved: %v %+v", err, p)
			}
			_, err = Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil), Apps: appsResolverFunc(func(p *Project) ([]App, error) {
				return nil, errors.New("php failed")
			})})
			if err == nil || err.Error() != "php failed" {
				t.Errorf("resolver error: %v", err)
			}
		})
	}
	// A static list never asks the resolver.
	dir := project(t, map[string]string{".env": baseEnv, "composer.lock": lock("v11.0.0")})
	p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil), Apps: appsResolverFunc(func(p *Project) ([]App, error) {
		t.Error("resolver called for config apps")
		return nil, nil
	})})
	if err != nil || p.Reverb.AppsFromPHP != "" || len(p.Reverb.Apps) != 1 {
		t.Fatalf("%v %+v", err, p.Reverb)
	}
}

// php artisan reverb:start sets REVERB_GO_APPS_PROVIDER when the app binds
// its own provider to Reverb's ApplicationProvider contract while
// reverb.apps.provider stays "config": the apps come from PHP then.
func TestAppsFromAProviderBoundToReverbsContract(t *testing.T) {
	dir := project(t, map[string]string{".env": baseEnv, "composer.lock": lock("v11.0.0")})
	p, err := Load(LoadOptions{Dir: dir, LookupEnv: envOf(map[string]string{"REVERB_GO_APPS_PROVIDER": `App\Reverb\TenantApps`})})
	if err != nil {
		t.Fatal(err)
	}
	want := `the app binds App\Reverb\TenantApps to Laravel\Reverb\Contracts\ApplicationProvider (REVERB_GO_APPS_PROVIDER), a provider only PHP can run`
	if p.Reverb.AppsFromPHP != want || len(p.Reverb.Apps) != 0 {
		t.Errorf("AppsFromPHP = %q (apps %d), want %q", p.Reverb.AppsFromPHP, len(p.Reverb.Apps), want)
	}
	// Empty: the config apps, as without it.
	p, err = Load(LoadOptions{Dir: dir, LookupEnv: envOf(map[string]string{"REVERB_GO_APPS_PROVIDER": ""})})
	if err != nil || p.Reverb.AppsFromPHP != "" || len(p.Reverb.Apps) != 1 {
		t.Fatalf("%v %+v", err, p.Reverb)
	}
}

func TestParseApps(t *testing.T) {
	list := php.NewArray()
	a := php.NewArray()
	for k, v := range map[string]php.Value{"app_id": php.IntValue(5), "key": php.StringValue("k"), "secret": php.StringValue("s"),
		"ping_interval": php.StringValue("60"), "max_message_size": php.IntValue(100), "allowed_origins": php.ListValue(php.StringValue("*"))} {
		a.Set(php.StringKey(k), v)
	}
	list.Append(php.ArrayValue(a))
	apps, _, err := ParseApps(php.ArrayValue(list), "src", "apps")
	if err != nil || len(apps) != 1 || apps[0].ID != "5" || apps[0].PingInterval != 60 || apps[0].ActivityTimeout != 30 {
		t.Fatalf("%v %+v", err, apps)
	}
	b := a.Copy()
	b.Set(php.StringKey("ping_interval"), php.StringValue("soon"))
	list.Append(php.ArrayValue(b))
	_, _, err = ParseApps(php.ArrayValue(list), "src", "apps")
	if err == nil || err.Error() != `src: apps.1.ping_interval: "soon" is not numeric` {
		t.Fatalf("err = %v", err)
	}
}

// scaling.routing (or REVERB_SCALING_ROUTING): classic by default, the
// config key first; a wrong value stops the server only with scaling on.
func TestScalingRouting(t *testing.T) {
	for _, tc := range []struct {
		name, reverbPHP, env, want, from, err string
		enabled                               bool
	}{
		{"default", ``, "", "classic", "", "", true},
		{"env", ``, "REVERB_SCALING_ROUTING=Interest\n", "interest", "REVERB_SCALING_ROUTING", "", true},
		{"config key wins", `'routing' => 'classic', `, "REVERB_SCALING_ROUTING=interest\n", "classic", "reverb.servers.reverb.scaling.routing", "", true},
		{"config key from env()", `'routing' => env('REVERB_SCALING_ROUTING', 'classic'), `, "REVERB_SCALING_ROUTING=interest\n", "interest", "reverb.servers.reverb.scaling.routing", "", true},
		{"wrong", `'routing' => 'sharded', `, "", "", "", `reverb.servers.reverb.scaling.routing: unknown routing "sharded"`, true},
		{"wrong env", ``, "REVERB_SCALING_ROUTING=yes\n", "", "", `REVERB_SCALING_ROUTING: unknown routing "yes"`, true},
		{"wrong but scaling off", `'routing' => 'sharded', `, "", "classic", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enabled := "false"
			if tc.enabled {
				enabled = "true"
			}
			reverb := `<?php return ['servers' => ['reverb' => ['port' => 8080, 'scaling' => [` + tc.reverbPHP + `'enabled' => ` + enabled + `, 'server' => ['host' => '127.0.0.1']]]]];`
			dir := project(t, map[string]string{".env": baseEnv + tc.env, "config/reverb.php": reverb})
			p, err := Load(LoadOptions{Dir: dir, LookupEnv: noEnv(nil)})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sc := p.Reverb.Server.Scaling
			if sc.Routing != tc.want || sc.RoutingFrom != tc.from {
				t.Errorf("Routing %q from %q, want %q from %q", sc.Routing, sc.RoutingFrom, tc.want, tc.from)
			}
		})
	}
}

// getenv() in a config file reads the process environment, into which
// Laravel's .env loader puts what .env defines (putenv) unless the name is
// already set; the $_SERVER-only names artisan adds (PHP_SELF) are not
// there, and .env cannot set them. Expected values: config/probe.php in
// the real Laravel 11 app run by `php artisan config:show`.
func TestGetenvInConfigFiles(t *testing.T) {
	files := map[string]string{
		".env": baseEnv + "PROBE_DOTENV=fromdotenv\nPROBE_BOTH=fromdotenv\nPROBE_QUOTED=\"true\"\nPROBE_EMPTY=\n" +
			"PHP_SELF=dotenvself\nPROBE_INTERP=\"${PROBE_DOTENV}-x\"\n",
		"config/reverb.php": `<?php return ['probe' => ['a' => getenv('PROBE_DOTENV'), 'b' => getenv('PROBE_REAL'),
			'c' => getenv('PHP_SELF'), 'd' => getenv('NOPE'), 'e' => getenv('PROBE_BOTH'), 'f' => getenv('PROBE_QUOTED'),
			'g' => getenv('PROBE_EMPTY'), 'h' => getenv('PROBE_INTERP'), 'i' => getenv('probe_dotenv'),
			'j' => getenv('PROBE_DOTENV', true), 'l' => env('PHP_SELF')], 'all' => getenv()];`,
	}
	p, err := Load(LoadOptions{Dir: project(t, files), LookupEnv: envOf(map[string]string{"PROBE_REAL": "real", "PROBE_BOTH": "real"})})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":"fromdotenv","b":"real","c":false,"d":false,"e":"real","f":"true","g":"","h":"fromdotenv-x","i":false,"j":"fromdotenv","l":"artisan"}`
	if got := jsonAt(t, p, "reverb.probe"); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if v, _ := php.Lookup(p.Config, "reverb.all"); !v.IsUnknown() {
		t.Errorf("getenv() without a name: %v", v.Kind())
	}
	// A real PHP_SELF is what getenv() returns (env() still sees artisan's).
	p, err = Load(LoadOptions{Dir: project(t, files), LookupEnv: envOf(map[string]string{"PHP_SELF": "realself"})})
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonAt(t, p, "reverb.probe.c"); got != `"realself"` {
		t.Errorf("getenv('PHP_SELF') with a real PHP_SELF: %s", got)
	}
}
