package pulse

import (
	"context"
	"database/sql"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/reverb-go/reverb/internal/testsvc"
	"github.com/reverb-go/reverb/laravelcfg"
)

func pgURL(port int) string {
	return "postgres://postgres@" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/postgres?sslmode=disable"
}

func TestStorageIngestPostgres(t *testing.T) {
	port := testsvc.Postgres(t)
	db, err := sql.Open("pgx", pgURL(port))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tt := range []struct {
		name, keyHash string
	}{
		// Pulse's original migration: the database computes the hash.
		{"generated uuid key_hash", `"key_hash" uuid generated always as (md5("key")::uuid) stored`},
		// After the 2026 migration removing the generated column.
		{"plain uuid key_hash", `"key_hash" uuid not null`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, q := range []string{
				`drop table if exists "pulse_aggregates"`,
				`create table "pulse_aggregates" ("id" bigserial primary key not null, "bucket" integer not null,
				  "period" integer not null, "type" varchar(255) not null, "key" text not null, ` + tt.keyHash + `,
				  "aggregate" varchar(255) not null, "value" decimal(20, 2) not null, "count" integer null)`,
				`alter table "pulse_aggregates" add constraint "pulse_aggregates_unique" unique ("bucket", "period", "type", "aggregate", "key_hash")`,
			} {
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			p := &laravelcfg.Project{BasePath: t.TempDir(), Config: arr(
				"database", arr("default", "pgsql", "connections", arr("pgsql", arr(
					"driver", "pgsql", "host", "127.0.0.1", "port", strconv.Itoa(port), "database", "postgres",
					"username", "postgres", "password", "", "sslmode", "disable", "search_path", "public"))),
				"cache", arr(),
				"pulse", messagesPulse(),
			)}
			cfg, _, _ := FromProject(p)
			src := &fakeCounts{c: []Counts{{AppID: "123456", Sent: 5, Received: 2}}}
			in := NewIngester(cfg, newSink(p, cfg), src.get, t.Logf)
			in.now = func() time.Time { return time.Unix(recentTS(), 0) }
			if err := in.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			src.c[0].Sent = 8
			if err := in.Close(); err != nil {
				t.Fatal(err)
			}
			rs, err := db.Query(`select period, type, value::text, key_hash::text, count is null from pulse_aggregates order by type, period`)
			if err != nil {
				t.Fatal(err)
			}
			defer rs.Close()
			n := 0
			for rs.Next() {
				var period int64
				var typ, value, hash string
				var countNull bool
				if err := rs.Scan(&period, &typ, &value, &hash, &countNull); err != nil {
					t.Fatal(err)
				}
				want := map[string]string{TypeSent: "8.00", TypeReceived: "2.00"}[typ]
				if value != want || hash != "e10adc39-49ba-59ab-be56-e057f20f883e" || !countNull {
					t.Errorf("row %d %s value %s hash %s countNull %v", period, typ, value, hash, countNull)
				}
				n++
			}
			if n != 8 {
				t.Fatalf("%d rows, want 8", n)
			}
		})
	}
}
