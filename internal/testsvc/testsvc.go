// Package testsvc starts private instances of the real services our tests
// talk to (redis-server, memcached, PostgreSQL, MariaDB), each on a free
// 127.0.0.1 port and stopped by t.Cleanup.
//
// Tests never use the system copies that may already listen on the default
// ports: a private instance gives each test an empty server it may crash,
// restart or fill without disturbing anyone else. When a binary is missing
// the test is skipped with a message naming the Debian package (CI installs
// them all through scripts/install-test-deps.sh).
package testsvc

import (
	"bufio"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // MariaDB readiness check
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL readiness check
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. The
// port is released before returning, so another process could take it; the
// window is small enough for tests. With REVERB_TEST_PORTS=FROM-TO (a
// machine shared by several test runs) the port is taken from that range,
// in turn.
func FreePort(t testing.TB) int {
	t.Helper()
	if from, to, ok := portRange(); ok {
		for range to - from + 1 {
			p := from + int(nextPort.Add(1)-1)%(to-from+1)
			if l, err := net.Listen("tcp", Addr(p)); err == nil {
				l.Close()
				return p
			}
		}
		t.Fatalf("no free port in REVERB_TEST_PORTS=%s", os.Getenv("REVERB_TEST_PORTS"))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// nextPort counts the ports handed out from REVERB_TEST_PORTS.
var nextPort atomic.Int64

// portRange reads REVERB_TEST_PORTS ("34200-34299").
func portRange() (from, to int, ok bool) {
	a, b, found := strings.Cut(os.Getenv("REVERB_TEST_PORTS"), "-")
	if !found {
		return 0, 0, false
	}
	from, err1 := strconv.Atoi(strings.TrimSpace(a))
	to, err2 := strconv.Atoi(strings.TrimSpace(b))
	return from, to, err1 == nil && err2 == nil && from > 0 && to >= from
}

// Addr is "127.0.0.1:port".
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// Redis is a redis-server process owned by one test. Stop and Start let a
// test simulate a crash and a restart on the same port.
type Redis struct {
	t    testing.TB
	Port int
	// conf is a config file given before the arguments ("" for none);
	// Sentinel needs one it can rewrite.
	conf string
	// sentinel: a sentinel (no persistence flags on its command line).
	sentinel bool
	args     []string
	// fresh gives arguments to choose anew with the port when a first
	// start retries (a cluster node's bus port); they are kept after.
	fresh     func() []string
	freshArgs []string
	started   bool // once: a restart keeps the port
	cmd       *exec.Cmd
	exited    chan struct{} // closed when cmd has exited
}

// StartRedis runs redis-server on a free port with no persistence, plus
// the extra arguments (e.g. "--requirepass", "s3cret"), and kills it when
// the test ends.
func StartRedis(t testing.TB, extra ...string) *Redis {
	t.Helper()
	return startRedis(t, nil, extra...)
}

// startRedis is StartRedis with arguments chosen anew on each try of the
// first start (Redis.fresh).
func startRedis(t testing.TB, fresh func() []string, extra ...string) *Redis {
	t.Helper()
	requireBin(t, "redis-server", "redis-server")
	r := &Redis{t: t, Port: FreePort(t), args: extra, fresh: fresh}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Addr is the server's "127.0.0.1:port".
func (r *Redis) Addr() string { return Addr(r.Port) }

// Start (re)starts the server on its port and waits until it answers PING
// (an error reply such as NOAUTH counts: the server is up).
//
// The first start owns its port choice: a port found free can be taken
// before redis-server binds it (packages are tested in parallel, and every
// outgoing connection takes a port too), so when this redis-server exits
// without listening, or another process answers on the port, it starts
// again on another free port. A restart keeps the port: the test's clients
// know it.
func (r *Redis) Start() {
	r.t.Helper()
	tries := 1
	if !r.started {
		tries = portTries
	}
	var why string
	for try := 1; try <= tries; try++ {
		if try > 1 {
			r.Port = FreePort(r.t)
		}
		if !r.started && r.fresh != nil {
			r.freshArgs = r.fresh()
		}
		var ok bool
		if ok, why = r.launch(); ok {
			r.started = true
			return
		}
	}
	r.t.Fatalf("redis-server on %s did not start: %s", r.Addr(), why)
}

// portTries is how many free ports a first start tries.
const portTries = 5

// launch starts redis-server on r.Port and waits until it is the one
// answering there; otherwise it kills it and says why.
func (r *Redis) launch() (bool, string) {
	var args []string
	if r.conf != "" {
		args = append(args, r.conf)
	}
	args = append(args, "--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1")
	if !r.sentinel {
		args = append(args, "--save", "", "--appendonly", "no")
	}
	args = append(append(args, r.freshArgs...), r.args...)
	p, err := startProc("redis-server", args)
	if err != nil {
		r.t.Fatal(err)
	}
	r.cmd, r.exited = p.cmd, p.exited
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if p.gone() {
			r.cmd = nil
			return false, "it exited (port taken?)"
		}
		if c, err := net.DialTimeout("tcp", r.Addr(), time.Second); err == nil {
			fmt.Fprint(c, "PING\r\n")
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if line == "+PONG\r\n" || (len(line) > 0 && line[0] == '-') {
				if listensOn(p.cmd.Process.Pid, r.Port) {
					return true, ""
				}
				r.Stop()
				return false, "another process answers on its port"
			}
		}
	}
	r.Stop()
	return false, "no answer to PING within 10 s"
}

// Stop kills the server like a crash (clients see their sockets drop). It
// is a no-op when the server is already stopped.
func (r *Redis) Stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.exited
	r.cmd = nil
}

// Running reports whether the process was started and not stopped.
func (r *Redis) Running() bool { return r.cmd != nil }

// Process runs bin with args(port) for a free port, waits until the
// process listens on that port, kills it when the test ends, and returns
// the port. It is for servers whose command line does not fit StartRedis
// or Memcached (e.g. redis-server listening on TLS only). Like a first
// Redis.Start, it tries another free port when the process exits first or
// another one listens there.
func Process(t testing.TB, bin string, args func(port int) []string) int {
	t.Helper()
	requireBin(t, bin, bin)
	why := ""
	for try := 1; try <= portTries; try++ {
		port := FreePort(t)
		p, err := startProc(bin, args(port))
		if err != nil {
			t.Fatal(err)
		}
		if why = p.waitListening(port, 10*time.Second); why == "" {
			t.Cleanup(p.kill)
			return port
		}
		p.kill()
	}
	t.Fatalf("%s did not start: %s", bin, why)
	return 0
}

// proc is a started process and the end of its Wait.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// startProc starts bin; a goroutine owned by the proc waits for its exit.
func startProc(bin string, args []string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	return p, nil
}

func (p *proc) gone() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

func (p *proc) kill() { _ = p.cmd.Process.Kill(); <-p.exited }

// waitListening waits until the process listens on port: "" then, else why
// not.
func (p *proc) waitListening(port int, timeout time.Duration) string {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if p.gone() {
			return "it exited (port taken?)"
		}
		if c, err := net.Dial("tcp", Addr(port)); err == nil {
			c.Close()
			if listensOn(p.cmd.Process.Pid, port) {
				return ""
			}
			return "another process listens on " + Addr(port)
		}
	}
	return "not listening on " + Addr(port) + " within " + timeout.String()
}

// listensOn reports whether process pid holds the listening socket of
// 127.0.0.1:port (Linux: /proc/net/tcp and the process's descriptors).
// Without /proc it says yes; a process whose descriptors cannot be read
// has exited (a redis-server that found its port taken exits at once,
// and may be reaped between the answer on the port and this look).
func listensOn(pid, port int) bool {
	table, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return true
	}
	// Fields: sl local_address rem_address st ... uid timeout inode; a
	// local address is hex IP:port, LISTEN is state 0A.
	want := fmt.Sprintf(":%04X", port)
	inodes := map[string]bool{}
	for _, line := range strings.Split(string(table), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 10 && strings.HasSuffix(f[1], want) && f[3] == "0A" {
			inodes["socket:["+f[9]+"]"] = true
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && inodes[l] {
			return true
		}
	}
	return false
}

// Memcached runs memcached (TCP only) on a free port and returns the port.
func Memcached(t testing.TB) int {
	t.Helper()
	return Process(t, "memcached", func(p int) []string {
		a := []string{"-p", strconv.Itoa(p), "-U", "0", "-l", "127.0.0.1"}
		if os.Geteuid() == 0 {
			a = append(a, "-u", "root") // memcached refuses root without it
		}
		return a
	})
}

// Postgres runs a throw-away PostgreSQL cluster on a free port (trust auth,
// superuser postgres, database postgres) and returns the port. PostgreSQL
// refuses to run as root, so under root it runs as the postgres user
// through runuser.
func Postgres(t testing.TB) int {
	t.Helper()
	initdb, postgres := pgBin(t, "initdb"), pgBin(t, "postgres")
	// Not t.TempDir: under root its parent is private to root and the
	// postgres user could not reach the data directory.
	dir, err := os.MkdirTemp("", "testsvc-pg-")
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
	if out, err := command(initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := FreePort(t)
	srv := command(postgres, "-D", data, "-p", strconv.Itoa(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-F")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(srv, syscall.SIGINT, 10*time.Second) }) // SIGINT: fast shutdown
	url := "postgres://postgres@" + Addr(port) + "/postgres?sslmode=disable"
	// PostgreSQL accepts TCP before it accepts queries: wait for a ping.
	if !waitPing("pgx", url, 30*time.Second, 100*time.Millisecond) {
		t.Fatalf("postgres did not start on %s", Addr(port))
	}
	return port
}

// pgBin finds a PostgreSQL server binary on PATH or, as Debian installs
// them, under /usr/lib/postgresql/<version>/bin (newest version first).
func pgBin(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	sort.Sort(sort.Reverse(sort.StringSlice(found)))
	if len(found) == 0 {
		t.Skipf("%s not installed (apt-get install postgresql)", name)
	}
	return found[0]
}

// MariaDB runs a throw-away MariaDB server on a free port with grant tables
// skipped (user root, no password, any host) and returns the port.
func MariaDB(t testing.TB) int {
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
	port := FreePort(t)
	srv := exec.Command(server, append([]string{"--no-defaults", "--datadir=" + data, "--port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1", "--socket=" + filepath.Join(dir, "mysqld.sock"), "--pid-file=" + filepath.Join(dir, "mysqld.pid"),
		"--skip-grant-tables", "--skip-log-bin", "--innodb-buffer-pool-size=16M", "--log-error=" + filepath.Join(dir, "error.log")}, userArgs...)...)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(srv, syscall.SIGTERM, 20*time.Second) })
	if !waitPing("mysql", "root@tcp("+Addr(port)+")/", 60*time.Second, 200*time.Millisecond) {
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		t.Fatalf("MariaDB did not start on port %d:\n%s", port, log)
	}
	return port
}

// requireBin skips the test when bin is not on PATH.
func requireBin(t testing.TB, bin, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(bin); err != nil {
		t.Skipf("%s not installed (apt-get install %s; CI installs it)", bin, pkg)
	}
}

// stop asks a database server to shut down with sig and kills it if it has
// not exited within grace, so a wedged server cannot hang the test binary.
func stop(cmd *exec.Cmd, sig os.Signal, grace time.Duration) {
	_ = cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }() // owned by stop: ends when the process exits
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// waitPing polls a database until it answers a ping or timeout passes.
func waitPing(driver, dsn string, timeout, every time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(every) {
		db, err := sql.Open(driver, dsn)
		if err == nil {
			err = db.Ping()
			db.Close()
		}
		if err == nil {
			return true
		}
	}
	return false
}
