package cachestore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
)

func connProject(t *testing.T, dir string, database any) *laravelcfg.Project {
	t.Helper()
	return &laravelcfg.Project{BasePath: dir, Config: arr("database", database, "cache", arr())}
}

func TestOpenDatabaseConnection(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "database.sqlite")
	if err := os.WriteFile(file, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	dbcfg := arr("default", "sqlite", "connections", arr(
		"sqlite", arr("driver", "sqlite", "database", file, "prefix", "app_"),
		"missing", arr("driver", "sqlite", "database", filepath.Join(dir, "nope.sqlite")),
		"odd", arr("driver", "sqlsrv"),
	))
	p := connProject(t, dir, dbcfg)
	tests := []struct {
		name, conn, driver, prefix, err string
	}{
		{name: "default", conn: "", driver: "sqlite", prefix: "app_"},
		{name: "named", conn: "sqlite", driver: "sqlite", prefix: "app_"},
		{name: "file missing", conn: "missing", err: "does not exist"},
		{name: "unsupported", conn: "odd", err: "driver [sqlsrv]"},
		{name: "not configured", conn: "pg", err: "Database connection [pg] not configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := OpenDatabaseConnection(p, tt.conn)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Driver != tt.driver || c.TablePrefix != tt.prefix || c.Where != "sqlite:"+file {
				t.Fatalf("got %+v", c)
			}
			if _, err := c.DB.Exec("create table if not exists t (x int)"); err != nil {
				t.Fatalf("write: %v", err)
			}
		})
	}
	if _, err := OpenDatabaseConnection(connProject(t, dir, arr("connections", arr())), ""); err == nil || !strings.Contains(err.Error(), "database.default is empty") {
		t.Fatalf("empty default: %v", err)
	}
	if _, err := OpenDatabaseConnection(connProject(t, dir, arr("default", "odd", "connections", arr("odd", arr("driver", "oci")))), ""); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("unsupported driver: %v", err)
	}
}

func TestOpenRedisConnection(t *testing.T) {
	redisCfg := arr("client", "phpredis",
		"options", arr("prefix", "laravel_database_"),
		"default", arr("host", "127.0.0.1", "port", "6390", "database", "2"),
		"nopfx", arr("host", "/run/redis.sock", "prefix", ""),
	)
	p := connProject(t, t.TempDir(), arr("redis", redisCfg))
	tests := []struct {
		name, conn, prefix, addr, err string
	}{
		{name: "default", conn: "", prefix: "laravel_database_", addr: "127.0.0.1:6390 db 2"},
		{name: "empty connection prefix wins", conn: "nopfx", prefix: "", addr: "unix:/run/redis.sock db 0"},
		{name: "missing", conn: "cache", err: "Redis connection [cache] not configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := OpenRedisConnection(p, tt.conn)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Prefix != tt.prefix || c.Addr != tt.addr {
				t.Fatalf("got prefix %q addr %q, want %q %q", c.Prefix, c.Addr, tt.prefix, tt.addr)
			}
		})
	}
}
