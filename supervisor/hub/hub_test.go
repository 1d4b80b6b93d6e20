//go:build linux

package hub

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// socketPair returns both ends of a unix stream socketpair, the same kind of
// connection the supervisor hands its workers.
func socketPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) net.Conn {
		f := os.NewFile(uintptr(fd), "pair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	return conn(fds[0]), conn(fds[1])
}

type collector struct {
	mu   sync.Mutex
	msgs []string
	cond *sync.Cond
}

func newCollector() *collector {
	c := &collector{}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *collector) deliver(m []byte) {
	c.mu.Lock()
	c.msgs = append(c.msgs, string(m))
	c.cond.Broadcast()
	c.mu.Unlock()
}

// wait blocks until n messages arrived or the deadline passes.
func (c *collector) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	timer := time.AfterFunc(10*time.Second, func() { c.cond.Broadcast() })
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.msgs) < n && time.Now().Before(deadline) {
		c.cond.Wait()
	}
	if len(c.msgs) < n {
		t.Fatalf("got %d messages, want %d", len(c.msgs), n)
	}
	return append([]string(nil), c.msgs...)
}

type worker struct {
	client *Client
	got    *collector
	gone   chan error
	hello  chan string
}

func join(t *testing.T, r *Relay, id string, ev ClientEvents) *worker {
	t.Helper()
	sup, wrk := socketPair(t)
	w := &worker{got: newCollector(), gone: make(chan error, 1), hello: make(chan string, 1)}
	r.Attach(sup, Events{
		Hello: func(id string) { w.hello <- id },
		Gone:  func(err error) { w.gone <- err },
	})
	c, err := Dial(wrk, id, ev)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Start(context.Background(), w.got.deliver); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-w.hello:
		if got != id {
			t.Fatalf("hello %q, want %q", got, id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no hello")
	}
	w.client = c
	// Start's subscribe frame is read by the relay's own goroutine: wait
	// until it took effect, so the worker counts as a receiver of what the
	// test publishes next.
	deadline := time.Now().Add(5 * time.Second)
	for !r.subscribed(id) {
		if time.Now().After(deadline) {
			t.Fatalf("%q not subscribed", id)
		}
		time.Sleep(time.Millisecond)
	}
	return w
}

// subscribed reports whether a worker named id receives deliveries.
func (r *Relay) subscribed(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p := range r.peers {
		if p.nodeID == id {
			return true
		}
	}
	return false
}

func TestTotalOrderAndAckCounts(t *testing.T) {
	r := NewRelay(0, t.Logf)
	const workers, each = 3, 300
	ws := make([]*worker, workers)
	for i := range ws {
		ws[i] = join(t, r, fmt.Sprintf("node-%d", i), ClientEvents{})
	}
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				n, err := w.client.Publish(context.Background(), fmt.Appendf(nil, "%d/%d", i, j))
				if err != nil || n != workers {
					t.Errorf("Publish = %d, %v; want %d receivers", n, err, workers)
					return
				}
			}
		}()
	}
	wg.Wait()
	first := ws[0].got.wait(t, workers*each)
	for i, w := range ws[1:] {
		got := w.got.wait(t, workers*each)
		if fmt.Sprint(got) != fmt.Sprint(first) {
			t.Fatalf("worker %d saw another order than worker 0", i+1)
		}
	}
	// Each publisher's own messages keep their order.
	last := map[byte]int{}
	for _, m := range first {
		var i, j int
		fmt.Sscanf(m, "%d/%d", &i, &j)
		if prev, ok := last[byte(i)]; ok && j != prev+1 {
			t.Fatalf("publisher %d: %d after %d", i, j, prev)
		}
		last[byte(i)] = j
	}
}

