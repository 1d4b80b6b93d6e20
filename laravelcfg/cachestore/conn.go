package cachestore

import (
	"database/sql"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/redisconn"
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
	// Client is safe for concurrent use; Close releases it. It is a
	// *redis.Client (one server, or Sentinel's master) or a
	// *redis.ClusterClient.
	Client redis.UniversalClient
	// Prefix is the connection prefix phpredis/predis prepend to every key
	// (options.prefix); raw commands such as XADD need it added by hand.
	Prefix string
	// Addr names the server(s) in messages.
	Addr string
}

// Close releases the client.
func (c *RedisConnection) Close() error { return c.Client.Close() }

// OpenRedisConnection opens the named connection of config('database.redis')
// (or database.redis.clusters); an empty name is "default"
// (Redis::connection(null)). Sentinel and Cluster deployments are followed
// as redisconn describes.
func OpenRedisConnection(p *laravelcfg.Project, name string) (*RedisConnection, error) {
	d, err := redisconn.Resolve(p, name)
	if err != nil {
		return nil, err
	}
	return &RedisConnection{Client: d.NewClient(redisconn.ClientOptions{}), Prefix: d.Prefix, Addr: redisWhere(d)}, nil
}
