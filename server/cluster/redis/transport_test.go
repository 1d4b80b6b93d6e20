package redis

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reverb-go/reverb/laravelcfg"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sink collects delivered messages.
type sink struct {
	mu   sync.Mutex
	msgs []string
	ch   chan string
}

func newSink() *sink { return &sink{ch: make(chan string, 1000)} }

func (s *sink) deliver(m []byte) {
	s.mu.Lock()
	s.msgs = append(s.msgs, string(m))
	s.mu.Unlock()
	s.ch <- string(m)
}

func (s *sink) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-s.ch:
		if got != want {
			t.Fatalf("delivered %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%q not delivered", want)
	}
}

func (s *sink) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case got := <-s.ch:
		t.Fatalf("unexpected delivery %q", got)
	case <-time.After(d):
	}
}

func serverFor(r *redisServer) laravelcfg.RedisServer {
	return laravelcfg.RedisServer{Host: "127.0.0.1", Port: strconv.Itoa(r.Port)}
}

func newTransport(t *testing.T, srv laravelcfg.RedisServer, log *syncBuffer, s *sink) *Transport {
	t.Helper()
	tr, err := New(Options{Server: srv, Channel: "reverb-test", Log: log, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, StartWait: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(context.Background(), s.deliver); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestPublishReachesEveryNode(t *testing.T) {
	r := startRedis(t)
	log := &syncBuffer{}
	sa, sb := newSink(), newSink()
	a := newTransport(t, serverFor(r), log, sa)
	newTransport(t, serverFor(r), log, sb)
	ctx := context.Background()
	for i := range 20 {
		n, err := a.Publish(ctx, []byte("m"+strconv.Itoa(i)))
		if err != nil || n != 2 {
			t.Fatalf("Publish = %d, %v; want 2 receivers", n, err)
		}
	}
	for i := range 20 {
		sa.expect(t, "m"+strconv.Itoa(i))
		sb.expect(t, "m"+strconv.Itoa(i))
	}
	if !strings.Contains(log.String(), "Redis connection established") {
		t.Fatalf("log:\n%s", log)
	}
}

// A delivery may publish again (the server answers metrics requests from
// its deliver callback): nothing deadlocks.
func TestPublishFromDeliver(t *testing.T) {
	r := startRedis(t)
	done := make(chan string, 10)
	var tr *Transport
	tr, err := New(Options{Server: serverFor(r), Channel: "c"})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	err = tr.Start(context.Background(), func(m []byte) {
		if string(m) == "ask" {
			_, _ = tr.Publish(context.Background(), []byte("answer"))
			return
		}
		done <- string(m)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = tr.Publish(context.Background(), []byte("ask"))
	select {
	case m := <-done:
		if m != "answer" {
			t.Fatal(m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer")
	}
}

// Redis goes away and comes back: local delivery never stops, publishes
// made meanwhile reach the other node afterwards, in order, and this node
// does not get its own messages twice.
func TestRedisRestart(t *testing.T) {
	r := startRedis(t)
	log := &syncBuffer{}
	sa, sb := newSink(), newSink()
	a := newTransport(t, serverFor(r), log, sa)
	b := newTransport(t, serverFor(r), log, sb)
	ctx := context.Background()
	if _, err := a.Publish(ctx, []byte("before")); err != nil {
		t.Fatal(err)
	}
	sa.expect(t, "before")
	sb.expect(t, "before")

	r.Stop()
	waitFor(t, "subscriber down", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return !a.subUp
	})
	for i := range 5 {
		n, err := a.Publish(ctx, []byte("during"+strconv.Itoa(i)))
		if err != nil || n != 1 {
			t.Fatalf("Publish while down = %d, %v", n, err)
		}
		sa.expect(t, "during"+strconv.Itoa(i)) // local delivery at once
	}
	sb.quiet(t, 100*time.Millisecond)

	r.Start()
	for i := range 5 {
		sb.expect(t, "during"+strconv.Itoa(i))
	}
	waitFor(t, "b subscribed again", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.subUp && len(b.queue) == 0
	})
	waitFor(t, "a flushed", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.subUp && len(a.queue) == 0 && !a.pubBroken
	})
	n, err := b.Publish(ctx, []byte("after"))
	if err != nil || n != 2 {
		t.Fatalf("Publish after restart = %d, %v", n, err)
	}
	sa.expect(t, "after") // not one of the "during" echoes
	sb.expect(t, "after")
	sa.quiet(t, 100*time.Millisecond)
	for _, want := range []string{"Disconnected from Redis", "Attempting reconnection to Redis", "Redis connection established"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	// Each node counts what it delivered (cluster.Counter): the local
	// deliveries while Redis was away once, their echoes not at all.
	for name, n := range map[string]struct {
		tr *Transport
		s  *sink
	}{"a": {a, sa}, "b": {b, sb}} {
		got, ok := n.tr.Received()
		n.s.mu.Lock()
		delivered := len(n.s.msgs)
		n.s.mu.Unlock()
		if !ok || got != uint64(delivered) || delivered != 7 {
			t.Errorf("node %s: Received = %d, %v; delivered %d, want 7", name, got, ok, delivered)
		}
	}
}

// The queue is bounded: the oldest messages are dropped, with a log line.
func TestQueueBound(t *testing.T) {
	r := startRedis(t)
	log := &syncBuffer{}
	sa, sb := newSink(), newSink()
	tr, err := New(Options{Server: serverFor(r), Channel: "q", Log: log, QueueLimit: 3, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Start(context.Background(), sa.deliver); err != nil {
		t.Fatal(err)
	}
	other, _ := New(Options{Server: serverFor(r), Channel: "q", MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	defer other.Close()
	if err := other.Start(context.Background(), sb.deliver); err != nil {
		t.Fatal(err)
	}
	// A publish while both listen tells tr how many nodes to wait for
	// before flushing (a server's heartbeats keep this current).
	if n, err := tr.Publish(context.Background(), []byte("warm-up")); err != nil || n != 2 {
		t.Fatalf("Publish = %d, %v", n, err)
	}
	sa.expect(t, "warm-up")
	sb.expect(t, "warm-up")
	r.Stop()
	waitFor(t, "subscriber down", func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return !tr.subUp
	})
	for i := range 5 {
		_, _ = tr.Publish(context.Background(), []byte(fmt.Sprint(i)))
		sa.expect(t, fmt.Sprint(i))
	}
	if got := strings.Count(log.String(), "Redis queue full (3 messages)"); got != 1 {
		t.Fatalf("%d queue-full lines, want 1:\n%s", got, log)
	}
	if !strings.Contains(log.String(), "Redis queue full (3 messages): dropped the oldest, 1 lost so far") {
		t.Fatalf("log:\n%s", log)
	}
	r.Start()
	for _, want := range []string{"2", "3", "4"} {
		sb.expect(t, want)
	}
	waitFor(t, "the loss summary", func() bool { return strings.Contains(log.String(), "2 messages were lost while Redis was away") })
}

// Start does not hang when Redis is down at boot; delivery starts later.
func TestStartWithoutRedis(t *testing.T) {
	r := startRedis(t)
	r.Stop()
	log := &syncBuffer{}
	sa := newSink()
	tr, err := New(Options{Server: serverFor(r), Log: log, StartWait: 200 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, GiveUpAfter: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	begin := time.Now()
	if err := tr.Start(context.Background(), sa.deliver); err != nil {
		t.Fatal(err)
	}
	if time.Since(begin) > 2*time.Second {
		t.Fatal("Start waited too long")
	}
	_, _ = tr.Publish(context.Background(), []byte("x"))
	sa.expect(t, "x")
	// Past Reverb's give-up point the node is still here and says so.
	waitFor(t, "give-up notice", func() bool { return strings.Contains(log.String(), "Failed to connect to Redis after retrying for") })
	r.Start()
	waitFor(t, "connected", func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return tr.subUp && len(tr.queue) == 0
	})
	n, _ := tr.Publish(context.Background(), []byte("y"))
	if n != 1 {
		t.Fatalf("receivers %d", n)
	}
	sa.expect(t, "y")
	sa.quiet(t, 100*time.Millisecond)
	if !strings.Contains(log.String(), "not reachable yet") {
		t.Fatalf("log:\n%s", log)
	}
}

// Password and database from the config reach Redis.
func TestAuthAndDatabase(t *testing.T) {
	r := startRedis(t, "--requirepass", "s3cret")
	sa := newSink()
	srv := laravelcfg.RedisServer{URL: "redis://:s3cret@" + r.Addr() + "/3", Host: "ignored", Port: "1"}
	tr := newTransport(t, srv, &syncBuffer{}, sa)
	n, err := tr.Publish(context.Background(), []byte("hi"))
	if err != nil || n != 1 {
		t.Fatalf("Publish = %d, %v", n, err)
	}
	sa.expect(t, "hi")

	log := &syncBuffer{}
	bad, err := New(Options{Server: laravelcfg.RedisServer{Host: "127.0.0.1", Port: strconv.Itoa(r.Port), Password: "wrong"}, Log: log, StartWait: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	_ = bad.Start(context.Background(), func([]byte) {})
	waitFor(t, "the refusal in the log", func() bool { return strings.Contains(log.String(), "Cannot connect to Redis") })
	// The line names the setting to fix.
	if !strings.Contains(log.String(), "reverb.servers.reverb.scaling.server") {
		t.Fatalf("log:\n%s", log)
	}
}

func TestCloseIsIdempotentAndPublishAfterCloseFails(t *testing.T) {
	r := startRedis(t)
	tr := newTransport(t, serverFor(r), &syncBuffer{}, newSink())
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Publish(context.Background(), []byte("x")); err == nil {
		t.Fatal("publish after close succeeded")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A Go-only message on the control channel carries an empty application, so a
// PHP Reverb node's unserialize() gets "" (false, silently) and not null (a
// deprecation per message); Reverb's own types are sent as they are.
func TestGoOnlyMessagesCarryEmptyApplication(t *testing.T) {
	for in, want := range map[string]string{
		`{"type":"reverb-go:heartbeat","node":"n1"}`:            `{"application":"","type":"reverb-go:heartbeat","node":"n1"}`,
		`{"type":"message","application":"O:1:x","payload":{}}`: `{"type":"message","application":"O:1:x","payload":{}}`,
		`{"type":"metrics","payload":"s:0:\"\";"}`:              `{"type":"metrics","payload":"s:0:\"\";"}`,
	} {
		if got := string(forPHPNodes([]byte(in))); got != want {
			t.Errorf("forPHPNodes(%s) = %s, want %s", in, got, want)
		}
	}
}
