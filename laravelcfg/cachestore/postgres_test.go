package cachestore

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

	_ "github.com/jackc/pgx/v5/stdlib"
)

// startPostgres runs a throw-away PostgreSQL cluster on a free port (trust
// auth, user postgres) and returns the port. PostgreSQL refuses to run as
// root, so under root it runs as the postgres user through runuser.
func startPostgres(t *testing.T) int {
	t.Helper()
	for _, bin := range []string{"initdb", "postgres"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (apt-get install postgresql)", bin)
		}
	}
	dir, err := os.MkdirTemp("", "cachestore-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var asUser []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root and there is no postgres user to run PostgreSQL as")
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			t.Skip("running as root without runuser")
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
	port := freePort(t)
	srv := command("postgres", "-D", data, "-p", strconv.Itoa(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-F")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGINT) // fast shutdown
		done := make(chan struct{})
		go func() { _ = srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = srv.Process.Kill()
			<-done
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		db, err := sql.Open("pgx", "postgres://postgres@"+addr+"/postgres?sslmode=disable")
		if err == nil {
			err = db.Ping()
			db.Close()
		}
		if err == nil {
			return port
		}
	}
	t.Fatalf("postgres did not start on %s", addr)
	return 0
}

// TestPostgres runs the database store against a real PostgreSQL: the
// upsert, the table prefix, search_path, and change detection.
func TestPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	port := startPostgres(t)
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
