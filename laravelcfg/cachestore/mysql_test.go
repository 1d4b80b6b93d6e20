package cachestore

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// startMariaDB runs a throw-away MariaDB server on a free port with grant
// tables skipped (any user, no password) and returns the port.
func startMariaDB(t *testing.T) int {
	t.Helper()
	var server string
	for _, bin := range []string{"mariadbd", "mysqld"} {
		if p, err := exec.LookPath(bin); err == nil {
			server = p
			break
		}
	}
	install, err := exec.LookPath("mariadb-install-db")
	if server == "" || err != nil {
		t.Skip("MariaDB not installed (apt-get install mariadb-server)")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	userArgs := []string{}
	if os.Geteuid() == 0 {
		userArgs = []string{"--user=root"} // mariadbd refuses root without it
	}
	args := append([]string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal", "--skip-test-db"}, userArgs...)
	if out, err := exec.Command(install, args...).CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	port := freePort(t)
	srv := exec.Command(server, append([]string{"--no-defaults", "--datadir=" + data, "--port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1", "--socket=" + filepath.Join(dir, "mysqld.sock"), "--pid-file=" + filepath.Join(dir, "mysqld.pid"),
		"--skip-grant-tables", "--skip-log-bin", "--innodb-buffer-pool-size=16M", "--log-error=" + filepath.Join(dir, "error.log")}, userArgs...)...)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = srv.Process.Kill()
			<-done
		}
	})
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		db, err := sql.Open("mysql", "root@tcp("+net.JoinHostPort("127.0.0.1", strconv.Itoa(port))+")/")
		if err == nil {
			err = db.Ping()
			db.Close()
		}
		if err == nil {
			return port
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	t.Fatalf("MariaDB did not start on port %d:\n%s", port, log)
	return 0
}

// TestMariaDB runs the database store against a real MariaDB (the mysql
// and mariadb drivers): the on-duplicate-key upsert with backquoted `key`,
// the table prefix, a DB_URL, and change detection.
func TestMariaDB(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a MariaDB server")
	}
	port := startMariaDB(t)
	admin, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/", port))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, q := range []string{
		"create database shop",
		// The skeleton migration on MySQL: string primary key, mediumtext, int.
		"create table shop.`cache` (`key` varchar(255) not null, `value` mediumtext not null, `expiration` int not null, primary key (`key`)) default character set utf8mb4 collate 'utf8mb4_unicode_ci'",
		"create table shop.`ba_cache` like shop.`cache`",
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	l := layouts[0]
	tests := []struct {
		name, driver, tablePrefix, url, table string
	}{
		{"mysql", "mysql", "", "", "shop.cache"},
		{"mariadb with table prefix", "mariadb", "ba_", "", "shop.ba_cache"},
		{"DB_URL", "mysql", "", fmt.Sprintf("mysql://root:@127.0.0.1:%d/shop?charset=utf8mb4", port), "shop.cache"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := admin.Exec("delete from " + tc.table); err != nil {
				t.Fatal(err)
			}
			conn := arr("driver", tc.driver, "url", tc.url, "host", "127.0.0.1", "port", strconv.Itoa(port), "database", "shop",
				"username", "root", "password", "", "unix_socket", "", "charset", "utf8mb4", "collation", "utf8mb4_unicode_ci", "prefix", tc.tablePrefix)
			cfg := with(skeletonConfig(l, base), []string{"cache", "default"}, "database")
			cfg = with(cfg, []string{"database", "connections", "db"}, conn)
			cfg = with(cfg, []string{"database", "default"}, "db")
			st := openStore(t, project(l, base, cfg))
			checkChangeDetection(t, st, func() {
				if _, err := admin.Exec("delete from " + tc.table); err != nil {
					t.Fatal(err)
				}
			})
			if err := st.Write(context.Background(), 1712772379); err != nil {
				t.Fatal(err)
			}
			var value string
			var exp int64
			// The row of laravel/reverb issue #139.
			if err := admin.QueryRow("select `value`, `expiration` from "+tc.table+" where `key` = ?", "laravel_cache_"+FlagKey).Scan(&value, &exp); err != nil {
				t.Fatal(err)
			}
			if now := time.Now().Unix(); value != "i:1712772379;" || exp < now+foreverSeconds-60 || exp > now+foreverSeconds+60 {
				t.Errorf("row value %q expiration %d", value, exp)
			}
		})
	}
}
