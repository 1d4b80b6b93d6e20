//go:build linux

package main

import (
	"net"
	"strings"
	"testing"

	"github.com/reverb-go/reverb/laravelcfg"
	"github.com/reverb-go/reverb/server"
)

// The storm's epoll dialer against a real server: every dial ends
// subscribed and read by the epoll readers; a refused port and an unknown
// app are counted, with what the server said.
func TestEpollDialer(t *testing.T) {
	srv := testBenchServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()

	client := func(addr, key string) *clientState { return testClient(t, addr, key, false) }

	st := client(ln.Addr().String(), benchAppKey)
	r := st.connectEpoll(clientCmd{N: 200, Channel: "storm", Concurrency: 16})
	if r.OK != 200 || r.Failed != 0 || r.Refused != 0 || r.Open != 200 {
		t.Fatalf("200 dials: %+v", r)
	}
	if n := r.Connect.count(); n != 200 {
		t.Fatalf("%d connect times for 200 dials", n)
	}
	counts := srv.Stats()
	if got := counts.Apps[0].Connections; got != 200 {
		t.Fatalf("the server counts %d connections", got)
	}

	wrong := client(ln.Addr().String(), "no-such-key")
	if r := wrong.connectEpoll(clientCmd{N: 3, Channel: "storm", Concurrency: 2}); r.OK != 0 || r.Failed != 3 ||
		!strings.Contains(r.ErrSample, "Application does not exist") {
		t.Fatalf("unknown app: %+v", r)
	}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.Addr().String()
	closed.Close()
	if r := client(addr, benchAppKey).connectEpoll(clientCmd{N: 3, Channel: "storm", Concurrency: 2}); r.Refused != 3 || r.OK != 0 {
		t.Fatalf("closed port: %+v", r)
	}
}

// testBenchServer is a server for the bench's app, closed at the test's
// end; the caller gives it its listener.
func testBenchServer(t *testing.T) *server.Server {
	t.Helper()
	app := laravelcfg.App{ID: benchAppID, Key: benchAppKey, Secret: benchAppSecret, PingInterval: 3600, ActivityTimeout: 120,
		AllowedOrigins: []string{"*"}, MaxMessageSize: 1000000}
	srv, err := server.New(server.Options{Apps: []laravelcfg.App{app}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// testClient is a client process's state as runClient sets it up: epoll
// readers and, with redial, the redialer.
func testClient(t *testing.T, addr, key string, redial bool) *clientState {
	t.Helper()
	st := &clientState{addr: addr, src: "127.0.0.1", key: key, conns: map[*wsConn]struct{}{}}
	st.srcs = clientSources(st.src)
	rs, err := newEpollReaders(st)
	if err != nil {
		t.Fatal(err)
	}
	st.readers = rs
	if redial {
		if st.redials = newRedialer(st); st.redials == nil {
			t.Fatal("no redialer for an IPv4 address")
		}
	}
	t.Cleanup(st.closeAll)
	return st
}
