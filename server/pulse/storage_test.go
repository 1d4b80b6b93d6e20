package pulse

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	_ "modernc.org/sqlite"
)

// pulseAggregatesSQLite is pulse_aggregates as Pulse's migration creates it
// on SQLite (laravel-integration.md §4.1): key_hash a plain string the
// writer fills with md5(key) hex.
const pulseAggregatesSQLite = `
create table "pulse_aggregates" ("id" integer primary key autoincrement not null, "bucket" integer not null,
  "period" integer not null, "type" varchar not null, "key" text not null, "key_hash" varchar not null,
  "aggregate" varchar not null, "value" numeric not null, "count" integer);
create unique index "pulse_aggregates_bucket_period_type_aggregate_key_hash_unique"
  on "pulse_aggregates" ("bucket", "period", "type", "aggregate", "key_hash");
create index "pulse_aggregates_period_bucket_index" on "pulse_aggregates" ("period", "bucket");`

// pulseAggregatesGenerated has a database-generated key_hash, like the
// MySQL/PostgreSQL migrations: the writer must leave it out.
const pulseAggregatesGenerated = `
create table "pulse_aggregates" ("id" integer primary key autoincrement not null, "bucket" integer not null,
  "period" integer not null, "type" varchar not null, "key" text not null,
  "key_hash" varchar generated always as ('h:' || "key") stored,
  "aggregate" varchar not null, "value" numeric not null, "count" integer);
create unique index "pulse_aggregates_unique" on "pulse_aggregates" ("bucket", "period", "type", "aggregate", "key_hash");`

