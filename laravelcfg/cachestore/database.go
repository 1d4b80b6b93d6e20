package cachestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/reverb-go/reverb/laravelcfg/php"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// foreverSeconds is what DatabaseStore::forever adds to now: ten years.
const foreverSeconds = 315360000

// sqlDialect selects identifier quoting, placeholders and the upsert form.
type sqlDialect int

const (
	dialectSQLite sqlDialect = iota
	dialectMySQL
	dialectPostgres
)

// dbStore is Laravel's DatabaseStore: a row (key, value, expiration) in the
// cache table of a database connection.
//
// Concurrency: mu guards the lazily opened handles (readDB, writeDB); an
// open *sql.DB is safe for concurrent use; the other fields are set once by
// openDatabase.
type dbStore struct {
	dialect sqlDialect
	// open connects lazily, so a database that is down (or a SQLite file
	// not migrated yet) at start-up is an error of the Read, which the
	// watcher retries, not of Open. write selects a read-write handle;
	// SQLite reads use a read-only one, so a server that may only read the
	// app's database file still sees the flag.
	open    func(write bool) (*sql.DB, error)
	mu      sync.Mutex
	readDB  *sql.DB
	writeDB *sql.DB
	table   string // connection table prefix + cache table
	key     string // cache prefix + FlagKey
	where   string // "sqlite:/abs/db.sqlite", "mysql:user@host:port/db"
	sqlite  string // the SQLite file, checked before every access
	now     func() time.Time
}

func (r *resolver) openDatabase(sc node) (Store, error) {
	connName, _, err := sc.str("connection")
	if err != nil {
		return nil, err
	}
	conn, connName, err := r.databaseConnection(connName, "no database connection for the database cache store (set DB_CONNECTION or DB_CACHE_CONNECTION)")
	if err != nil {
		return nil, err
	}
	table, err := sc.strOr("table", "cache")
	if err != nil {
		return nil, err
	}
	tablePrefix, err := conn.strOr("prefix", "")
	if err != nil {
		return nil, err
	}
	prefix, err := r.cachePrefix(sc, false) // DatabaseStore never adds ':'
	if err != nil {
		return nil, err
	}
	st := &dbStore{table: tablePrefix + table, key: prefix + FlagKey, now: time.Now}
	driver, supported, err := r.connectSQL(st, conn)
	switch {
	case err != nil:
		return nil, err
	case driver == "sqlsrv":
		return nil, fmt.Errorf("database connection [%s] (driver sqlsrv): %w: the Go server has no SQL Server client; use a redis, file or memcached cache store, or a sqlite/mysql/pgsql connection for the cache table", connName, ErrUnsupported)
	case !supported:
		return nil, fmt.Errorf("database connection [%s]: %w: driver [%s]", connName, ErrUnsupported, driver)
	}
	return st, nil
}

// databaseConnection is DatabaseManager::configuration($name) followed by
// the ConnectionFactory's write section: the named entry of
// config('database.connections') (database.default when name is empty,
// DB::connection(null)), its url parsed, its write section applied. It
// returns the name resolved; whyDefault ends the error for an empty
// database.default, which each caller words for its own use.
func (r *resolver) databaseConnection(name, whyDefault string) (node, string, error) {
	db, err := r.config.sub("database")
	if err != nil {
		return node{}, "", err
	}
	if name == "" {
		if name, err = db.strOr("default", ""); err != nil {
			return node{}, "", err
		}
		if name == "" {
			return node{}, "", errors.New("config database.default is empty: " + whyDefault)
		}
	}
	conns, err := db.sub("connections")
	if err != nil {
		return node{}, "", err
	}
	conn, err := conns.sub(name)
	if err != nil {
		return node{}, "", err
	}
	if conn.arr == nil {
		return node{}, "", fmt.Errorf("config %s is missing: Database connection [%s] not configured", conn.path, name)
	}
	if conn, err = applyConfigURL(conn); err != nil {
		return node{}, "", err
	}
	if conn, err = writeConfig(conn); err != nil {
		return node{}, "", err
	}
	return conn, name, nil
}