func TestNodeGoneReachesTheOthers(t *testing.T) {
	r := NewRelay(0, t.Logf)
	a := join(t, r, "a", ClientEvents{})
	b := join(t, r, `b"quoted`, ClientEvents{})
	b.client.Close()
	select {
	case <-b.gone:
	case <-time.After(5 * time.Second):
		t.Fatal("relay did not notice the closed worker")
	}
	got := a.got.wait(t, 1)
	want := `{"type":"reverb-go:node_gone","node_id":"b\"quoted"}`
	if got[0] != want {
		t.Fatalf("got %s, want %s", got[0], want)
	}
	if n := r.Peers(); n != 1 {
		t.Fatalf("Peers = %d, want 1", n)
	}
	if n, err := a.client.Publish(context.Background(), []byte("x")); n != 1 || err != nil {
		t.Fatalf("Publish = %d, %v; want 1", n, err)
	}
}

func TestStuckWorkerIsDroppedWithoutStallingOthers(t *testing.T) {
	r := NewRelay(8, t.Logf)
	a := join(t, r, "a", ClientEvents{})
	// A worker that says hello and then never reads.
	sup, stuck := socketPair(t)
	gone := make(chan error, 1)
	hello := make(chan string, 1)
	r.Attach(sup, Events{Hello: func(id string) { hello <- id }, Gone: func(err error) { gone <- err }})
	bw := bufio.NewWriter(stuck)
	var hdr [5]byte
	writeFrame(bw, &hdr, FrameHello, []byte("stuck"))
	writeFrame(bw, &hdr, FrameSubscribe, nil)
	bw.Flush()
	<-hello

	big := bytes.Repeat([]byte("x"), 64<<10)
	const n = 200 // 12.8 MB: far beyond the socket buffer plus 8 frames
	start := time.Now()
	for i := range n {
		if _, err := a.client.Publish(context.Background(), big); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	a.got.wait(t, n)
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("stuck worker was not dropped")
	}
	if cnt, _ := a.client.Publish(context.Background(), []byte("after")); cnt != 1 {
		t.Fatalf("receivers after drop = %d, want 1", cnt)
	}
	t.Logf("%d x 64 KiB relayed past a stuck worker in %v", n, time.Since(start))
}

