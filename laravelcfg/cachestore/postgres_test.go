package cachestore

import (
	"context"
	"database/sql"
	"strconv"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/reverb-go/reverb/internal/testsvc"
)

// TestPostgres runs the database store against a real PostgreSQL: the
// upsert, the table prefix, search_path, and change detection.
func TestPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	port := testsvc.Postgres(t)
	admin, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:"+strconv.Itoa(port)+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, q := range []string{
		`create table "cache" ("key" varchar(255) not null primary key, "value" text not null, "expiration" integer not null)`,
		`create schema app`,
		`create table app."app_cache" ("key" varchar(255) not null primary key, "value" text not null, "expiration" bigint not null)`,
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	l := layouts[4]
	tests := []struct {
		name, prefix, searchPath, table string
	}{
		{"public", "", "public", "cache"},
		{"schema and prefix", "app_", "app", "app.app_cache"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := skeletonConfig(l, base)
			cfg = with(cfg, []string{"database", "default"}, "pgsql")
			conn := arr("driver", "pgsql", "host", "127.0.0.1", "port", port, "database", "postgres", "username", "postgres",
				"password", "", "prefix", tc.prefix, "search_path", tc.searchPath, "sslmode", "prefer")
			cfg = with(cfg, []string{"database", "connections", "pgsql"}, conn)
			st := openStore(t, project(l, base, cfg))
			checkChangeDetection(t, st, func() {
				if _, err := admin.Exec(`delete from ` + tc.table); err != nil {
					t.Fatal(err)
				}
			})
			if err := st.Write(context.Background(), 1732200000); err != nil {
				t.Fatal(err)
			}
			var value string
			var exp int64
			if err := admin.QueryRow(`select "value", "expiration" from `+tc.table+` where "key" = $1`, "laravel-cache-"+FlagKey).Scan(&value, &exp); err != nil {
				t.Fatal(err)
			}
			if now := time.Now().Unix(); value != "i:1732200000;" || exp < now+foreverSeconds-60 || exp > now+foreverSeconds+60 {
				t.Errorf("row value %q expiration %d", value, exp)
			}
		})
	}
}
