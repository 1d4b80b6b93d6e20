package redis

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/laravelcfg/redisconn"
)

// Sharded pub/sub and CLUSTER SHARDS came with Redis 7.0.
func TestShardedPubSubVersion(t *testing.T) {
	for _, tc := range []struct {
		v         string
		ok, known bool
	}{
		{"6.2.14", false, true},
		{"6.0.0", false, true},
		{"5.0.7", false, true},
		{"7.0.0", true, true},
		{"7.0.15", true, true},
		{"7.2.4\r", true, true},
		{"10.1.2", true, true},
		{"", false, false},
		{"garbage", false, false},
		{"7", false, false},
		{"v7.0.0", false, false},
		{"-6.2.0", false, false},
		{"7.x.1", false, false},
		{"99999999999.0.0", false, false},
	} {
		ok, known := shardedPubSub(tc.v)
		if ok != tc.ok || known != tc.known {
			t.Errorf("shardedPubSub(%q) = %v, %v; want %v, %v", tc.v, ok, known, tc.ok, tc.known)
		}
	}
}

func TestInfoVersion(t *testing.T) {
	info := "# Server\r\nredis_version:6.2.14\r\nredis_git_sha1:00000000\r\nredis_mode:cluster\r\n"
	if v := infoVersion(info); v != "6.2.14" {
		t.Errorf("infoVersion = %q", v)
	}
	if v := infoVersion("# Server\r\nredis_mode:cluster\r\n"); v != "" {
		t.Errorf("infoVersion without a version = %q", v)
	}
}

// Only masters known to be older than 7.0 are refused, named in address
// order; an unknown version is not.
func TestOldMasters(t *testing.T) {
	got := oldMasters(map[string]string{
		"10.0.0.3:6379": "6.2.14",
		"10.0.0.1:6379": "7.0.15",
		"10.0.0.2:6379": "6.0.9",
		"10.0.0.4:6379": "",
		"10.0.0.5:6379": "garbage",
	})
	want := []string{"6.0.9 at 10.0.0.2:6379", "6.2.14 at 10.0.0.3:6379"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("oldMasters = %q, want %q", got, want)
	}
	if got := oldMasters(map[string]string{"a:1": "7.0.0", "b:1": "10.1.2", "c:1": ""}); len(got) != 0 {
		t.Errorf("oldMasters of a Redis 7 cluster = %q", got)
	}
}

// The message names the setting that turned the interest routing on, what
// was found where, and the way out.
func TestOldRedisMessage(t *testing.T) {
	key := "reverb.servers.reverb.scaling.routing"
	for _, tc := range []struct{ from, named, off string }{
		{laravelcfg.ScalingRoutingEnv, "REVERB_SCALING_ROUTING=interest", "unset REVERB_SCALING_ROUTING or set it to classic"},
		{key, key + " = 'interest'", "set " + key + " to 'classic'"},
		{"", "scaling.routing or REVERB_SCALING_ROUTING", "set it to classic"},
	} {
		msg := (&oldRedisError{found: []string{"6.2.14 at 127.0.0.1:7000"}, setting: tc.from}).Error()
		for _, part := range []string{"(" + tc.named + ")", "needs Redis 7.0 or later on every Cluster master (found 6.2.14 at 127.0.0.1:7000)", tc.off} {
			if !strings.Contains(msg, part) {
				t.Errorf("from %q: %q\nlacks %q", tc.from, msg, part)
			}
		}
	}
}

