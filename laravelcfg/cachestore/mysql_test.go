package cachestore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/reverb-go/reverb/internal/testsvc"
)

// TestMariaDB runs the database store against a real MariaDB (the mysql
// and mariadb drivers): the on-duplicate-key upsert with backquoted `key`,
// the table prefix, a DB_URL, and change detection.
func TestMariaDB(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a MariaDB server")
	}
	port := testsvc.MariaDB(t)
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