// connectSQL prepares st's handles for conn's driver. It returns the driver
// family ("sqlite"; "mysql" for MariaDB too; "pgsql"), or the configured
// driver name with supported false when the Go side has no client for it.
func (r *resolver) connectSQL(st *dbStore, conn node) (driver string, supported bool, err error) {
	if driver, err = conn.strOr("driver", ""); err != nil {
		return "", false, err
	}
	switch driver {
	case "sqlite":
		return "sqlite", true, r.sqliteConn(st, conn)
	case "mysql", "mariadb":
		return "mysql", true, mysqlConn(st, conn)
	case "pgsql":
		return "pgsql", true, postgresConn(st, conn)
	}
	return driver, false, nil
}

// writeConfig is ConnectionFactory's write-connection config: a `write`
// section merged over the rest (one random entry when it is a list; we take
// the first), then the first of several hosts.
func writeConfig(conn node) (node, error) {
	w, err := conn.sub("write")
	if err != nil {
		return node{}, err
	}
	out := php.NewArray()
	for i, k := range conn.arr.Keys {
		if !k.IsInt && (k.S == "read" || k.S == "write") {
			continue
		}
		out.Set(k, conn.arr.Values[i])
	}
	if w.arr != nil {
		if first, ok := w.arr.Get(php.IntKey(0)); ok && first.Kind() == php.Array {
			w = node{path: w.path + ".0", arr: first.ArrayVal()}
		}
		for i, k := range w.arr.Keys {
			out.Set(k, w.arr.Values[i])
		}
	}
	if h, ok := out.GetString("host"); ok && h.Kind() == php.Array {
		if h.ArrayVal().Len() == 0 {
			return node{}, fmt.Errorf("config %s.host is an empty list", conn.path)
		}
		out.Set(php.StringKey("host"), h.ArrayVal().Values[0])
	}
	return node{path: conn.path, arr: out}, nil
}

// sqliteConn resolves the SQLite file like SQLiteConnector: an absolute
// path as is; a relative one against the working directory first, then the
// project root (Laravel 11+; Laravel 10 only tries the working directory,
// which is the project root when artisan runs there).
func (r *resolver) sqliteConn(st *dbStore, conn node) error {
	path, err := conn.strOr("database", "")
	if err != nil {
		return err
	}
	if path == "" {
		return fmt.Errorf("config %s.database is empty: no SQLite file for the database cache store", conn.path)
	}
	if path == ":memory:" || strings.Contains(path, "mode=memory") {
		return &notSharedError{fmt.Sprintf("config %s.database is %q: an in-memory SQLite database lives inside one process, so php artisan reverb:restart cannot reach a running server through it; point DB_DATABASE at a file", conn.path, path)}
	}
	if !filepath.IsAbs(path) {
		cand := path
		if abs, err := filepath.Abs(path); err == nil {
			cand = abs
		}
		if _, err := os.Stat(cand); err != nil {
			cand = filepath.Join(r.p.BasePath, path)
		}
		path = cand
	}
	busy := int64(5000)
	if v, ok := conn.get("busy_timeout"); ok && !v.IsNull() {
		if busy, err = phpInt(v, conn.keyPath("busy_timeout")); err != nil {
			return err
		}
	}
	// mode=ro for reads, mode=rw for writes: never create an empty database
	// where Laravel has none.
	dsn := func(mode string) string {
		return (&url.URL{Scheme: "file", OmitHost: true, Path: path}).String() +
			"?mode=" + mode + "&_pragma=" + url.QueryEscape("busy_timeout("+strconv.FormatInt(busy, 10)+")")
	}
	st.dialect = dialectSQLite
	st.sqlite = path
	st.where = "sqlite:" + path
	st.open = func(write bool) (*sql.DB, error) {
		if write {
			return sql.Open("sqlite", dsn("rw"))
		}
		return sql.Open("sqlite", dsn("ro"))
	}
	return nil
}