// On a Redis 6 Cluster the router refuses to start, naming the master and
// its version. The Cluster is a stand-in answering RESP (no Redis 6 here).
func TestRouterRefusesRedis6Cluster(t *testing.T) {
	addr := fakeRedis6Cluster(t)
	log := &syncBuffer{}
	r, err := NewRouter(Options{Redis: &redisconn.Deployment{Mode: redisconn.Cluster, Network: "tcp", Addrs: []string{addr}},
		Channel: "reverb", RoutingFrom: laravelcfg.ScalingRoutingEnv, Log: log,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, StartWait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.OnLive(func(string) {})
	r.Want("n:node1")
	start := time.Now()
	err = r.Start(t.Context(), func([]byte) {})
	var old *oldRedisError
	if !errors.As(err, &old) {
		t.Fatalf("Start on Redis 6 = %v, want the version refused\nlog:\n%s", err, log.String())
	}
	if want := "REVERB_SCALING_ROUTING=interest) needs Redis 7.0 or later on every Cluster master (found 6.2.14 at " + addr + ")"; !strings.Contains(err.Error(), want) {
		t.Errorf("Start: %v\nwant it to contain %q", err, want)
	}
	t.Logf("refused: %v", err)
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("refused after %v: it should not wait for the start timeout", waited)
	}
	// Start closed the transport it refused.
	if _, err := r.Publish(t.Context(), []byte("x")); err == nil {
		t.Error("Publish after a refused Start succeeded")
	}
}

// When Redis is not reachable while the router starts, a Redis 6 Cluster
// found later is logged (the node serves its own clients meanwhile).
func TestRouterLogsRedis6FoundLater(t *testing.T) {
	open := make(chan struct{})
	addr := fakeRedis6ClusterFrom(t, open)
	log := &syncBuffer{}
	r, err := NewRouter(Options{Redis: &redisconn.Deployment{Mode: redisconn.Cluster, Network: "tcp", Addrs: []string{addr}},
		Channel: "reverb", RoutingFrom: "reverb.servers.reverb.scaling.routing", Log: log, DialTimeout: 200 * time.Millisecond,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, StartWait: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.OnLive(func(string) {})
	if err := r.Start(t.Context(), func([]byte) {}); err != nil {
		t.Fatalf("Start without Redis: %v", err)
	}
	close(open)
	want := "reverb.servers.reverb.scaling.routing = 'interest') needs Redis 7.0 or later on every Cluster master (found 6.2.14 at " + addr + ")"
	waitFor(t, "the old master logged", func() bool { return strings.Contains(log.String(), want) })
	// Logged once per master.
	r.logVersions(&oldRedisError{found: []string{"6.2.14 at " + addr}}, nil)
	if n := strings.Count(log.String(), "needs Redis 7.0"); n != 1 {
		t.Errorf("logged %d times:\n%s", n, log.String())
	}
}

// Redis 6's answers, the way go-redis reads them back.
func TestUnknownCommand(t *testing.T) {
	addr := fakeRedis6Cluster(t)
	d := &redisconn.Deployment{Mode: redisconn.Standalone, Network: "tcp", Addrs: []string{addr}}
	c := d.NewClient(redisconn.ClientOptions{MaxRetries: -1})
	defer c.Close()
	if err := c.ClusterShards(t.Context()).Err(); !unknownCommand(err) {
		t.Errorf("CLUSTER SHARDS: %v is not an unknown command", err)
	}
	if err := c.SPublish(t.Context(), "x", "y").Err(); !unknownCommand(err) {
		t.Errorf("SPUBLISH: %v is not an unknown command", err)
	}
	if unknownCommand(io.EOF) || unknownCommand(nil) || unknownCommand(errors.New("unknown command")) {
		t.Error("a network error counts as an unknown command")
	}
}

// fakeRedis6Cluster serves, on a loopback port, a one-master Redis 6.2
// Cluster as far as the router's start goes: CLUSTER SLOTS (itself, every
// slot), SUBSCRIBE, PUBLISH, PING, INFO (redis_version:6.2.14), COMMAND,
// and Redis 6's "unknown (sub)command" to CLUSTER SHARDS, SSUBSCRIBE and
// SPUBLISH. Its goroutines end at cleanup.
func fakeRedis6Cluster(t *testing.T) string {
	t.Helper()
	open := make(chan struct{})
	close(open)
	return fakeRedis6ClusterFrom(t, open)
}

// fakeRedis6ClusterFrom is fakeRedis6Cluster answering only once open is
// closed (until then connections wait in the listen queue: Redis is not
// reachable).
func fakeRedis6ClusterFrom(t *testing.T, open <-chan struct{}) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	var mu sync.Mutex
	var conns []net.Conn
	closed := false
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	bulk := func(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }
	answer := func(args []string) string {
		cmd := strings.ToLower(args[0])
		if cmd == "cluster" && len(args) > 1 {
			cmd += " " + strings.ToLower(args[1])
		}
		switch cmd {
		case "cluster slots":
			return "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n" + bulk("127.0.0.1") + ":" + strconv.Itoa(port) + "\r\n"
		case "cluster shards":
			return "-ERR Unknown subcommand or wrong number of arguments for 'shards'. Try CLUSTER HELP.\r\n"
		case "subscribe":
			var b strings.Builder
			for i, ch := range args[1:] {
				fmt.Fprintf(&b, "*3\r\n%s%s:%d\r\n", bulk("subscribe"), bulk(ch), i+1)
			}
			return b.String()
		case "publish":
			return ":1\r\n"
		case "ping":
			return "+PONG\r\n"
		case "info":
			return bulk("# Server\r\nredis_version:6.2.14\r\nredis_mode:cluster\r\n")
		case "command":
			return "*0\r\n"
		}
		return "-ERR unknown command `" + args[0] + "`, with args beginning with: \r\n"
	}
	serve := func(c net.Conn) {
		defer wg.Done()
		r := bufio.NewReader(c)
		for {
			args, err := readRESPCommand(r)
			if err != nil {
				_ = c.Close()
				return
			}
			if _, err := io.WriteString(c, answer(args)); err != nil {
				return
			}
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-open:
		case <-t.Context().Done():
			return
		}
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				_ = c.Close()
				return
			}
			conns = append(conns, c)
			wg.Add(1)
			mu.Unlock()
			go serve(c)
		}
	}()
	return ln.Addr().String()
}

// readRESPCommand reads one command: an array of bulk strings.
func readRESPCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "*")))
	if err != nil || !strings.HasPrefix(line, "*") || n < 1 {
		return nil, fmt.Errorf("not a command: %q", line)
	}
	args := make([]string, n)
	for i := range args {
		if line, err = r.ReadString('\n'); err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "$")))
		if err != nil || size < 0 {
			return nil, fmt.Errorf("not a bulk string: %q", line)
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:size])
	}
	return args, nil
}
