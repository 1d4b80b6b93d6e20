package testsvc

import (
	"bufio"
	"database/sql"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	if p <= 0 || p > 65535 {
		t.Fatalf("port %d", p)
	}
	l, err := net.Listen("tcp", Addr(p))
	if err != nil {
		t.Fatalf("free port %d not bindable: %v", p, err)
	}
	l.Close()
}

// send writes one command to a text-protocol server and returns the first
// reply line.
func send(t *testing.T, addr, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprint(c, cmd)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return line
}

func TestRedisStopStart(t *testing.T) {
	r := StartRedis(t, "--requirepass", "s3cret")
	if got := send(t, r.Addr(), "PING\r\n"); !strings.HasPrefix(got, "-NOAUTH") {
		t.Fatalf("PING without auth: %q", got)
	}
	r.Stop()
	if c, err := net.DialTimeout("tcp", r.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("stopped server still accepts connections")
	}
	r.Start()
	if got := send(t, r.Addr(), "AUTH s3cret\r\n"); got != "+OK\r\n" {
		t.Fatalf("AUTH after restart: %q", got)
	}
}

// A first start whose port was taken meanwhile (by a process that does
// not answer, or by another redis-server) moves to another free port
// instead of failing or talking to someone else's server.
func TestRedisFirstStartMovesOffATakenPort(t *testing.T) {
	requireBin(t, "redis-server", "redis-server")
	other := StartRedis(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	silent := l.Addr().(*net.TCPAddr).Port
	for _, taken := range []int{other.Port, silent} {
		r := &Redis{t: t, Port: taken}
		start := time.Now()
		r.Start()
		t.Cleanup(r.Stop)
		if r.Port == taken {
			t.Fatalf("started on the taken port %d", taken)
		}
		if !listensOn(r.cmd.Process.Pid, r.Port) {
			t.Fatalf("redis-server does not listen on %d", r.Port)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("moving took %v", d)
		}
		if got := send(t, r.Addr(), "PING\r\n"); got != "+PONG\r\n" {
			t.Fatalf("PING: %q", got)
		}
	}
	// A restart keeps its port.
	r := StartRedis(t)
	port := r.Port
	r.Stop()
	r.Start()
	if r.Port != port {
		t.Fatalf("restart moved from %d to %d", port, r.Port)
	}
}

func TestMemcached(t *testing.T) {
	port := Memcached(t)
	if got := send(t, Addr(port), "version\r\n"); !strings.HasPrefix(got, "VERSION ") {
		t.Fatalf("version: %q", got)
	}
}

// TestDatabases starts each database server and runs a query on it.
func TestDatabases(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and MariaDB servers")
	}
	for _, tc := range []struct {
		name, driver string
		start        func(testing.TB) int
		dsn          func(port int) string
	}{
		{"PostgreSQL", "pgx", Postgres, func(p int) string { return "postgres://postgres@" + Addr(p) + "/postgres?sslmode=disable" }},
		{"MariaDB", "mysql", MariaDB, func(p int) string { return "root@tcp(" + Addr(p) + ")/" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := sql.Open(tc.driver, tc.dsn(tc.start(t)))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var n int
			if err := db.QueryRow("select 1 + 1").Scan(&n); err != nil || n != 2 {
				t.Fatalf("select: %d %v", n, err)
			}
		})
	}
}

// The HA sets come up with their topology in place; the failovers are
// exercised by the Redis scaling and restart-flag tests.
func TestSentinelSet(t *testing.T) {
	s := StartSentinel(t, SentinelOptions{Password: "data-pw", SentinelPassword: "sentinel-pw"})
	if m := s.MasterAddr(); m != s.Nodes[0].Addr() {
		t.Fatalf("master %s, want the first node %s", m, s.Nodes[0].Addr())
	}
	if r := nodeRole(s.Nodes[1].Addr(), "data-pw"); r != "slave" {
		t.Fatalf("second node is a %q", r)
	}
}

func TestClusterSet(t *testing.T) {
	c := StartCluster(t, ClusterOptions{Password: "cluster-pw"})
	if len(c.Addrs()) != 6 {
		t.Fatalf("nodes %v", c.Addrs())
	}
	const key = "laravel_database_laravel_cache_laravel:reverb:restart"
	m, replicas, err := c.slotOwners(c.Slot(key))
	if err != nil || m == "" || len(replicas) != 1 {
		t.Fatalf("slot of %q: master %q replicas %v, %v", key, m, replicas, err)
	}
}
