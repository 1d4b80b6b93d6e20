package webhooks

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is an endpoint that records what it accepts and answers with
// what status says (200 when nil).
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	status func(n int) int // n: request number, from 1
	mu     sync.Mutex
	bodies []map[string]any
	hdrs   []http.Header
	n      atomic.Int64
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	r := &receiver{t: t, status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := int(r.n.Add(1))
		b, _ := io.ReadAll(req.Body)
		code := 200
		if r.status != nil {
			code = r.status(n)
		}
		if code == 200 {
			if got, want := req.Header.Get("X-Pusher-Signature"), Sign("secret", b); got != want {
				t.Errorf("signature %s, want %s", got, want)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Errorf("body %s: %v", b, err)
			}
			r.mu.Lock()
			r.bodies = append(r.bodies, m)
			r.hdrs = append(r.hdrs, req.Header.Clone())
			r.mu.Unlock()
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// events returns the "n" field of every delivered event, in order.
func (r *receiver) events() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for _, b := range r.bodies {
		for _, e := range b["events"].([]any) {
			out = append(out, int(e.(map[string]any)["n"].(float64)))
		}
	}
	return out
}

func (r *receiver) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logs) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

func ev(n int) []byte { return []byte(fmt.Sprintf(`{"name":"client_event","n":%d}`, n)) }

func TestBatchesInOrderSigned(t *testing.T) {
	r := newReceiver(t, nil)
	s := New(Options{BatchEvents: 100, BatchWait: 50 * time.Millisecond})
	defer s.Close()
	q := s.Add(Target{Name: "webhooks.0", URL: r.srv.URL, Key: "key", Secret: "secret", Headers: http.Header{"Authorization": {"Bearer x"}, "X-Pusher-Signature": {"forged"}}})
	for i := 0; i < 250; i++ {
		if !q.Push(ev(i)) {
			t.Fatal("dropped")
		}
	}
	waitFor(t, "250 events", 5*time.Second, func() bool { return len(r.events()) == 250 && q.Stats().Events == 250 })
	for i, n := range r.events() {
		if n != i {
			t.Fatalf("event %d is %d: out of order", i, n)
		}
	}
	if n := r.requests(); n < 3 || n > 4 {
		t.Errorf("%d requests for 250 events in batches of 100", n)
	}
	r.mu.Lock()
	h := r.hdrs[0]
	tm := r.bodies[0]["time_ms"].(float64)
	r.mu.Unlock()
	if h.Get("X-Pusher-Key") != "key" || h.Get("Authorization") != "Bearer x" || h.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", h)
	}
	if d := time.Since(time.UnixMilli(int64(tm))); d < 0 || d > 5*time.Second {
		t.Errorf("time_ms %v is %v away", tm, d)
	}
	st := q.Stats()
	if st.Events != 250 || st.Failures != 0 || st.DroppedQueueFull+st.DroppedGaveUp+st.DroppedRejected != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestBatchWaitIsBounded(t *testing.T) {
	r := newReceiver(t, nil)
	s := New(Options{BatchWait: 100 * time.Millisecond})
	defer s.Close()
	q := s.Add(Target{Name: "w", URL: r.srv.URL, Key: "key", Secret: "secret"})
	start := time.Now()
	q.Push(ev(1))
	waitFor(t, "lone event", 3*time.Second, func() bool { return len(r.events()) == 1 })
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Errorf("sent after %v: should wait for the batch window", d)
	}
}

func TestRetriesAfter500WithBackoff(t *testing.T) {
	var times []time.Time
	var mu sync.Mutex
	r := newReceiver(t, func(n int) int {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		if n <= 3 {
			return 500
		}
		return 200
	})
	lg := &logs{}
	s := New(Options{BatchWait: time.Millisecond, MinBackoff: 20 * time.Millisecond, Logf: lg.logf})
	defer s.Close()
	q := s.Add(Target{Name: "w", URL: r.srv.URL, Key: "key", Secret: "secret"})
	q.Push(ev(7))
	waitFor(t, "delivery after 500s", 5*time.Second, func() bool { return q.Stats().Events == 1 })
	mu.Lock()
	defer mu.Unlock()
	g1, g2 := times[2].Sub(times[1]), times[3].Sub(times[2])
	if g1 < 35*time.Millisecond || g2 < 70*time.Millisecond {
		t.Errorf("gaps %v %v: backoff should double from 20ms", g1, g2)
	}
	if st := q.Stats(); st.Failures != 3 || st.Events != 1 {
		t.Errorf("stats %+v", st)
	}
	if lg.count("retrying") != 1 || lg.count("delivered after 4 attempts") != 1 {
		t.Errorf("logs %v", lg.lines)
	}
}