func mysqlConn(st *dbStore, conn node) error {
	cfg := mysql.NewConfig()
	var err error
	get := func(key, def string) string {
		if err != nil {
			return ""
		}
		var s string
		s, err = conn.strOr(key, def)
		return s
	}
	cfg.User = get("username", "")
	cfg.Passwd = get("password", "")
	cfg.DBName = get("database", "")
	socket := get("unix_socket", "")
	host := dialHost(get("host", "127.0.0.1"))
	port := get("port", "3306")
	charset := get("charset", "utf8mb4")
	collation := get("collation", "")
	if err != nil {
		return err
	}
	if socket != "" {
		cfg.Net, cfg.Addr = "unix", socket
	} else {
		if port == "" {
			port = "3306"
		}
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(host, port)
	}
	if charset != "" {
		if err := cfg.Apply(mysql.Charset(charset, collation)); err != nil {
			return err
		}
	}
	cfg.Timeout = 5 * time.Second
	cfg.ReadTimeout = 10 * time.Second
	cfg.WriteTimeout = 10 * time.Second
	st.dialect = dialectMySQL
	st.where = fmt.Sprintf("mysql:%s@%s/%s", cfg.User, cfg.Addr, cfg.DBName)
	st.open = func(bool) (*sql.DB, error) {
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, err
		}
		return sql.OpenDB(c), nil
	}
	return nil
}

func postgresConn(st *dbStore, conn node) error {
	var parts []string
	var desc struct{ user, host, port, db string }
	add := func(param, key, def string, dst *string) error {
		v, err := conn.strOr(key, def)
		if err != nil {
			return err
		}
		if param == "host" {
			v = dialHost(v)
		}
		if dst != nil {
			*dst = v
		}
		if v != "" {
			parts = append(parts, param+"="+pgQuote(v))
		}
		return nil
	}
	for _, a := range []struct {
		param, key, def string
		dst             *string
	}{
		{"host", "host", "", &desc.host},
		{"port", "port", "5432", &desc.port},
		{"dbname", "database", "", &desc.db},
		{"user", "username", "", &desc.user},
		{"password", "password", "", nil},
		{"sslmode", "sslmode", "prefer", nil},
		{"sslcert", "sslcert", "", nil},
		{"sslkey", "sslkey", "", nil},
		{"sslrootcert", "sslrootcert", "", nil},
	} {
		if err := add(a.param, a.key, a.def, a.dst); err != nil {
			return err
		}
	}
	// search_path (10+) or the older schema key; a list or "a,b".
	for _, key := range []string{"search_path", "schema"} {
		v, ok := conn.get(key)
		if !ok || v.IsNull() {
			continue
		}
		var sp string
		if v.Kind() == php.Array {
			var names []string
			for i, e := range v.ArrayVal().Values {
				s, err := phpString(e, fmt.Sprintf("%s.%d", conn.keyPath(key), i))
				if err != nil {
					return err
				}
				names = append(names, s)
			}
			sp = strings.Join(names, ",")
		} else {
			var err error
			if sp, err = phpString(v, conn.keyPath(key)); err != nil {
				return err
			}
		}
		if sp != "" {
			parts = append(parts, "search_path="+pgQuote(sp))
		}
		break
	}
	parts = append(parts, "connect_timeout=5")
	cfg, err := pgx.ParseConfig(strings.Join(parts, " "))
	if err != nil {
		return fmt.Errorf("config %s: %v", conn.path, err)
	}
	st.dialect = dialectPostgres
	st.where = fmt.Sprintf("pgsql:%s@%s/%s", desc.user, net.JoinHostPort(desc.host, desc.port), desc.db)
	st.open = func(bool) (*sql.DB, error) { return stdlib.OpenDB(*cfg), nil }
	return nil
}

