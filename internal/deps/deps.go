// Package deps pins the module's third-party dependencies while the packages
// that use them are being written. Delete it once every import below is used
// by real code.
package deps

import (
	_ "github.com/bradfitz/gomemcache/memcache"
	_ "github.com/elliotchance/phpserialize"
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/gorilla/websocket"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/redis/go-redis/v9"
	_ "golang.org/x/sys/unix"
	_ "modernc.org/sqlite"
)