func TestGivesUpWithinBounds(t *testing.T) {
	r := newReceiver(t, func(int) int { return 503 })
	s := New(Options{BatchWait: time.Millisecond, MinBackoff: 10 * time.Millisecond, RetryFor: 200 * time.Millisecond})
	defer s.Close()
	q := s.Add(Target{Name: "w", URL: r.srv.URL, Key: "key", Secret: "secret"})
	q.Push(ev(1))
	q.Push(ev(2))
	waitFor(t, "give up", 3*time.Second, func() bool { return q.Stats().DroppedGaveUp == 2 })
	if n := r.n.Load(); n < 3 || n > 10 {
		t.Errorf("%d attempts in 200ms with backoff from 10ms", n)
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	r := newReceiver(t, func(n int) int {
		if n == 1 {
			return 401
		}
		return 200
	})
	s := New(Options{BatchWait: time.Millisecond, BatchEvents: 1})
	defer s.Close()
	q := s.Add(Target{Name: "w", URL: r.srv.URL, Key: "key", Secret: "secret"})
	q.Push(ev(1))
	q.Push(ev(2))
	waitFor(t, "second event", 3*time.Second, func() bool { return q.Stats().Events == 1 })
	if st := q.Stats(); st.DroppedRejected != 1 || st.Events != 1 || r.events()[0] != 2 {
		t.Errorf("stats %+v, events %v", st, r.events())
	}
}

func TestQueueFullDropsAndLogsOncePerBurst(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		<-release
		_, _ = io.Copy(io.Discard, req.Body)
	}))
	defer srv.Close()
	lg := &logs{}
	s := New(Options{BatchWait: time.Millisecond, BatchEvents: 10, QueueEvents: 50, Logf: lg.logf, CloseTimeout: 100 * time.Millisecond})
	q := s.Add(Target{Name: "w", URL: srv.URL, Key: "key", Secret: "secret"})
	q.Push(ev(0))
	// The first batch is in flight (the endpoint hangs): fill the queue.
	waitFor(t, "first request in flight", 3*time.Second, func() bool { n, _ := q.pending(); return n == 0 })
	dropped := 0
	for i := 1; i <= 200; i++ {
		if !q.Push(ev(i)) {
			dropped++
		}
	}
	if dropped != 150 || q.Stats().DroppedQueueFull != 150 {
		t.Errorf("dropped %d (stats %+v)", dropped, q.Stats())
	}
	if lg.count("queue full") != 1 {
		t.Errorf("logs %v", lg.lines)
	}
	close(release)
	waitFor(t, "drained", 5*time.Second, func() bool { return q.Stats().Events == 51 })
	if lg.count("150 events were dropped") != 1 {
		t.Errorf("logs %v", lg.lines)
	}
	s.Close()
}

func TestRedirects(t *testing.T) {
	final := newReceiver(t, nil)
	hops := 0
	var mu sync.Mutex
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		hops++
		mu.Unlock()
		switch req.URL.Path {
		case "/keep":
			http.Redirect(w, req, final.srv.URL, http.StatusTemporaryRedirect)
		case "/get":
			http.Redirect(w, req, final.srv.URL, http.StatusFound)
		default: // forever
			http.Redirect(w, req, "/loop", http.StatusPermanentRedirect)
		}
	}))
	defer redir.Close()
	s := New(Options{BatchWait: time.Millisecond, MinBackoff: 10 * time.Millisecond, RetryFor: 150 * time.Millisecond})
	defer s.Close()
	keep := s.Add(Target{Name: "keep", URL: redir.URL + "/keep", Key: "key", Secret: "secret"})
	keep.Push(ev(1))
	waitFor(t, "307 followed with the body", 3*time.Second, func() bool { return len(final.events()) == 1 })

	get := s.Add(Target{Name: "get", URL: redir.URL + "/get", Key: "key", Secret: "secret"})
	get.Push(ev(2))
	loop := s.Add(Target{Name: "loop", URL: redir.URL + "/loop", Key: "key", Secret: "secret"})
	loop.Push(ev(3))
	waitFor(t, "both given up", 3*time.Second, func() bool {
		return get.Stats().DroppedGaveUp == 1 && loop.Stats().DroppedGaveUp == 1
	})
	if len(final.events()) != 1 {
		t.Errorf("a 302 must not turn the POST into a GET: %v", final.events())
	}
	if f := loop.Stats().Failures; f < 2 {
		t.Errorf("redirect loop: %d failed attempts", f)
	}
}

func TestTimeoutIsRetried(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if calls.Add(1) == 1 {
			time.Sleep(300 * time.Millisecond)
		}
		_, _ = io.Copy(io.Discard, req.Body)
	}))
	defer srv.Close()
	s := New(Options{BatchWait: time.Millisecond, MinBackoff: 10 * time.Millisecond, RequestTimeout: 100 * time.Millisecond})
	defer s.Close()
	q := s.Add(Target{Name: "slow", URL: srv.URL, Key: "key", Secret: "secret"})
	q.Push(ev(1))
	waitFor(t, "retry after timeout", 3*time.Second, func() bool { return q.Stats().Events == 1 })
	if q.Stats().Failures != 1 {
		t.Errorf("stats %+v", q.Stats())
	}
}