func TestUnsubscribedWorkerGetsNothingAndIsNotCounted(t *testing.T) {
	r := NewRelay(0, t.Logf)
	a := join(t, r, "a", ClientEvents{})
	sup, wrk := socketPair(t)
	hello := make(chan string, 1)
	r.Attach(sup, Events{Hello: func(id string) { hello <- id }})
	// A worker whose server uses Redis: hello for control, never Start.
	b, err := Dial(wrk, "redis-node", ClientEvents{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	<-hello
	if n, err := a.client.Publish(context.Background(), []byte("x")); n != 1 || err != nil {
		t.Fatalf("Publish = %d, %v; want 1 receiver", n, err)
	}
	if n, err := b.Publish(context.Background(), []byte("y")); n != 1 || err != nil {
		t.Fatalf("Publish from the unsubscribed worker = %d, %v; want 1 receiver", n, err)
	}
	if got := a.got.wait(t, 2); got[0] != "x" || got[1] != "y" {
		t.Fatalf("got %q", got)
	}
	if len(b.queue) != 0 {
		t.Fatalf("%d deliveries queued for an unsubscribed worker", len(b.queue))
	}
}

func TestPublishFromDeliverDoesNotDeadlock(t *testing.T) {
	r := NewRelay(0, t.Logf)
	sup, wrk := socketPair(t)
	r.Attach(sup, Events{})
	c, err := Dial(wrk, "solo", ClientEvents{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := newCollector()
	c.Start(context.Background(), func(m []byte) {
		// A metrics request answered from inside deliver, like the server does.
		if string(m) == "request" {
			if _, err := c.Publish(context.Background(), []byte("response")); err != nil {
				t.Error(err)
			}
		}
		got.deliver(m)
	})
	if _, err := c.Publish(context.Background(), []byte("request")); err != nil {
		t.Fatal(err)
	}
	msgs := got.wait(t, 2)
	if msgs[0] != "request" || msgs[1] != "response" {
		t.Fatalf("got %q", msgs)
	}
}

func TestDrainAndClosedEvents(t *testing.T) {
	r := NewRelay(0, t.Logf)
	drained := make(chan time.Duration, 1)
	paused := make(chan bool, 2)
	closed := make(chan error, 1)
	sup, wrk := socketPair(t)
	var peer *Peer
	hello := make(chan struct{})
	ready := make(chan struct{})
	fail := make(chan string, 1)
	gone := make(chan struct{})
	peer = r.Attach(sup, Events{
		Hello: func(string) { close(hello) },
		Ready: func() { close(ready) },
		Fail:  func(m string) { fail <- m },
		Gone:  func(error) { close(gone) },
	})
	c, err := Dial(wrk, "w", ClientEvents{
		Drain: func(d time.Duration, stop bool) {
			if stop {
				d = -d // a stop order, told apart from a drain's
			}
			drained <- d
		},
		PauseDrain: func(p bool) { paused <- p },
		Closed:     func(err error) { closed <- err },
	})
	if err != nil {
		t.Fatal(err)
	}
	<-hello
	if peer.NodeID() != "w" {
		t.Fatalf("NodeID = %q", peer.NodeID())
	}
	c.Ready()
	<-ready
	c.Fail("config/reverb.php:3: boom")
	if m := <-fail; m != "config/reverb.php:3: boom" {
		t.Fatalf("fail = %q", m)
	}
	if !peer.Drain(1500 * time.Millisecond) {
		t.Fatal("Drain reported a gone worker")
	}
	if d := <-drained; d != 1500*time.Millisecond {
		t.Fatalf("drain window %v", d)
	}
	if !peer.Stop(2500 * time.Millisecond) {
		t.Fatal("Stop reported a gone worker")
	}
	if d := <-drained; d != -2500*time.Millisecond {
		t.Fatalf("stop: window %v (negative for a stop)", -d)
	}
	if !peer.PauseDrain(true) || !peer.PauseDrain(false) {
		t.Fatal("PauseDrain reported a gone worker")
	}
	if p, q := <-paused, <-paused; !p || q {
		t.Fatalf("pause then resume arrived as %v, %v", p, q)
	}
	peer.Close()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("worker did not notice the supervisor closing")
	}
	if _, err := c.Publish(context.Background(), []byte("x")); err == nil {
		t.Fatal("Publish after close succeeded")
	}
	// The relay learns the worker left from its own read of the
	// connection, which may end after the worker noticed.
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the relay did not notice the connection ending")
	}
	if peer.Drain(time.Second) || peer.PauseDrain(true) {
		t.Fatal("Drain or PauseDrain to a gone worker reported success")
	}
}

func TestProtocolErrors(t *testing.T) {
	tests := []struct {
		name  string
		write func(bw *bufio.Writer, hdr *[5]byte)
	}{
		{"publish before hello", func(bw *bufio.Writer, hdr *[5]byte) { writeFrame(bw, hdr, FramePublish, []byte("x")) }},
		{"unknown type", func(bw *bufio.Writer, hdr *[5]byte) { writeFrame(bw, hdr, '?', nil) }},
		{"empty frame", func(bw *bufio.Writer, _ *[5]byte) { bw.Write([]byte{0, 0, 0, 0}) }},
		{"huge frame", func(bw *bufio.Writer, _ *[5]byte) { bw.Write([]byte{0xff, 0xff, 0xff, 0xff, 'P'}) }},
		{"subscribe before hello", func(bw *bufio.Writer, hdr *[5]byte) { writeFrame(bw, hdr, FrameSubscribe, nil) }},
		{"second hello", func(bw *bufio.Writer, hdr *[5]byte) {
			writeFrame(bw, hdr, FrameHello, []byte("a"))
			writeFrame(bw, hdr, FrameHello, []byte("b"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRelay(0, nil)
			sup, wrk := socketPair(t)
			gone := make(chan error, 1)
			r.Attach(sup, Events{Gone: func(err error) { gone <- err }})
			bw := bufio.NewWriter(wrk)
			var hdr [5]byte
			tt.write(bw, &hdr)
			bw.Flush()
			select {
			case err := <-gone:
				if err == nil {
					t.Fatal("protocol error ended the peer without an error")
				}
				t.Log(err)
			case <-time.After(5 * time.Second):
				t.Fatal("protocol error not detected")
			}
		})
	}
}

func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	var hdr [5]byte
	writeFrame(bw, &hdr, FramePublish, []byte(`{"type":"message"}`))
	writeFrame(bw, &hdr, FrameReady, nil)
	bw.Flush()
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 9, 'P', 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		var sc scratch
		var hdr [5]byte
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		consumed := 0
		for {
			typ, payload, err := readFrame(br, &sc)
			if err != nil {
				break
			}
			consumed += 5 + len(payload)
			if err := writeFrame(w, &hdr, typ, payload); err != nil {
				t.Fatal(err)
			}
		}
		w.Flush()
		// Whatever decoded re-encodes to the same bytes.
		if !bytes.Equal(out.Bytes(), data[:consumed]) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// BenchmarkRelay publishes from one worker to two subscribed workers (the
// publisher included) and waits for every delivery: the bus cost per event.
func BenchmarkRelay(b *testing.B) {
	r := NewRelay(0, nil)
	var got [2]chan struct{}
	var clients [2]*Client
	for i := range clients {
		sup, wrk := socketPair(b)
		r.Attach(sup, Events{})
		c, err := Dial(wrk, fmt.Sprint(i), ClientEvents{})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		ch := make(chan struct{}, 1024)
		got[i] = ch
		c.Start(context.Background(), func([]byte) { ch <- struct{}{} })
		clients[i] = c
	}
	for r.Peers() < 2 {
		time.Sleep(time.Millisecond)
	}
	msg := bytes.Repeat([]byte("x"), 256)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := clients[0].Publish(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
		<-got[0]
		<-got[1]
	}
}

// A worker counts the deliveries it took in, delivered or still queued,
// in the order its server numbers them.
func TestClientCountsDeliveries(t *testing.T) {
	r := NewRelay(0, t.Logf)
	a := join(t, r, "a", ClientEvents{})
	b := join(t, r, "b", ClientEvents{})
	for i := range 5 {
		if _, err := a.client.Publish(context.Background(), fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	b.got.wait(t, 5)
	if n, ok := b.client.Received(); !ok || n != 5 {
		t.Fatalf("Received() = %d, %v; want 5, true", n, ok)
	}
}

// Close stops delivery: once it returns, deliver is not called again, even
// with messages still queued (the server closes its state after its
// transport).
func TestNoDeliveryAfterClose(t *testing.T) {
	r := NewRelay(0, t.Logf)
	var mu sync.Mutex
	delivered := 0
	release := make(chan struct{})
	inFirst := make(chan struct{})
	b := join(t, r, "b", ClientEvents{})
	// a's deliver holds the first message until released.
	sup, wrk := socketPair(t)
	r.Attach(sup, Events{})
	ca, err := Dial(wrk, "a", ClientEvents{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Start(context.Background(), func([]byte) {
		mu.Lock()
		delivered++
		first := delivered == 1
		mu.Unlock()
		if first {
			close(inFirst)
			<-release
		}
	}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !r.subscribed("a"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not subscribed")
		}
	}
	const n = 50
	for i := 0; i < n; i++ {
		if _, err := b.client.Publish(context.Background(), []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if got, _ := ca.Received(); got == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the messages did not arrive")
		}
	}
	<-inFirst // Close comes while a delivery is in progress
	closed := make(chan struct{})
	go func() { ca.Close(); close(closed) }()
	time.Sleep(20 * time.Millisecond)
	close(release)
	<-closed
	mu.Lock()
	atClose := delivered
	mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if delivered != atClose || delivered != 1 {
		t.Fatalf("%d delivered when Close returned, %d after; want the one in progress only", atClose, delivered)
	}
}
