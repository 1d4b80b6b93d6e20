package cachestore

import (
	"database/sql"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/internal/cfgtree"
)

// The exported helpers below open the app's own database and Redis
// connections for other parts of the program that write to them (the Pulse
// ingest of server/pulse), with the same resolution rules the cache stores
// use: DB_URL/REDIS_URL parsing, the write section, relative SQLite paths,
// phpredis option merging and the connection prefix.

// SQLConnection is one opened connection of config('database.connections').
type SQLConnection struct {
	// DB is safe for concurrent use; Close releases it.
	DB *sql.DB
	// Driver is "sqlite", "mysql" (MariaDB too) or "pgsql".
	Driver string
	// TablePrefix is the connection's table prefix (DB::table adds it).
	TablePrefix string
	// Where names the connection in messages: "sqlite:/abs/db.sqlite",
	// "mysql:user@host:port/db", "pgsql:user@host:port/db".
	Where string
}

// Close releases the connection pool.
func (c *SQLConnection) Close() error { return c.DB.Close() }

// OpenDatabaseConnection opens the named connection of config('database')
// for writing; an empty name is database.default (DB::connection(null)).
// Nothing is dialled yet: a database that is down fails the first query.
// A SQLite file that does not exist is an error (never created).
func OpenDatabaseConnection(p *laravelcfg.Project, name string) (*SQLConnection, error) {
	r, err := newResolver(p)
	if err != nil {
		return nil, err
	}
	conn, name, err := r.databaseConnection(name, "no default database connection (set DB_CONNECTION)")
	if err != nil {
		return nil, err
	}
	prefix, err := conn.StrOr("prefix", "")
	if err != nil {
		return nil, err
	}
	st := &dbStore{}
	driver, supported, err := r.connectSQL(st, conn)
	switch {
	case err != nil:
		return nil, err
	case !supported:
		return nil, fmt.Errorf("database connection [%s]: %w: driver [%s] (sqlite, mysql, mariadb and pgsql are supported)", name, ErrUnsupported, driver)
	}
	out := &SQLConnection{TablePrefix: prefix, Driver: driver}
	if st.sqlite != "" {
		if _, err := st.conn(true); err != nil { // checks that the file exists
			return nil, err
		}
		out.DB = st.writeDB
	} else if out.DB, err = st.open(true); err != nil {
		return nil, err
	}
	out.Where = st.where
	return out, nil
}

// RedisConnection is one opened connection of config('database.redis').
type RedisConnection struct {
	// Client is safe for concurrent use; Close releases it.
	Client *redis.Client
	// Prefix is the connection prefix phpredis/predis prepend to every key
	// (options.prefix); raw commands such as XADD need it added by hand.
	Prefix string
	// Addr names the server in messages.
	Addr string
}

// Close releases the client.
func (c *RedisConnection) Close() error { return c.Client.Close() }

// OpenRedisConnection opens the named connection of config('database.redis');
// an empty name is "default" (Redis::connection(null)).
func OpenRedisConnection(p *laravelcfg.Project, name string) (*RedisConnection, error) {
	r, err := newResolver(p)
	if err != nil {
		return nil, err
	}
	rcc, err := r.resolveRedisConnection(name)
	if err != nil {
		return nil, err
	}
	m := rcc.merged
	prefix := ""
	if v, ok := m.Get("prefix"); ok && !cfgtree.Empty(v) {
		if prefix, err = cfgtree.String(v, m.KeyPath("prefix")); err != nil {
			return nil, err
		}
	}
	opt, err := redisOptions(m)
	if err != nil {
		return nil, err
	}
	addr := opt.Addr
	if opt.Network == "unix" {
		addr = "unix:" + opt.Addr
	} else if opt.TLSConfig != nil {
		addr = "tls://" + opt.Addr
	}
	return &RedisConnection{Client: redis.NewClient(opt), Prefix: prefix, Addr: addr}, nil
}