// pgQuote quotes a libpq key/value connection string value.
func pgQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func (s *dbStore) ident(name string) string {
	if s.dialect == dialectMySQL {
		return "`" + strings.ReplaceAll(name, "`", "``") + "`"
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// tableIdent quotes a table name that may carry a schema ("app.cache").
func (s *dbStore) tableIdent() string {
	parts := strings.Split(s.table, ".")
	for i, p := range parts {
		parts[i] = s.ident(p)
	}
	return strings.Join(parts, ".")
}

func (s *dbStore) selectSQL() string {
	q := "select " + s.ident("value") + ", " + s.ident("expiration") + " from " + s.tableIdent() +
		" where " + s.ident("key") + " = ?"
	if s.dialect == dialectPostgres {
		q = strings.Replace(q, "?", "$1", 1)
	}
	return q
}

// upsertSQL is the statement Laravel 10+'s DatabaseStore::put runs through
// the query builder's upsert for each grammar.
func (s *dbStore) upsertSQL() string {
	k, v, e := s.ident("key"), s.ident("value"), s.ident("expiration")
	switch s.dialect {
	case dialectMySQL:
		return "insert into " + s.tableIdent() + " (" + e + ", " + k + ", " + v + ") values (?, ?, ?) on duplicate key update " +
			e + " = values(" + e + "), " + k + " = values(" + k + "), " + v + " = values(" + v + ")"
	case dialectPostgres:
		return "insert into " + s.tableIdent() + " (" + e + ", " + k + ", " + v + ") values ($1, $2, $3) on conflict (" + k + ") do update set " +
			e + " = excluded." + e + ", " + v + " = excluded." + v
	default:
		return "insert into " + s.tableIdent() + " (" + e + ", " + k + ", " + v + ") values (?, ?, ?) on conflict (" + k + ") do update set " +
			e + " = excluded." + e + ", " + v + " = excluded." + v
	}
}

func (s *dbStore) conn(write bool) (*sql.DB, error) {
	if s.sqlite != "" {
		if _, err := os.Stat(s.sqlite); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("sqlite: database file at path [%s] does not exist (run php artisan migrate, or set DB_DATABASE)", s.sqlite)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	handle := &s.readDB
	if write && s.sqlite != "" {
		handle = &s.writeDB // only SQLite distinguishes the two
	}
	if *handle == nil {
		db, err := s.open(write)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(2)
		db.SetConnMaxIdleTime(time.Minute)
		*handle = db
	}
	return *handle, nil
}

func (s *dbStore) Read(ctx context.Context) (Flag, error) {
	db, err := s.conn(false)
	if err != nil {
		return Flag{}, fmt.Errorf("read restart flag from %s: %w", s.where, err)
	}
	var value []byte
	var expiration sql.NullString
	err = retryLocked(ctx, func() error {
		return db.QueryRowContext(ctx, s.selectSQL(), s.key).Scan(&value, &expiration)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Flag{}, nil
	}
	if err != nil {
		return Flag{}, fmt.Errorf("read restart flag from %s table %s: %w", s.where, s.table, err)
	}
	// DatabaseStore::get: `$this->currentTime() >= $cache->expiration` means
	// expired (the row is left for Laravel to delete).
	if phpIntGE(s.now().Unix(), expiration.String) {
		return Flag{}, nil
	}
	return Flag{Present: true, Raw: value}, nil
}

func (s *dbStore) Write(ctx context.Context, ts int64) error {
	db, err := s.conn(true)
	if err != nil {
		return fmt.Errorf("write restart flag to %s: %w", s.where, err)
	}
	value := "i:" + strconv.FormatInt(ts, 10) + ";"
	exp := s.now().Unix() + foreverSeconds
	err = retryLocked(ctx, func() error {
		_, err := db.ExecContext(ctx, s.upsertSQL(), exp, s.key, value)
		return err
	})
	if err != nil {
		return fmt.Errorf("write restart flag to %s table %s: %w", s.where, s.table, err)
	}
	return nil
}

// retryLocked retries f while SQLite reports a lock held past busy_timeout
// (a migration or a long write in PHP); other errors return at once.
func retryLocked(ctx context.Context, f func() error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = f()
		if err == nil || !isLocked(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		}
	}
	return err
}

func isLocked(err error) bool {
	m := err.Error()
	return strings.Contains(m, "database is locked") || strings.Contains(m, "SQLITE_BUSY") || strings.Contains(m, "database table is locked")
}

// phpIntGE is PHP 8's `$int >= $string`: numerically when the string is
// numeric, otherwise as strings.
func phpIntGE(n int64, s string) bool {
	c, ok := php.Compare(php.IntValue(n), php.StringValue(s))
	return ok && c >= 0
}

func (s *dbStore) Location() string {
	return fmt.Sprintf("database %s table %s key %s", s.where, s.table, s.key)
}

func (s *dbStore) WatchPath() string { return "" }

func (s *dbStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, db := range []**sql.DB{&s.readDB, &s.writeDB} {
		if *db != nil {
			errs = append(errs, (*db).Close())
			*db = nil
		}
	}
	return errors.Join(errs...)
}
