package pulse

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Periods are Pulse's aggregation periods: the dashboard windows in minutes
// (1 h, 6 h, 24 h, 7 d), also the bucket widths in seconds.
var Periods = [...]int64{60, 360, 1440, 10080}

// keyHashMode is how key_hash must be written, from the live column.
type keyHashMode int

const (
	keyHashGenerated keyHashMode = iota // the database computes it: never written
	keyHashHex                          // md5(key) as 32 hex digits (SQLite, char columns)
	keyHashBinary                       // the 16 md5 bytes (MySQL binary(16))
	keyHashUUID                         // md5(key) as a uuid (PostgreSQL uuid)
)

// sqlSink upserts count rows into pulse_aggregates like Pulse's
// DatabaseStorage: one row per (bucket, period, type, 'count', key), value
// increased by the number of entries, count column left NULL.
//
// Concurrency: used by one Ingester round at a time; *sql.DB is safe for
// concurrent use anyway.
type sqlSink struct {
	db     *sql.DB
	driver string // "sqlite", "mysql", "pgsql"
	table  string // table prefix + pulse_aggregates
	where  string
	closer func() error
}

func (s *sqlSink) Where() string { return s.where }

func (s *sqlSink) Close() error {
	if s.closer != nil {
		return s.closer()
	}
	return nil
}

// Write stores all batches in one transaction: all or nothing.
func (s *sqlSink) Write(ctx context.Context, batches []Batch) ([]Batch, error) {
	mode, err := s.keyHashMode(ctx)
	if err != nil {
		return batches, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return batches, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	stmt, err := tx.PrepareContext(ctx, s.upsertSQL(mode))
	if err != nil {
		return batches, err
	}
	defer stmt.Close()
	now := time.Now().Unix()
	for _, b := range batches {
		for _, e := range [...]struct {
			typ string
			n   int64
		}{{TypeSent, b.Sent}, {TypeReceived, b.Received}} {
			if e.n == 0 {
				continue
			}
			for _, p := range Periods {
				if b.Timestamp < now-p*60 {
					continue // past this period's dashboard window, as DatabaseStorage skips it
				}
				args := []any{bucket(b.Timestamp, p), p, e.typ, "count", b.AppID}
				if h := keyHash(mode, b.AppID); h != nil {
					args = append(args, h)
				}
				args = append(args, e.n)
				if _, err := stmt.ExecContext(ctx, args...); err != nil {
					return batches, err
				}
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return batches, err
	}
	return nil, nil
}

// bucket is floor(ts / period) * period.
func bucket(ts, period int64) int64 {
	b := ts / period * period
	if ts < 0 && ts%period != 0 {
		b -= period
	}
	return b
}

func keyHash(mode keyHashMode, key string) any {
	sum := md5.Sum([]byte(key))
	switch mode {
	case keyHashHex:
		return hex.EncodeToString(sum[:])
	case keyHashBinary:
		return sum[:]
	case keyHashUUID:
		h := hex.EncodeToString(sum[:])
		return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	}
	return nil
}

func (s *sqlSink) quote(name string) string {
	if s.driver == "mysql" {
		return "`" + strings.ReplaceAll(name, "`", "``") + "`"
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// upsertSQL is DatabaseStorage's count upsert for each grammar.
func (s *sqlSink) upsertSQL(mode keyHashMode) string {
	cols := []string{"bucket", "period", "type", "aggregate", "key"}
	if mode != keyHashGenerated {
		cols = append(cols, "key_hash")
	}
	cols = append(cols, "value")
	q := make([]string, len(cols))
	ph := make([]string, len(cols))
	for i, c := range cols {
		q[i] = s.quote(c)
		ph[i] = "?"
		if s.driver == "pgsql" {
			ph[i] = fmt.Sprintf("$%d", i+1)
		}
	}
	t, v := s.quote(s.table), s.quote("value")
	insert := "insert into " + t + " (" + strings.Join(q, ", ") + ") values (" + strings.Join(ph, ", ") + ")"
	if s.driver == "mysql" {
		return insert + " on duplicate key update " + v + " = " + v + " + values(" + v + ")"
	}
	conflict := []string{s.quote("bucket"), s.quote("period"), s.quote("type"), s.quote("aggregate"), s.quote("key_hash")}
	return insert + " on conflict (" + strings.Join(conflict, ", ") + ") do update set " + v + " = " + t + "." + v + " + excluded." + v
}

// errNoTable says the Pulse migration has not run.
var errNoTable = errors.New("no key_hash column: has php artisan migrate created Pulse's tables?")

// keyHashMode reads the live definition of pulse_aggregates.key_hash: Pulse
// releases generate it in the database (MySQL, PostgreSQL) or expect the
// writer to fill it (SQLite, and every driver after the 2026 migrations).
func (s *sqlSink) keyHashMode(ctx context.Context) (keyHashMode, error) {
	switch s.driver {
	case "sqlite":
		var typ string
		var hidden int
		err := s.db.QueryRowContext(ctx, "select type, hidden from pragma_table_xinfo(?) where name = 'key_hash'", s.table).Scan(&typ, &hidden)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("table %s: %w", s.table, errNoTable)
		}
		if err != nil {
			return 0, err
		}
		if hidden == 2 || hidden == 3 { // generated virtual / stored
			return keyHashGenerated, nil
		}
		if isBinaryType(typ) {
			return keyHashBinary, nil
		}
		return keyHashHex, nil
	case "mysql":
		var typ, extra string
		err := s.db.QueryRowContext(ctx, "select data_type, extra from information_schema.columns where table_schema = database() and table_name = ? and column_name = 'key_hash'", s.table).Scan(&typ, &extra)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("table %s: %w", s.table, errNoTable)
		}
		if err != nil {
			return 0, err
		}
		if strings.Contains(strings.ToUpper(extra), "GENERATED") {
			return keyHashGenerated, nil
		}
		if isBinaryType(typ) {
			return keyHashBinary, nil
		}
		return keyHashHex, nil
	case "pgsql":
		var typ, generated string
		err := s.db.QueryRowContext(ctx, "select data_type, is_generated from information_schema.columns where table_schema = any (current_schemas(false)) and table_name = $1 and column_name = 'key_hash' limit 1", s.table).Scan(&typ, &generated)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("table %s: %w", s.table, errNoTable)
		}
		if err != nil {
			return 0, err
		}
		if strings.EqualFold(generated, "ALWAYS") {
			return keyHashGenerated, nil
		}
		if strings.EqualFold(typ, "uuid") {
			return keyHashUUID, nil
		}
		return keyHashHex, nil
	}
	return 0, fmt.Errorf("driver %s not supported", s.driver)
}

func isBinaryType(t string) bool {
	t = strings.ToLower(t)
	return strings.Contains(t, "binary") || strings.Contains(t, "blob") || t == "bytea"
}
