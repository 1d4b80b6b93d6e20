package pulse

import (
	"context"
	"database/sql"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
)

// startPostgres runs a throw-away PostgreSQL cluster (trust auth, user
// postgres) on a free port; under root it runs as the postgres user.
func startPostgres(t *testing.T) int {
	t.Helper()
	for _, bin := range []string{"initdb", "postgres"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (apt-get install postgresql)", bin)
		}
	}
	dir, err := os.MkdirTemp("", "pulse-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var asUser []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root with no postgres user to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	command := func(args ...string) *exec.Cmd {
		all := append(append([]string{}, asUser...), args...)
		return exec.Command(all[0], all[1:]...)
	}
	data := filepath.Join(dir, "data")
	if out, err := command("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := command("postgres", "-D", data, "-p", strconv.Itoa(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-F")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = srv.Process.Kill()
			<-done
		}
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if db, err := sql.Open("pgx", pgURL(port)); err == nil {
			err = db.Ping()
			db.Close()
			if err == nil {
				return port
			}
		}
	}
	t.Fatal("postgres did not start")
	return 0
}

func pgURL(port int) string {
	return "postgres://postgres@" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/postgres?sslmode=disable"
}

func TestStorageIngestPostgres(t *testing.T) {
	port := startPostgres(t)
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