// sqliteProject is a Laravel project whose default connection is a SQLite
// file at dir/database.sqlite (created with schema unless schema is "").
func sqliteProject(t *testing.T, dir, schema string, pulse any) *laravelcfg.Project {
	t.Helper()
	file := filepath.Join(dir, "database.sqlite")
	if schema != "" {
		db, err := sql.Open("sqlite", file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(schema); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	return &laravelcfg.Project{
		BasePath: dir,
		Config: arr(
			"database", arr("default", "sqlite", "connections", arr("sqlite", arr("driver", "sqlite", "database", file))),
			"cache", arr(),
			"pulse", pulse,
		),
	}
}

type row struct {
	bucket, period int64
	typ, key, hash string
	value          float64
	count          sql.NullInt64
}

func readRows(t *testing.T, file string) []row {
	t.Helper()
	db, err := sql.Open("sqlite", file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rs, err := db.Query(`select bucket, period, type, key, key_hash, value, count from pulse_aggregates where aggregate = 'count' order by key, type, period`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.bucket, &r.period, &r.typ, &r.key, &r.hash, &r.value, &r.count); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// fakeCounts is a settable counter source.
type fakeCounts struct{ c []Counts }

func (f *fakeCounts) get() []Counts { return append([]Counts(nil), f.c...) }

func messagesPulse() any {
	return arr("recorders", arr(MessagesRecorder, arr("sample_rate", 1)))
}

func TestStorageIngestSQLite(t *testing.T) {
	for _, tt := range []struct {
		name, schema string
		hash         func(key string) string
	}{
		{"plain key_hash (md5 hex written)", pulseAggregatesSQLite, func(k string) string { return keyHash(keyHashHex, k).(string) }},
		{"generated key_hash (not written)", pulseAggregatesGenerated, func(k string) string { return "h:" + k }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := sqliteProject(t, dir, tt.schema, messagesPulse())
			src := &fakeCounts{c: []Counts{{AppID: "123456", Sent: 5, Received: 3}, {AppID: "other", Sent: 2}}}
			cfg, ok, err := FromProject(p)
			if err != nil || !ok {
				t.Fatalf("FromProject: %v %v", ok, err)
			}
			in := NewIngester(cfg, newSink(p, cfg), src.get, t.Logf)
			now := time.Unix(recentTS(), 0)
			in.now = func() time.Time { return now }
			if err := in.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			// Second round, 10 s later (same buckets in every period): 7
			// more sent and 1 more received on the first app add up.
			src.c[0].Sent, src.c[0].Received = 12, 4
			now = now.Add(10 * time.Second)
			if err := in.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := in.Close(); err != nil {
				t.Fatal(err)
			}
			rows := readRows(t, filepath.Join(dir, "database.sqlite"))
			type k struct {
				key, typ string
				period   int64
			}
			got := map[k]float64{}
			for _, r := range rows {
				if r.count.Valid {
					t.Errorf("count column %v, want NULL for a count aggregate", r.count)
				}
				if r.hash != tt.hash(r.key) {
					t.Errorf("key_hash %q for key %q, want %q", r.hash, r.key, tt.hash(r.key))
				}
				if r.bucket != bucket(recentTS(), r.period) {
					t.Errorf("period %d bucket %d, want %d", r.period, r.bucket, bucket(recentTS(), r.period))
				}
				got[k{r.key, r.typ, r.period}] += r.value
			}
			if len(rows) != 12 { // 4 periods × (2 types of 123456 + sent of other)
				t.Fatalf("%d rows, want 12: %+v", len(rows), rows)
			}
			for _, p := range Periods {
				for key, want := range map[k]float64{
					{"123456", TypeSent, p}: 12, {"123456", TypeReceived, p}: 4, {"other", TypeSent, p}: 2,
				} {
					if got[key] != want {
						t.Errorf("%+v = %v, want %v", key, got[key], want)
					}
				}
			}
		})
	}
}

func TestStorageIngestRetriesAfterFault(t *testing.T) {
	dir := t.TempDir()
	// No database file yet: the first rounds fail, nothing is lost.
	p := sqliteProject(t, dir, "", messagesPulse())
	src := &fakeCounts{c: []Counts{{AppID: "a1", Sent: 4, Received: 1}}}
	var logs []string
	cfg, _, _ := FromProject(p)
	in := NewIngester(cfg, newSink(p, cfg), src.get, func(f string, a ...any) { logs = append(logs, f) })
	in.now = func() time.Time { return time.Unix(recentTS(), 0) }
	if err := in.Flush(context.Background()); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("first flush: %v, want a missing database error", err)
	}
	src.c[0].Sent = 6
	// The file exists but the table does not (migrations not run).
	os.WriteFile(filepath.Join(dir, "database.sqlite"), nil, 0o666)
	if err := in.Flush(context.Background()); err == nil || !strings.Contains(err.Error(), "migrate") {
		t.Fatalf("second flush: %v, want a missing table error", err)
	}
	if len(logs) != 2 {
		t.Fatalf("%d log lines, want 2", len(logs))
	}
	db, _ := sql.Open("sqlite", filepath.Join(dir, "database.sqlite"))
	if _, err := db.Exec(pulseAggregatesSQLite); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	sum := map[string]float64{}
	for _, r := range readRows(t, filepath.Join(dir, "database.sqlite")) {
		if r.period == 60 {
			sum[r.typ] += r.value
		}
	}
	if sum[TypeSent] != 6 || sum[TypeReceived] != 1 {
		t.Fatalf("after recovery: %v, want sent 6 received 1", sum)
	}
}

func TestUpsertSQL(t *testing.T) {
	tests := []struct {
		driver string
		mode   keyHashMode
		want   string
	}{
		{"sqlite", keyHashHex, `insert into "pulse_aggregates" ("bucket", "period", "type", "aggregate", "key", "key_hash", "value") values (?, ?, ?, ?, ?, ?, ?) on conflict ("bucket", "period", "type", "aggregate", "key_hash") do update set "value" = "pulse_aggregates"."value" + excluded."value"`},
		{"mysql", keyHashGenerated, "insert into `pulse_aggregates` (`bucket`, `period`, `type`, `aggregate`, `key`, `value`) values (?, ?, ?, ?, ?, ?) on duplicate key update `value` = `value` + values(`value`)"},
		{"pgsql", keyHashGenerated, `insert into "pulse_aggregates" ("bucket", "period", "type", "aggregate", "key", "value") values ($1, $2, $3, $4, $5, $6) on conflict ("bucket", "period", "type", "aggregate", "key_hash") do update set "value" = "pulse_aggregates"."value" + excluded."value"`},
	}
	for _, tt := range tests {
		s := &sqlSink{driver: tt.driver, table: "pulse_aggregates"}
		if got := s.upsertSQL(tt.mode); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.driver, got, tt.want)
		}
	}
	if got := keyHash(keyHashUUID, "123456"); got != "e10adc39-49ba-59ab-be56-e057f20f883e" {
		t.Errorf("uuid key_hash = %v", got)
	}
	if got := keyHash(keyHashBinary, "123456").([]byte); len(got) != 16 {
		t.Errorf("binary key_hash = %x", got)
	}
}

// recentTS is a timestamp inside every dashboard window (entries older than
// a period's window are skipped, like DatabaseStorage does) whose buckets do
// not change in the next 10 s: one second into the previous minute (every
// period is a multiple of 60 s).
func recentTS() int64 {
	now := time.Now().Unix()
	return now - now%60 - 59
}

func TestStorageSkipsEntriesPastTheWindow(t *testing.T) {
	dir := t.TempDir()
	p := sqliteProject(t, dir, pulseAggregatesSQLite, messagesPulse())
	cfg, _, _ := FromProject(p)
	sink := newSink(p, cfg)
	defer sink.Close()
	// Two hours old: only the 6 h, 24 h and 7 d periods still show it.
	old := time.Now().Add(-2 * time.Hour).Unix()
	if left, err := sink.Write(context.Background(), []Batch{{Timestamp: old, AppID: "a", Sent: 1}}); err != nil || left != nil {
		t.Fatal(left, err)
	}
	var periods []int64
	for _, r := range readRows(t, filepath.Join(dir, "database.sqlite")) {
		periods = append(periods, r.period)
	}
	if len(periods) != 3 || periods[0] != 360 {
		t.Fatalf("periods %v, want 360 1440 10080", periods)
	}
}