func TestCloseFlushes(t *testing.T) {
	r := newReceiver(t, nil)
	s := New(Options{BatchWait: time.Hour})
	q := s.Add(Target{Name: "w", URL: r.srv.URL, Key: "key", Secret: "secret"})
	q.Push(ev(1))
	q.Push(ev(2))
	s.Close()
	if got := r.events(); len(got) != 2 {
		t.Errorf("after Close: %v", got)
	}
	if q.Push(ev(3)); len(r.events()) != 2 {
		t.Error("sent after Close")
	}
}

// Close while a batch is in flight to a working endpoint lets that request
// finish: the endpoint gets the batch once, not again in the last try (a
// stopping server used to send its departures twice).
func TestCloseDuringARequestSendsTheBatchOnce(t *testing.T) {
	var mu sync.Mutex
	var got []string
	arrived := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
		arrived <- struct{}{}
		time.Sleep(200 * time.Millisecond) // the endpoint's work
	}))
	defer srv.Close()
	s := New(Options{BatchWait: time.Millisecond})
	q := s.Add(Target{Name: "w", URL: srv.URL, Key: "key", Secret: "secret"})
	q.Push(ev(1))
	<-arrived
	q.Push(ev(2))
	s.Close()
	mu.Lock()
	defer mu.Unlock()
	n1 := 0
	for _, b := range got {
		n1 += strings.Count(b, `"n":1}`)
	}
	if n1 != 1 || !strings.Contains(strings.Join(got, ""), `"n":2}`) {
		t.Errorf("bodies received: %q", got)
	}
	if st := q.Stats(); st.Events != 2 || st.Failures != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestCloseDoesNotHangOnADeadEndpoint(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		time.Sleep(2 * time.Second)
	}))
	defer srv.Close()
	s := New(Options{BatchWait: time.Millisecond, CloseTimeout: 100 * time.Millisecond, RequestTimeout: time.Second})
	q := s.Add(Target{Name: "w", URL: srv.URL, Key: "key", Secret: "secret"})
	q.Push(ev(1))
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > 600*time.Millisecond {
		t.Errorf("Close took %v", d)
	}
}

// A queue full by its bytes (large events, few of them) is still full after
// one batch left: the burst goes on, logged once, and the "queue full" line
// names the bound that was hit.
func TestQueueFullByBytesLogsOncePerBurst(t *testing.T) {
	lg := &logs{}
	s := New(Options{BatchEvents: 2, QueueEvents: 1000, QueueBytes: 10 * 1000, Logf: lg.logf})
	defer s.Close()
	q := &Queue{s: s, target: Target{Name: "w", URL: "http://127.0.0.1:1"}, wake: make(chan struct{}, 1)} // no goroutine: batches are taken by hand
	big := func() []byte { return []byte(`{"n":"` + strings.Repeat("x", 990) + `"}`) }
	for i := 0; i < 10; i++ {
		if !q.Push(big()) {
			t.Fatalf("event %d dropped", i)
		}
	}
	for round := 0; round < 3; round++ {
		if q.Push(big()) {
			t.Fatal("an event beyond QueueBytes was queued")
		}
		if len(q.take()) != 2 {
			t.Fatal("batch")
		}
		for q.Push(big()) {
		}
	}
	if n := lg.count("queue full"); n != 1 {
		t.Errorf("%d queue-full lines, want 1: %q", n, lg.lines)
	}
	if n := lg.count("drained"); n != 0 {
		t.Errorf("logged drained while still full: %q", lg.lines)
	}
	if !strings.Contains(strings.Join(lg.lines, "\n"), "10000 bytes") {
		t.Errorf("the queue-full line does not name the byte bound: %q", lg.lines)
	}
}

// A Host header in a webhook's headers is the request's Host (an endpoint
// reached by address behind a name-based virtual host).
func TestHostHeaderIsSent(t *testing.T) {
	hosts := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		select {
		case hosts <- req.Host:
		default:
		}
	}))
	defer srv.Close()
	s := New(Options{BatchWait: time.Millisecond})
	defer s.Close()
	h := http.Header{}
	h.Set("Host", "shop.test")
	s.Add(Target{Name: "w", URL: srv.URL, Key: "key", Secret: "secret", Headers: h}).Push(ev(1))
	select {
	case got := <-hosts:
		if got != "shop.test" {
			t.Errorf("Host %q, want shop.test", got)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no request")
	}
}

// Close leaves no keep-alive connection open to an endpoint: a server
// replaced in the same process (a reload) does not keep its old sockets
// and their goroutines for the idle timeout.
func TestCloseClosesIdleConnections(t *testing.T) {
	var open, requests atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		requests.Add(1)
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	defer srv.Close()
	s := New(Options{BatchWait: time.Millisecond})
	q := s.Add(Target{Name: "w", URL: srv.URL, Key: "key", Secret: "secret"})
	q.Push(ev(1))
	waitFor(t, "the delivery", 2*time.Second, func() bool { return requests.Load() == 1 })
	if open.Load() != 1 {
		t.Fatalf("%d connections open", open.Load())
	}
	s.Close()
	waitFor(t, "the connection to close", 2*time.Second, func() bool { return open.Load() == 0 })
}
