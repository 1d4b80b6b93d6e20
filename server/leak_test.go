package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
)

var goroutineHead = regexp.MustCompile(`^goroutine (\d+) `)

// goroutines returns the stacks of the live goroutines by id.
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		if m := goroutineHead.FindStringSubmatch(g); m != nil {
			out[m[1]] = g
		}
	}
	return out
}

// leakedSince waits up to 3 s for the goroutines started since before
// (other than those matching ignore) to end, and returns those left.
func leakedSince(before map[string]string, ignore ...string) []string {
	var left []string
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		left = left[:0]
	next:
		for id, st := range goroutines() {
			if _, old := before[id]; old || strings.Contains(st, "leakedSince") || strings.Contains(st, "runtime.Stack") {
				continue
			}
			for _, ig := range ignore {
				if strings.Contains(st, ig) {
					continue next
				}
			}
			left = append(left, st)
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
	}
}

// Close ends every goroutine the server started: readers, writers,
// sweeps, the cluster decisions' timers, and the webhook deliveries
// with their idle HTTP connections.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	hits := make(chan struct{}, 100)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case hits <- struct{}{}:
		default:
		}
	}))
	defer hook.Close()
	before := goroutines()
	app := appA()
	app.Webhooks = []laravelcfg.Webhook{{URL: hook.URL, EventTypes: []string{"channel_occupied", "channel_vacated", "member_added", "member_removed"}}}
	s, err := New(Options{Apps: []laravelcfg.App{app}, WebhookHold: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{s: s}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	served := make(chan struct{})
	go func() { _ = s.Serve(ln); close(served) }()
	c := ts.dial(t, "reverb-key")
	c.subscribe("presence-x", `{"user_id":1}`, "reverb-secret")
	c.expectContains("subscription_succeeded")
	c.subscribe("test", "", "")
	c.subscribed("test")
	ts.trigger(t, "123456", "e", "d", "test")
	c.expect(`{"event":"e","data":"d","channel":"test"}`)
	select {
	case <-hits:
	case <-time.After(3 * time.Second):
		t.Fatal("no webhook")
	}
	_ = s.Close()
	<-served
	_ = c.ws.Close()
	if left := leakedSince(before, "net/http.(*conn).serve", "httptest"); len(left) > 0 {
		t.Fatalf("%d goroutines outlive Close:\n%s", len(left), strings.Join(left, "\n\n"))
	}
}

// A cluster node that drains (or stops) and closes ends every goroutine
// too, with the cluster decisions and the presence view in play.
func TestDrainAndCloseLeaveNoGoroutines(t *testing.T) {
	for _, stop := range []bool{false, true} {
		before := goroutines()
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		app := appA()
		app.Webhooks = []laravelcfg.Webhook{{URL: hook.URL, EventTypes: []string{"channel_occupied", "channel_vacated", "member_added", "member_removed"}}}
		app.UserAuthenticationTimeout = time.Minute
		bus := testBusNodes()
		var nodes []*testServer
		for _, id := range []string{"node-a", "node-b"} {
			s, err := New(Options{Apps: []laravelcfg.App{app}, Transport: bus(), NodeID: id, WebhookHold: 10 * time.Millisecond,
				HeartbeatInterval: 20 * time.Millisecond, GatherTimeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = s.Serve(ln) }()
			nodes = append(nodes, &testServer{s: s, addr: ln.Addr().String()})
		}
		for i, n := range nodes {
			c := n.dial(t, "reverb-key")
			c.subscribe("presence-x", fmt.Sprintf(`{"user_id":%d}`, i), "reverb-secret")
			c.expectContains("subscription_succeeded")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var err error
		if stop {
			err = nodes[0].s.Stop(ctx, 50*time.Millisecond)
		} else {
			err = nodes[0].s.Drain(ctx, 50*time.Millisecond)
		}
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			_ = n.s.Close()
		}
		hook.Close()
		if left := leakedSince(before, "net/http.(*conn).serve", "httptest", "gorilla/websocket"); len(left) > 0 {
			t.Fatalf("stop=%v: %d goroutines outlive Close:\n%s", stop, len(left), strings.Join(left, "\n\n"))
		}
	}
}

func TestRoutedDrainAndCloseLeaveNoGoroutines(t *testing.T) {
	routed(t)
	TestDrainAndCloseLeaveNoGoroutines(t)
}
