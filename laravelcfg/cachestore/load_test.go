package cachestore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
)

// These tests go through laravelcfg.Load: a project directory with .env
// (and, for Laravel 10, its own config files), resolved and opened as the
// server and `reverb restart` do.

const l10Configs = "../phpeval/testdata/configs" // laravelcfg's reconstructed Laravel 10 skeleton files

func loadProject(t *testing.T, major string, env string, realEnv map[string]string, configs map[string]string) *laravelcfg.Project {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("artisan", "<?php\n")
	write("composer.json", `{"require": {"laravel/framework": "^`+major+`.0"}}`)
	write(".env", "APP_NAME=Laravel\nREVERB_APP_ID=1\nREVERB_APP_KEY=k\nREVERB_APP_SECRET=s\n"+env)
	for name, src := range configs {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Skipf("fixture %s missing: %v", src, err)
		}
		write("config/"+name, string(b))
	}
	p, err := laravelcfg.Load(laravelcfg.LoadOptions{Dir: dir, LookupEnv: func(k string) (string, bool) {
		v, ok := realEnv[k]
		return v, ok
	}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestThroughLoad(t *testing.T) {
	l10 := map[string]string{"cache.php": l10Configs + "/l10-cache.php", "database.php": l10Configs + "/l10-database.php"}
	const hash = "4f/e4/4fe44729b03e0a0a2586ebe0d445f50c083d0ff3"
	tests := []struct {
		name    string
		major   string
		env     string
		realEnv map[string]string
		configs map[string]string
		want    string // with {base} for the project root
	}{
		{"11 defaults: database on sqlite", "11", "", nil, nil,
			"database sqlite:{base}/database/database.sqlite table cache key laravel_cache_laravel:reverb:restart"},
		{"12 defaults", "12", "", nil, nil,
			"database sqlite:{base}/database/database.sqlite table cache key laravel_cache_laravel:reverb:restart"},
		{"13 defaults: hyphens", "13", "", nil, nil,
			"database sqlite:{base}/database/database.sqlite table cache key laravel-cache-laravel:reverb:restart"},
		{"11 redis with REDIS_CACHE_DB and REDIS_PREFIX", "11", "CACHE_STORE=redis\nREDIS_CACHE_DB=5\nREDIS_PREFIX=app_\n", nil, nil,
			"redis 127.0.0.1:6379 db 5 key app_laravel_cache_laravel:reverb:restart"},
		{"11 REDIS_URL", "11", "CACHE_STORE=redis\nREDIS_URL=rediss://u:p@cache.example:6390\nREDIS_PASSWORD=null\n", nil, nil,
			"redis tls://cache.example:6390 db 1 key laravel_database_laravel_cache_laravel:reverb:restart"},
		{"13 memcached", "13", "CACHE_STORE=memcached\nMEMCACHED_PORT=11222\n", nil, nil,
			"memcached 127.0.0.1:11222 key laravel-cache-laravel:reverb:restart"},
		{"11 CACHE_PREFIX and APP_NAME", "11", "CACHE_STORE=memcached\nCACHE_PREFIX=shop_\n", nil, nil,
			"memcached 127.0.0.1:11211 key shop_laravel:reverb:restart"},
		{"11 file with LARAVEL_STORAGE_PATH", "11", "CACHE_STORE=file\n", map[string]string{"LARAVEL_STORAGE_PATH": "/var/lib/app"}, nil,
			"file /var/lib/app/framework/cache/data/" + hash},
		{"11 DB_CACHE_CONNECTION, DB_CACHE_TABLE", "11", "DB_CACHE_CONNECTION=pgsql\nDB_CACHE_TABLE=kv\nDB_DATABASE=shop\n", nil, nil,
			"database pgsql:root@127.0.0.1:5432/shop table kv key laravel_cache_laravel:reverb:restart"},
		{"11 DB_URL", "11", "DB_CONNECTION=mysql\nDB_URL=mysql://u:p@db.internal:3307/shop\n", nil, nil,
			"database mysql:u@db.internal:3307/shop table cache key laravel_cache_laravel:reverb:restart"},
		{"10 own config: file", "10", "", nil, l10,
			"file storage/framework/cache/data/" + hash + " (relative to project)"},
		{"10 own config: redis colon", "10", "CACHE_DRIVER=redis\n", nil, l10,
			"redis 127.0.0.1:6379 db 1 key laravel_database_laravel_cache_:laravel:reverb:restart"},
		{"10 own config: memcached colon", "10", "CACHE_DRIVER=memcached\n", nil, l10,
			"memcached 127.0.0.1:11211 key laravel_cache_:laravel:reverb:restart"},
		{"10 own config: database on mysql", "10", "CACHE_DRIVER=database\n", nil, l10,
			"database mysql:forge@127.0.0.1:3306/forge table cache key laravel_cache_laravel:reverb:restart"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := loadProject(t, tc.major, tc.env, tc.realEnv, tc.configs)
			st := openStore(t, p)
			want := strings.ReplaceAll(tc.want, "{base}", p.BasePath)
			if got := st.Location(); got != want {
				t.Errorf("Location\n got %s\nwant %s", got, want)
			}
		})
	}
}
